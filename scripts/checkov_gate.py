#!/usr/bin/env python3
"""Judge a checkov JSON report: checkov itself exits 0 on a Bicep parse error
and counts a reasonless waiver as skipped, so the verdict is made here.

Fails when: the report is missing or not checkov's; nothing was scanned; any
file did not parse; any check failed; a waiver (`checkov:skip=ID: reason`)
has no reason; or a waiver in a scanned file suppresses nothing (stale).

Usage: checkov_gate.py REPORT.json ROOT [SCANNED...]
  ROOT: where checkov's relative paths start; SCANNED: the files and
  directories given to checkov (default ROOT), searched for stale waivers.
"""
import json
import os
import pathlib
import re
import sys

NO_REASON = {"", "no comment provided"}
# Files whose waivers are checked for staleness; not below these directories.
WAIVABLE = re.compile(r"(\.bicep|Dockerfile[^/]*)$")
PRUNE = {".git", ".tools", "target", "node_modules"}
SKIP = re.compile(r"checkov:skip=([A-Za-z0-9_]+)")


def reports(data):
    # One framework gives an object, several give a list of them.
    if isinstance(data, dict):
        return [data]
    if isinstance(data, list):
        return data
    return []


def waivable(paths):
    for path in paths:
        if path.is_file():
            if WAIVABLE.search(path.name):
                yield path
            continue
        for d, dirs, files in os.walk(path):
            dirs[:] = [x for x in dirs if x not in PRUNE]
            for f in files:
                if WAIVABLE.search(f):
                    yield pathlib.Path(d) / f


def main(report_path, scanned_dir, scanned=()):
    problems = []
    try:
        data = json.loads(pathlib.Path(report_path).read_text())
    except (OSError, ValueError) as e:
        print(f"checkov gate: no usable report: {e}", file=sys.stderr)
        return 1
    runs = [r for r in reports(data) if "summary" in r]
    if not runs:
        print("checkov gate: the report has no summary (did checkov run?)", file=sys.stderr)
        return 1

    root = pathlib.Path(scanned_dir).resolve()

    def rel(path):
        # checkov names unparsed files by absolute path, others from the root.
        p = pathlib.Path(path)
        try:
            return p.resolve().relative_to(root).as_posix() if p.is_absolute() else path.lstrip("/")
        except ValueError:
            return path

    totals = {"passed": 0, "failed": 0, "skipped": 0, "parsing_errors": 0, "resource_count": 0}
    waived = set()
    unparsed = set()
    for run in runs:
        summary = run["summary"]
        for k in totals:
            totals[k] += int(summary.get(k, 0))
        results = run.get("results", {})
        for path in results.get("parsing_errors", []):
            unparsed.add(rel(path))
            problems.append(f"parse error: {rel(path)}")
        for c in results.get("failed_checks", []):
            problems.append(
                f"failed {c['check_id']} ({c['check_name']}) on {c['resource']} "
                f"in {c['file_path']}:{c['file_line_range'][0]}"
            )
        for c in results.get("skipped_checks", []):
            reason = (c.get("check_result") or {}).get("suppress_comment") or ""
            waived.add((c["file_path"].lstrip("/"), c["check_id"]))
            if reason.strip().lower() in NO_REASON:
                problems.append(
                    f"waiver without a reason: {c['check_id']} on {c['resource']} in {c['file_path']}"
                )

    if totals["parsing_errors"] and not any(p.startswith("parse error") for p in problems):
        problems.append(f"parse errors: {totals['parsing_errors']} (files not listed by checkov)")
    for run in runs:
        s = run["summary"]
        if not (s.get("resource_count") or s.get("passed") or s.get("failed") or s.get("skipped")):
            problems.append(f"nothing scanned by {run.get('check_type')} (wrong path or framework?)")

    # A waiver that suppresses nothing hides nothing today but will hide a
    # real finding tomorrow; keep the list honest.
    paths = [(root / p).resolve() for p in scanned] or [root]
    for f in sorted(set(waivable(paths))):
        name = f.relative_to(root).as_posix()
        if name in unparsed:
            continue
        for n, line in enumerate(f.read_text().splitlines(), 1):
            for check_id in SKIP.findall(line):
                if (name, check_id) not in waived:
                    problems.append(f"stale waiver: {check_id} in {name}:{n} suppresses nothing")

    print(
        "checkov: {passed} passed, {failed} failed, {skipped} skipped (waived with a reason), "
        "{parsing_errors} parse errors, {resource_count} resources".format(**totals)
    )
    for p in problems:
        print(f"  {p}", file=sys.stderr)
    if problems:
        print(f"checkov gate: FAILED ({len(problems)} problems)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2], sys.argv[3:]))
