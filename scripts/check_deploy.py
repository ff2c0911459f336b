#!/usr/bin/env python3
"""Cross-checks the deploy artifacts against what the binary reads.

- Every YAML file in the repository parses.
- Every setting name that targets the binary (BOT_*, BOT__SECTION__KEY,
  MicrosoftApp*) in deploy/, .github/workflows/ and infra/ is one it reads:
  the keys of config/default.toml and config/regions/*.toml (read now, not a
  list kept here) as BOT__SECTION__KEY, plus BOT_REGION, BOT_CONFIG_DIR, PORT
  and the Bot Framework names. Keys listed in deploy/pending-config-keys.txt
  are accepted with a note.
- Every region named there has a config/regions/<region>.toml.
- The pipelines deploy the environment's secondary region first, then the
  primary, as infra/env/<env>.parameters.json names them.
- Safe releases: `image` has no default in any Bicep file; the release sets
  the image on the staging slot only, smoke-tests it, then swaps; the
  secondary goes first as the passive region and the primary second as the
  active one, whose release takes it out of the router before the swap and
  puts it back after.
- Health: App Service's health check is /healthz, the bot's routers (Traffic
  Manager, Front Door) probe /readyz, Traffic Manager's probe timeout is
  within 5-9 s.
- Every alert (metric, log query, Event Grid to Azure Monitor) notifies an
  action group; each environment's global region is neither stamp region.
- The image maps PORT to BOT__SERVER__LISTEN; the deploy scripts pass bash -n.

Usage: check_deploy.py [--root DIR] [--self-test]
"""
import argparse
import difflib
import json
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib

import yaml

FIXED = {
    "BOT_REGION", "BOT_CONFIG_DIR", "PORT",
    "MicrosoftAppId", "MicrosoftAppPassword", "MicrosoftAppType", "MicrosoftAppTenantId",
}
SKIP_DIRS = {".git", ".tools", "target", "node_modules", "data", ".run"}
# A name that targets the binary: BOT_... or MicrosoftApp... (any case of "app").
NAME_RE = re.compile(r"\b(BOT_[A-Za-z0-9_]*[A-Za-z0-9]|Microsoft[Aa][Pp][Pp][A-Za-z]*)\b")
# A region given as a literal: BOT_REGION=x, BOT_REGION: x, a Bicep setting, the
# region argument of a smoke test.
REGION_RES = [
    re.compile(r"BOT_REGION=[\"']?([A-Za-z0-9_-]+)"),
    re.compile(r"^\s*BOT_REGION:\s*[\"']?([A-Za-z0-9_-]+)"),
    re.compile(r"name:\s*'BOT_REGION'\s*,?\s*value:\s*'([^']*)'"),
    re.compile(r"smoke(?:-router)?\.sh\s+(?:\"[^\"]*\"|\S+)\s+([a-z0-9]+)(?=\s|$)"),
]
# Comments may name placeholders (BOT__SECTION__KEY) and usage lines.
COMMENT = re.compile(r"^\s*(#|//)")
REGION_KEY = re.compile(r"(?i)^(bot_)?region$|Region$")


def leaves(table, prefix=""):
    for k, v in table.items():
        path = f"{prefix}{k}"
        if isinstance(v, dict):
            yield from leaves(v, path + ".")
        else:
            yield path


def env_name(dotted):
    return "BOT__" + "__".join(p.upper() for p in dotted.split("."))


class Check:
    def __init__(self, root):
        self.root = pathlib.Path(root)
        self.problems = []
        self.notes = []

    def rel(self, path):
        return path.relative_to(self.root).as_posix()

    def problem(self, msg):
        self.problems.append(msg)

    # What the binary reads, from the files as they are now.
    def load_config(self):
        config = self.root / "config"
        files = [config / "default.toml", *sorted((config / "regions").glob("*.toml"))]
        keys = set()
        for f in files:
            try:
                keys |= set(leaves(tomllib.loads(f.read_text())))
            except (OSError, tomllib.TOMLDecodeError) as e:
                self.problem(f"{self.rel(f)}: {e}")
        self.keys = {env_name(k): k for k in keys}
        self.regions = {f.stem for f in (config / "regions").glob("*.toml")} - {"local"}
        self.pending = {}
        pending_file = self.root / "deploy" / "pending-config-keys.txt"
        if pending_file.exists():
            for line in pending_file.read_text().splitlines():
                fields = line.split("#", 1)[0].split()
                if not fields:
                    continue
                key, env_only = fields[0], fields[1:] == ["env-only"]
                section = key.rsplit(".", 1)[0]
                if env_name(key) in self.keys:
                    self.notes.append(
                        f"{key} is in config now: remove it from deploy/pending-config-keys.txt"
                    )
                elif not env_only and any(k.startswith(section + ".") for k in self.keys.values()):
                    # The section landed without this key: the name guessed
                    # here is wrong, and the setting would be ignored.
                    self.problem(
                        f"deploy/pending-config-keys.txt: config has [{section}] but no "
                        f"{key.rsplit('.', 1)[1]}; rename the setting to a key it has"
                    )
                else:
                    self.pending[env_name(key)] = key
        self.used_pending = set()

    def files(self, *patterns):
        out = []
        for pattern in patterns:
            for f in sorted(self.root.glob(pattern)):
                if f.is_file() and not SKIP_DIRS & set(f.relative_to(self.root).parts):
                    out.append(f)
        return out

    def check_yaml_parses(self):
        self.yaml = {}
        for f in self.files("**/*.yml", "**/*.yaml"):
            try:
                self.yaml[self.rel(f)] = list(yaml.safe_load_all(f.read_text()))
            except yaml.YAMLError as e:
                self.problem(f"{self.rel(f)}: not valid YAML: {e}".replace("\n", " "))

    def check_region(self, value, where):
        if value not in self.regions:
            self.problem(
                f"{where}: region '{value}' has no config/regions/{value}.toml "
                f"(regions: {', '.join(sorted(self.regions))})"
            )
        return value

    def check_names_and_regions(self):
        self.names = set()
        scanned = self.files("deploy/**/*", ".github/workflows/*", "infra/**/*.bicep", "infra/env/*.json")
        known = set(self.keys) | FIXED
        for f in scanned:
            if f.name == "pending-config-keys.txt":
                continue
            for n, line in enumerate(f.read_text().splitlines(), 1):
                if COMMENT.match(line):
                    continue
                where = f"{self.rel(f)}:{n}"
                for name in NAME_RE.findall(line):
                    self.names.add(name)
                    if name in known:
                        continue
                    if name in self.pending:
                        self.used_pending.add(self.pending[name])
                        continue
                    hint = difflib.get_close_matches(name, sorted(known | set(self.pending)), n=1)
                    self.problem(
                        f"{where}: {name} is not a setting the binary reads"
                        + (f" (did you mean {hint[0]}?)" if hint else "")
                    )
                for region_re in REGION_RES:
                    for value in region_re.findall(line):
                        self.check_region(value, where)
        # Structured region values: YAML keys and parameter files.
        for name, docs in self.yaml.items():
            if name.startswith(("deploy/", ".github/workflows/")):
                for key, value in walk(docs):
                    if REGION_KEY.search(key) and isinstance(value, str) and "$" not in value:
                        self.check_region(value, f"{name}: {key}")
        self.envs = {}
        for f in self.files("infra/env/*.json"):
            try:
                params = json.loads(f.read_text())["parameters"]
            except (ValueError, KeyError) as e:
                self.problem(f"{self.rel(f)}: not a parameter file: {e}")
                continue
            for key in ("primaryRegion", "secondaryRegion"):
                if key not in params:
                    self.problem(f"{self.rel(f)}: no {key}")
                else:
                    self.check_region(params[key]["value"], f"{self.rel(f)}: {key}")
            if "name" in params:
                self.envs[params["name"]["value"]] = params

    def check_order(self):
        """Both pipelines deploy the secondary region first, then the primary."""
        azp = self.yaml.get("deploy/azure-pipelines.yml")
        if azp:
            pipeline = azp[0]
            env = (pipeline.get("variables") or {}).get("envName")
            stages = [
                s["parameters"]["region"]
                for s in pipeline.get("stages", [])
                if "template" in s and "region" in s.get("parameters", {})
            ]
            deps = {
                s["parameters"]["region"]: s["parameters"].get("dependsOn", [])
                for s in pipeline.get("stages", [])
                if "template" in s and "region" in s.get("parameters", {})
            }
            self.order_matches("deploy/azure-pipelines.yml", env, stages,
                               lambda a, b: f"deploy_{b}" in deps.get(a, []))
        gha = self.yaml.get(".github/workflows/deploy.yml")
        if gha:
            jobs = gha[0].get("jobs", {})
            regional = {
                job["with"]["region"]: (jid, job)
                for jid, job in jobs.items()
                if "deploy-region.yml" in str(job.get("uses", ""))
            }
            envs = {job["with"].get("env-name") for _, job in regional.values()}
            env = envs.pop() if len(envs) == 1 else None

            def needs(a, b):
                need = regional[a][1].get("needs", [])
                need = [need] if isinstance(need, str) else need
                return regional[b][0] in need

            self.order_matches(".github/workflows/deploy.yml", env, list(regional), needs)

    def order_matches(self, name, env, regions, depends):
        params = self.envs.get(env)
        if params is None:
            self.problem(f"{name}: environment '{env}' has no infra/env/*.parameters.json")
            return
        primary = params["primaryRegion"]["value"]
        secondary = params["secondaryRegion"]["value"]
        if regions != [secondary, primary]:
            self.problem(
                f"{name}: deploys {regions}, expected the secondary first: [{secondary}, {primary}]"
            )
        elif not depends(primary, secondary):
            self.problem(f"{name}: the {primary} deploy does not wait for {secondary}")

    def bicep(self):
        return {self.rel(f): f.read_text() for f in self.files("infra/**/*.bicep")}

    def check_releases(self):
        """image without default; staging slot, smoke, swap; passive first."""
        for name, text in self.bicep().items():
            for m in re.finditer(r"^\s*param\s+image\s+string\s*=.*$", text, re.M):
                self.problem(f"{name}: `{m.group(0).strip()}`: image must have no default "
                             "(an infra run would point the apps at it)")
        for name in ("deploy/templates/deploy-region.yml", ".github/workflows/deploy-region.yml"):
            f = self.root / name
            if not f.exists():
                self.problem(f"{name}: missing")
                continue
            text = f.read_text()
            code = "\n".join(l for l in text.splitlines() if not COMMENT.match(l))
            for line in re.findall(r"az webapp config container set(?:[^\n]*\\\n)*[^\n]*", code):
                if "--slot staging" not in line:
                    self.problem(f"{name}: sets the image outside the staging slot: {' '.join(line.split())}")
            steps = {
                "staging image": code.find("--slot staging --container-image-name"),
                "smoke test": code.find("deploy/smoke.sh"),
                "router disable": code.find("router-endpoint.sh disable"),
                "swap": code.find("slot swap"),
                "router enable": code.find("router-endpoint.sh enable"),
            }
            for step, at in steps.items():
                if at < 0:
                    self.problem(f"{name}: no {step} step")
            order = [k for k, v in sorted(steps.items(), key=lambda kv: kv[1]) if v >= 0]
            if all(v >= 0 for v in steps.values()) and order != list(steps):
                self.problem(f"{name}: steps run as {order}, expected {list(steps)}")
            if "az webapp config appsettings set" in code:
                self.problem(f"{name}: sets app settings; they are the Bicep's (on the staging slot)")

    def check_roles(self):
        """The secondary is released as the passive region, the primary as the active."""
        found = {}
        azp = self.yaml.get("deploy/azure-pipelines.yml")
        if azp:
            pipeline = azp[0]
            env = (pipeline.get("variables") or {}).get("envName")
            found["deploy/azure-pipelines.yml"] = (env, {
                s["parameters"]["region"]: s["parameters"].get("role")
                for s in pipeline.get("stages", [])
                if "template" in s and "region" in s.get("parameters", {})
            })
        gha = self.yaml.get(".github/workflows/deploy.yml")
        if gha:
            jobs = [j for j in gha[0].get("jobs", {}).values() if "deploy-region.yml" in str(j.get("uses", ""))]
            envs = {j["with"].get("env-name") for j in jobs}
            found[".github/workflows/deploy.yml"] = (
                envs.pop() if len(envs) == 1 else None,
                {j["with"]["region"]: j["with"].get("role") for j in jobs},
            )
        for name, (env, roles) in found.items():
            params = self.envs.get(env)
            if params is None:
                continue
            want = {params["secondaryRegion"]["value"]: "passive", params["primaryRegion"]["value"]: "active"}
            for region, role in want.items():
                if roles.get(region) != role:
                    self.problem(f"{name}: {region} is released with role {roles.get(region)!r}, "
                                 f"expected {role!r} (the passive region goes first)")

    def check_health(self):
        bicep = self.bicep()
        for name, text in bicep.items():
            for path in re.findall(r"healthCheckPath:\s*'([^']*)'", text):
                if path != "/healthz":
                    self.problem(f"{name}: App Service health check on {path}, expected /healthz "
                                 "(liveness; /readyz is the router's)")
        probes = {
            "infra/global/traffic-manager.bicep": r"monitorConfig:\s*\{[^}]*?path:\s*'([^']*)'",
            "infra/global/front-door.bicep": r"probePath:\s*'([^']*)'",
        }
        for name, pattern in probes.items():
            text = bicep.get(name)
            if text is None:
                self.problem(f"{name}: missing")
                continue
            paths = re.findall(pattern, text, re.S)
            if not paths:
                self.problem(f"{name}: no probe path found")
            for path in paths:
                if path != "/readyz":
                    self.problem(f"{name}: the router probes {path}, expected /readyz")
        tm = bicep.get("infra/global/traffic-manager.bicep", "")
        m = re.search(r"((?:@\w+\([^)]*\)\s*)*)param\s+probeTimeoutSeconds\s+int\s*=\s*(\d+)", tm)
        if not m:
            self.problem("infra/global/traffic-manager.bicep: no probeTimeoutSeconds parameter")
        else:
            lo = re.search(r"@minValue\((\d+)\)", m.group(1))
            hi = re.search(r"@maxValue\((\d+)\)", m.group(1))
            default = int(m.group(2))
            if not (lo and hi and 5 <= int(lo.group(1)) and int(hi.group(1)) <= 9 and 5 <= default <= 9):
                self.problem("infra/global/traffic-manager.bicep: probeTimeoutSeconds must be "
                             "bounded to 5-9 s (@minValue/@maxValue) with a default in range")

    def check_alerts(self):
        """Every alert resource names an action group."""
        self.alerts = 0
        kinds = ("Microsoft.Insights/metricAlerts", "Microsoft.Insights/scheduledQueryRules",
                 "Microsoft.Insights/activityLogAlerts")
        for name, text in self.bicep().items():
            vars_ = {m.group(1): block(text, m.end() - 1) for m in re.finditer(r"^var\s+(\w+)\s*=\s*\[", text, re.M)}
            for m in re.finditer(r"^resource\s+(\w+)\s+'([^@']+)@[^']*'[^{]*\{", text, re.M):
                res, kind = m.group(1), m.group(2)
                body = block(text, m.end() - 1)
                if kind in kinds:
                    self.alerts += 1
                    a = re.search(r"^\s*actions:\s*(\w+)\s*$", body, re.M)
                    actions = vars_.get(a.group(1), "") if a else body
                    if not re.search(r"actionGroupId:\s*actionGroupId|actionGroups:\s*\[\s*actionGroupId", actions):
                        self.problem(f"{name}: alert {res} ({kind}) has no action group (actionGroupId)")
                elif "endpointType: 'MonitorAlert'" in body:
                    self.alerts += 1
                    if not re.search(r"actionGroups:\s*\[\s*actionGroupId", body):
                        self.problem(f"{name}: alert {res} (Event Grid to Azure Monitor) has no action group")
            if re.search(r"^\s*param\s+actionGroupId\s+string\s*=", text, re.M):
                self.problem(f"{name}: actionGroupId has a default; alerts must go to the one given")
        for env, params in self.envs.items():
            g = params.get("globalRegion", {}).get("value")
            stamps = {params["primaryRegion"]["value"], params["secondaryRegion"]["value"]}
            if g is None or g in stamps:
                self.problem(f"infra/env: {env}: globalRegion {g!r} must be set and be neither stamp region "
                             f"({', '.join(sorted(stamps))})")
            if not params.get("actionGroupId", {}).get("value"):
                self.problem(f"infra/env: {env}: no actionGroupId")

    def check_image(self):
        docker = self.root / "deploy" / "Dockerfile"
        entry = self.root / "deploy" / "entrypoint.sh"
        text = docker.read_text() if docker.exists() else ""
        for want in ("COPY config/", "COPY kb/", "USER ", "/usr/local/bin/botctl"):
            if want not in text:
                self.problem(f"deploy/Dockerfile: no '{want}'")
        # The image's encoder: its KB snapshots must be compiled with one, or
        # every instance retrains at start (11 s, 85 MB) because a snapshot
        # is keyed by the encoder's contents; and the model must be where the
        # setting points, or the start fails.
        enc = re.search(r"BOT__QNA__ENCODER_DIR=(\S+)", text)
        if enc:
            compiles = re.findall(r"botctl kb compile[^;&\n]*", text)
            if not compiles or any("--encoder-dir" not in c for c in compiles):
                self.problem("deploy/Dockerfile: sets BOT__QNA__ENCODER_DIR but compiles a KB "
                             "snapshot without --encoder-dir")
            dest = enc.group(1).rstrip("/")
            if not re.search(r"^COPY\s.*\s" + re.escape(dest) + r"/?\s*$", text, re.M):
                self.problem(f"deploy/Dockerfile: BOT__QNA__ENCODER_DIR is {dest}, but nothing is "
                             "copied there")
        script = entry.read_text() if entry.exists() else ""
        if not re.search(r"BOT__SERVER__LISTEN:=0\.0\.0\.0:\$\{PORT", script):
            self.problem("deploy/entrypoint.sh: does not map PORT to BOT__SERVER__LISTEN")
        stamp = self.root / "infra" / "stamp" / "stamp.bicep"
        if "name: 'BOT_REGION'" not in (stamp.read_text() if stamp.exists() else ""):
            self.problem("infra/stamp/stamp.bicep: the web app does not set BOT_REGION")

    def check_shell(self):
        for f in self.files("deploy/**/*.sh"):
            res = subprocess.run(["bash", "-n", str(f)], capture_output=True, text=True)
            if res.returncode != 0:
                self.problem(f"{self.rel(f)}: bash -n: {res.stderr.strip()}")

    def run(self):
        self.load_config()
        self.check_shell()
        self.check_yaml_parses()
        self.check_names_and_regions()
        self.check_order()
        self.check_releases()
        self.check_roles()
        self.check_health()
        self.check_alerts()
        self.check_image()
        return self


def block(text, brace):
    """The text from the bracket at `brace` to its match (strings skipped)."""
    pairs = {"{": "}", "[": "]"}
    depth, i, quote = 0, brace, False
    while i < len(text):
        c = text[i]
        if quote:
            if c == "'":
                quote = False
        elif c == "'":
            quote = True
        elif c in pairs:
            depth += 1
        elif c in pairs.values():
            depth -= 1
            if depth == 0:
                return text[brace:i + 1]
        i += 1
    return text[brace:]


def walk(node, key=""):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from walk(v, str(k))
    elif isinstance(node, list):
        for v in node:
            yield from walk(v, key)
    else:
        yield key, node


def report(check):
    print(
        f"deploy: {len(check.yaml)} YAML files parse; {len(check.names)} setting names checked "
        f"against {len(check.keys)} config keys; regions {', '.join(sorted(check.regions))}; "
        f"{check.alerts} alerts with an action group; slot releases passive first"
    )
    if check.used_pending:
        print("  note: set before config has them (deploy/pending-config-keys.txt): "
              + ", ".join(sorted(check.used_pending)))
    for n in check.notes:
        print(f"  note: {n}")
    for p in check.problems:
        print(f"  {p}", file=sys.stderr)
    if check.problems:
        print(f"check_deploy: FAILED ({len(check.problems)} problems)", file=sys.stderr)
        return 1
    return 0


# Each case breaks a copy of the repository one way; the check must say so.
CASES = [
    ("a misspelt region variable", "deploy/local/stack",
     "BOT_REGION=$3", "BOT_REGON=$3", "BOT_REGON is not a setting"),
    ("a misspelt Bicep app setting", "infra/stamp/stamp.bicep",
     "'BOT__LOG__FORMAT'", "'BOT__LOG__FORMT'", "BOT__LOG__FORMT is not a setting"),
    ("a Bot Framework name in the wrong case", "deploy/Dockerfile",
     "ENV BOT_CONFIG_DIR", "ENV MicrosoftAppID=x BOT_CONFIG_DIR", "MicrosoftAppID is not a setting"),
    ("a region with no region file", "deploy/azure-pipelines.yml",
     "region: centralus", "region: westeurope", "region 'westeurope' has no"),
    ("the primary deployed first", "infra/env/prod.parameters.json",
     '"secondaryRegion": { "value": "centralus" }', '"secondaryRegion": { "value": "eastus2" }',
     "expected the secondary first"),
    ("a region with no region file, as a smoke-test argument", ".github/workflows/deploy.yml",
     '"$(out routerHostName)" eastus2', '"$(out routerHostName)" westus9', "region 'westus9' has no"),
    ("a shell syntax error", "deploy/smoke.sh", "fi\n", "fi fi\n", "deploy/smoke.sh: bash -n"),
    ("a YAML syntax error", ".github/workflows/deploy.yml",
     "permissions:", "permissions: [unclosed", "not valid YAML"),
    ("a pending key whose section landed under other names", "deploy/pending-config-keys.txt",
     "telemetry.export_blob.managed_identity_client_id env-only",
     "telemetry.export_blob.managed_identity_client_id env-only\ntelemetry.export_blob.account",
     "config has [telemetry.export_blob] but no account;"),
    ("a config key removed from default.toml", "config/default.toml",
     'format = "text"', "", "BOT__LOG__FORMAT is not a setting"),
    ("the image's KB snapshots compiled without its encoder", "deploy/Dockerfile",
     " --encoder-dir /encoder;", ";", "compiles a KB snapshot without --encoder-dir"),
    ("the image's encoder setting naming a directory nothing is copied to", "deploy/Dockerfile",
     "BOT__QNA__ENCODER_DIR=/app/encoder/all-MiniLM-L6-v2", "BOT__QNA__ENCODER_DIR=/app/encoder/minilm",
     "BOT__QNA__ENCODER_DIR is /app/encoder/minilm, but nothing is copied there"),
    ("botctl left out of the image", "deploy/Dockerfile",
     "COPY --from=build /botctl /usr/local/bin/botctl", "", "no '/usr/local/bin/botctl'"),
    ("an image with a default", "infra/main.bicep",
     "param image string\n", "param image string = 'bot-api:latest'\n", "image must have no default"),
    ("an image with a default in a stamp", "infra/stamp/stamp.bicep",
     "param image string\n", "param image string = 'bot-api:bootstrap'\n", "image must have no default"),
    ("the image set on the production slot", "deploy/templates/deploy-region.yml",
     "--slot staging --container-image-name", "--container-image-name", "sets the image outside the staging slot"),
    ("the staging slot's smoke test removed", ".github/workflows/deploy-region.yml",
     "deploy/smoke.sh \"https://$host\" \"$REGION\"", "true",
     "no smoke test step"),
    ("the active region never taken out of the router", "deploy/templates/deploy-region.yml",
     "router-endpoint.sh disable", "router-endpoint.sh enable-x", "no router disable step"),
    ("the primary released as the passive region", "deploy/azure-pipelines.yml",
     "role: active", "role: passive", "eastus2 is released with role 'passive', expected 'active'"),
    ("the secondary released as the active region", ".github/workflows/deploy.yml",
     "role: passive", "role: active", "centralus is released with role 'active', expected 'passive'"),
    ("App Service health on /readyz", "infra/stamp/stamp.bicep",
     "healthCheckPath: '/healthz'", "healthCheckPath: '/readyz'", "App Service health check on /readyz"),
    ("Traffic Manager probing /healthz", "infra/global/traffic-manager.bicep",
     "path: '/readyz'", "path: '/healthz'", "the router probes /healthz"),
    ("Front Door probing /", "infra/global/front-door.bicep",
     "probePath: '/readyz'", "probePath: '/'", "the router probes /, expected /readyz"),
    ("a probe timeout of 10 s", "infra/global/traffic-manager.bicep",
     "@maxValue(9)", "@maxValue(10)", "probeTimeoutSeconds must be bounded to 5-9 s"),
    ("a metric alert without an action group", "infra/global/alerts.bicep",
     "    actions: actions\n", "    actions: []\n", "has no action group"),
    ("a log alert without an action group", "infra/global/alerts.bicep",
     "actionGroups: [actionGroupId]", "actionGroups: []", "alert readiness"),
    ("the global group in the primary region", "infra/env/prod.parameters.json",
     '"globalRegion": { "value": "westus3" }', '"globalRegion": { "value": "eastus2" }',
     "globalRegion 'eastus2' must be set and be neither stamp region"),
]


def self_test(root):
    root = pathlib.Path(root)
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        for label, rel, old, new, expect in [("the unchanged copy", None, None, None, None)] + CASES:
            copy = pathlib.Path(tmp) / "repo"
            shutil.rmtree(copy, ignore_errors=True)
            for part in ("config", "deploy", "infra", ".github"):
                shutil.copytree(root / part, copy / part, ignore=shutil.ignore_patterns(*SKIP_DIRS))
            if rel:
                target = copy / rel
                text = target.read_text()
                if old not in text:
                    print(f"self-test: cannot set up '{label}': '{old}' not in {rel}", file=sys.stderr)
                    failures += 1
                    continue
                target.write_text(text.replace(old, new, 1))
            check = Check(copy).run()
            found = "\n".join(check.problems)
            if expect is None:
                ok = not check.problems
            else:
                ok = bool(check.problems) and expect in found
            print(f"self-test: {label}: {'caught' if expect and ok else 'passes' if ok else 'MISSED'}")
            if not ok:
                print("  " + (found or "no problems reported"), file=sys.stderr)
                failures += 1
    if failures:
        print(f"check_deploy: self-test FAILED ({failures})", file=sys.stderr)
    return 1 if failures else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default=pathlib.Path(__file__).resolve().parent.parent)
    ap.add_argument("--self-test", action="store_true")
    args = ap.parse_args()
    if args.self_test:
        return self_test(args.root)
    return report(Check(args.root).run())


if __name__ == "__main__":
    sys.exit(main())
