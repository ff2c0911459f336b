#!/usr/bin/env bash
# Smoke test through Traffic Manager: its DNS answer must lead to the primary
# region's web app (priority routing with both regions up), and the bot must
# answer there. Traffic Manager is DNS only, so the HTTPS call goes to the
# custom domain (a CNAME to the profile) or, without one, to the host the
# profile resolved to, since only those names match a certificate.
#
# Usage: deploy/smoke-router.sh TM_FQDN EXPECTED_REGION EXPECTED_HOST [CUSTOM_DOMAIN]
set -euo pipefail

fqdn=${1:?usage: smoke-router.sh TM_FQDN EXPECTED_REGION EXPECTED_HOST [CUSTOM_DOMAIN]}
region=${2:?}
expected_host=${3:?}
custom=${4:-}

# The CNAME the profile hands out, retried through the DNS TTL.
target=""
for ((i = 1; i <= 12; i++)); do
    target=$(dig +short CNAME "$fqdn" | head -n1 | sed 's/\.$//')
    [[ $target == "$expected_host" ]] && break
    echo "smoke-router: $fqdn -> '${target:-nothing}', waiting for $expected_host ($i/12)"
    sleep 10
done
[[ $target == "$expected_host" ]] || {
    echo "smoke-router: FAILED: $fqdn resolves to '$target', expected $expected_host" >&2
    exit 1
}
echo "smoke-router: $fqdn -> $target"

if [[ -n $custom ]]; then
    chain=$(dig +short CNAME "$custom" | head -n1 | sed 's/\.$//')
    [[ $chain == "$fqdn" ]] || {
        echo "smoke-router: FAILED: $custom is a CNAME to '$chain', expected $fqdn" >&2
        exit 1
    }
    exec "$(dirname "$0")/smoke.sh" "https://$custom" "$region"
fi
exec "$(dirname "$0")/smoke.sh" "https://$target" "$region"
