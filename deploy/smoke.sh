#!/usr/bin/env bash
# Smoke test of one region (or of the router in front of both): /readyz
# answers 200 from the expected region, then a real message gets a real reply
# in the HTTP response (deliveryMode expectReplies, so no channel is needed).
#
# Usage: deploy/smoke.sh BASE_URL EXPECTED_REGION
# Auth (production regions never run open): set SMOKE_APP_ID, SMOKE_APP_SECRET
# and SMOKE_TENANT_ID (SingleTenant) to get a token from Entra, or SMOKE_TOKEN.
# SMOKE_SERVICE_URL: the activity's serviceUrl. It must pass the production
# allow-list (auth.allowed_service_hosts, https); with expectReplies nothing
# is ever sent to it. Default: Web Chat's.
# Run in CI against a production-mode bot: crates/bot-api/tests/blackbox/smoke.rs.
set -euo pipefail

base=${1:?usage: smoke.sh BASE_URL EXPECTED_REGION}
base=${base%/}
region=${2:?usage: smoke.sh BASE_URL EXPECTED_REGION}
tries=${SMOKE_TRIES:-30}
service_url=${SMOKE_SERVICE_URL:-https://webchat.botframework.com/}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fail() {
    echo "smoke: FAILED at $base: $*" >&2
    exit 1
}

# 1. Readiness, retried while a freshly deployed container starts.
code=000
for ((i = 1; i <= tries; i++)); do
    code=$(curl -sS -o "$work/readyz.json" -D "$work/readyz.h" -w '%{http_code}' \
        --max-time 10 "$base/readyz" || true)
    [[ $code == 200 ]] && break
    echo "smoke: $base/readyz answered $code (try $i/$tries)"
    sleep 10
done
[[ $code == 200 ]] || fail "/readyz answered $code: $(cat "$work/readyz.json" 2>/dev/null)"
served_by=$(tr -d '\r' <"$work/readyz.h" | awk -F': ' 'tolower($1) == "x-bot-region" {print $2}')
[[ $served_by == "$region" ]] || fail "/readyz came from region '$served_by', expected '$region'"
echo "smoke: $base/readyz is ready in $region"

# 2. A real message. The token is the app's own (the Emulator's way in).
token=${SMOKE_TOKEN:-}
if [[ -z $token && -n ${SMOKE_APP_ID:-} ]]; then
    token=$(curl -sS --fail --max-time 20 \
        "https://login.microsoftonline.com/${SMOKE_TENANT_ID:?}/oauth2/v2.0/token" \
        --data-urlencode "grant_type=client_credentials" \
        --data-urlencode "client_id=$SMOKE_APP_ID" \
        --data-urlencode "client_secret=${SMOKE_APP_SECRET:?}" \
        --data-urlencode "scope=$SMOKE_APP_ID/.default" | jq -r .access_token)
fi
auth=()
[[ -n $token ]] && auth=(-H "authorization: Bearer $token")

run="smoke-$region-$(date -u +%Y%m%dT%H%M%S)-$RANDOM"
jq -n --arg id "$run" --arg serviceUrl "$service_url" '{
    type: "message", id: $id, channelId: "emulator", deliveryMode: "expectReplies",
    serviceUrl: $serviceUrl, conversation: {id: $id},
    from: {id: "smoke-test"}, recipient: {id: "bot"}, text: "What can you do?"
}' >"$work/activity.json"
code=$(curl -sS -o "$work/reply.json" -D "$work/reply.h" -w '%{http_code}' --max-time 30 \
    -X POST "$base/api/messages" -H 'content-type: application/json' "${auth[@]}" \
    --data @"$work/activity.json" || true)
[[ $code == 200 ]] || fail "POST /api/messages answered $code: $(cat "$work/reply.json" 2>/dev/null)"
text=$(jq -r '[.activities[]? | select(.type == "message") | .text // empty] | first // empty' "$work/reply.json")
[[ -n $text ]] || fail "no message in the reply: $(cat "$work/reply.json")"
served_by=$(tr -d '\r' <"$work/reply.h" | awk -F': ' 'tolower($1) == "x-bot-region" {print $2}')
[[ $served_by == "$region" ]] || fail "the message was answered by region '$served_by', expected '$region'"
echo "smoke: $region answered '${text:0:60}...'"
