#!/usr/bin/env bash
# The deployment step that creates the answer services' projects from the
# repository, in both regions:
#   CQA: the KB file (kb/sample.tsv unless KB_FILE) as CQA JSON, written by the
#        release image's `botctl kb export` (the KB code the bot answers
#        with), imported into region A's project and deployed; then
#        `botctl kb sync --kind cqa` copies it to region B, deploys it there
#        and asks both the same sampled questions (exit 1 on any difference),
#        the code the scheduled sync job runs.
#   CLU: lu/intents.json (the embedded recogniser's intents) as a CLU
#        conversation project, imported, trained and deployed in each region.
#
# Usage: deploy/language-projects.sh IMAGE
# Needs: INFRA_DEPLOYMENT, an az login that reads the deployment's outputs and
# the vault's LanguageKey-<region> secrets, docker (pulls IMAGE), curl, jq.
# Keys travel in headers and environment variables only, never arguments.
set -euo pipefail
cd "$(dirname "$0")/.."

image=${1:?usage: language-projects.sh IMAGE}
deployment=${INFRA_DEPLOYMENT:?set INFRA_DEPLOYMENT}
kb_file=${KB_FILE:-kb/sample.tsv}
cqa_api=2021-10-01
clu_api=2023-04-01
work=$(mktemp -d)
chmod 0700 "$work"
trap 'rm -rf "$work"' EXIT

out() { az deployment sub show -n "$deployment" --query "properties.outputs.$1.value" -o tsv; }
vault=$(out keyVaultName)
qna_project=$(out qnaProject)
clu_project=$(out cluProject)
slot=$(out languageDeployment)
regions=("$(out primaryRegion)" "$(out secondaryRegion)")
endpoints=("$(out primaryLanguageEndpoint)" "$(out secondaryLanguageEndpoint)")
keys=()
for r in "${regions[@]}"; do
    keys+=("$(az keyvault secret show --vault-name "$vault" -n "LanguageKey-$r" --query value -o tsv)")
done

# call KEY METHOD URL [BODY_FILE]: one authoring call; a 202 is followed
# through its Operation-Location until the job ends. The key goes to curl in
# a header file, not on its command line.
call() {
    local key=$1 method=$2 url=$3 body=${4:-} code loc status
    printf 'Ocp-Apim-Subscription-Key: %s\n' "$key" >"$work/key.h"
    local args=(-sS -o "$work/resp.json" -D "$work/resp.h" -w '%{http_code}' -X "$method"
        -H "@$work/key.h" -H 'content-type: application/json')
    [[ -n $body ]] && args+=(--data-binary "@$body")
    code=$(curl "${args[@]}" "$url")
    if [[ $code != 2* ]]; then
        echo "language-projects: $method $url answered $code: $(cat "$work/resp.json")" >&2
        return 1
    fi
    loc=$(tr -d '\r' <"$work/resp.h" | awk -F': ' 'tolower($1) == "operation-location" {print $2}')
    [[ -z $loc ]] && return 0
    for _ in $(seq 1 180); do
        status=$(curl -sS -H "@$work/key.h" "$loc" | tee "$work/job.json" | jq -r .status)
        case $status in
            succeeded) return 0 ;;
            notStarted | running) sleep "${POLL_SECONDS:-5}" ;;
            *) echo "language-projects: job $loc ended '$status': $(cat "$work/job.json")" >&2; return 1 ;;
        esac
    done
    echo "language-projects: job $loc still running after 180 polls" >&2
    return 1
}

# 1. CQA in region A, from the repository's KB file, by the image's botctl.
mkdir "$work/out"
chmod 0777 "$work/out"
docker run --rm --user "$(id -u):$(id -g)" -v "$PWD/kb:/kb:ro" -v "$work/out:/out" \
    --entrypoint botctl "$image" kb export "/kb/${kb_file#kb/}" --out /out/kb.json
jq '{metadata: {language: "en", description: "From the repository (deploy/language-projects.sh)", multilingualResource: false,
     settings: {defaultAnswer: "No good match found in the KB."}}, assets: .assets}' "$work/out/kb.json" >"$work/cqa.json"
jq '.metadata' "$work/cqa.json" >"$work/cqa-project.json"
a=${endpoints[0]%/}
call "${keys[0]}" PATCH "$a/language/query-knowledgebases/projects/$qna_project?api-version=$cqa_api" "$work/cqa-project.json"
call "${keys[0]}" POST "$a/language/query-knowledgebases/projects/$qna_project/:import?api-version=$cqa_api&format=json" "$work/cqa.json"
echo '{}' >"$work/empty.json"
call "${keys[0]}" PUT "$a/language/query-knowledgebases/projects/$qna_project/deployments/$slot?api-version=$cqa_api" "$work/empty.json"
echo "language-projects: CQA $qna_project/$slot deployed in ${regions[0]} from $kb_file ($(jq '.assets.qnas | length' "$work/cqa.json") QnAs)"

# 2. CQA to region B with the sync job's own code, verified by sampled questions.
LANGUAGE_PRIMARY_KEY=${keys[0]} LANGUAGE_SECONDARY_KEY=${keys[1]}
export LANGUAGE_PRIMARY_KEY LANGUAGE_SECONDARY_KEY
docker run --rm -e LANGUAGE_PRIMARY_KEY -e LANGUAGE_SECONDARY_KEY --entrypoint botctl "$image" kb sync --kind cqa --primary-endpoint "${endpoints[0]}" \
    --secondary-endpoint "${endpoints[1]}" --project "$qna_project" --deployment "$slot"

# 3. CLU in both regions from lu/intents.json.
jq --arg p "$clu_project" --arg v "$clu_api" '
  .locale as $l | {
    projectFileVersion: $v, stringIndexType: "Utf16CodeUnit",
    metadata: {projectKind: "Conversation", projectName: $p, language: $l, multilingual: false,
               settings: {confidenceThreshold: 0}},
    assets: {projectKind: "Conversation",
             intents: [.intents[] | {category: .name}],
             entities: [],
             utterances: [.intents[] | .name as $i | .examples[] |
                          {text: ., intent: $i, language: $l, dataset: "Train", entities: []}]}}' \
    lu/intents.json >"$work/clu.json"
echo '{"modelLabel": "repo", "trainingMode": "standard"}' >"$work/train.json"
echo '{"trainedModelLabel": "repo"}' >"$work/deploy.json"
for i in 0 1; do
    e=${endpoints[$i]%/}
    base="$e/language/authoring/analyze-conversations/projects/$clu_project"
    call "${keys[$i]}" POST "$base/:import?api-version=$clu_api" "$work/clu.json"
    call "${keys[$i]}" POST "$base/:train?api-version=$clu_api" "$work/train.json"
    call "${keys[$i]}" PUT "$base/deployments/$slot?api-version=$clu_api" "$work/deploy.json"
    echo "language-projects: CLU $clu_project/$slot deployed in ${regions[$i]} ($(jq '.assets.intents | length' "$work/clu.json") intents)"
done
