#!/usr/bin/env bash
# Takes one region out of the bot's router, or puts it back: the Traffic
# Manager endpoint or the Front Door origin named after the region. The
# release pipelines call it around the active region's slot swap; the runbook
# (docs/runbook.md) shows the same az commands by hand.
#
# Usage: deploy/router-endpoint.sh disable|enable REGION
# Needs: INFRA_DEPLOYMENT (the subscription deployment of infra/main.bicep),
# an az login with rights on the global resource group.
#
# disable refuses while the other region is not healthy in the router: taking
# the last healthy region out would take the bot down. It then waits for
# resolvers and clients to let go of the region (3 x the DNS TTL, or Front
# Door's configuration push), so the caller may restart or swap it.
# enable waits until the router sees the region healthy again.
set -euo pipefail

action=${1:?usage: router-endpoint.sh disable|enable REGION}
region=${2:?usage: router-endpoint.sh disable|enable REGION}
deployment=${INFRA_DEPLOYMENT:?set INFRA_DEPLOYMENT}
tries=${ROUTER_TRIES:-60}

out() {
    az deployment sub show -n "$deployment" --query "properties.outputs.$1.value" -o tsv
}
router=$(out router)
group=$(out globalResourceGroup)
primary=$(out primaryRegion)
secondary=$(out secondaryRegion)
case $region in
    "$primary") other=$secondary ;;
    "$secondary") other=$primary ;;
    *) echo "router-endpoint: $region is neither $primary nor $secondary" >&2; exit 2 ;;
esac

if [[ $router == TrafficManager ]]; then
    profile=$(out trafficManagerProfile)
    status() { # endpoint -> Online, Degraded, Disabled, CheckingEndpoint, ...
        az network traffic-manager endpoint show -g "$group" --profile-name "$profile" \
            -n "$1" --type azureEndpoints --query endpointMonitorStatus -o tsv
    }
    set_state() {
        az network traffic-manager endpoint update -g "$group" --profile-name "$profile" \
            -n "$1" --type azureEndpoints --endpoint-status "$2" --output none
    }
    ttl=$(az network traffic-manager profile show -g "$group" -n "$profile" --query dnsConfig.ttl -o tsv)
    drain=$((3 * ttl))
else
    profile=$(out frontDoorProfile)
    origin_group=$(out frontDoorOriginGroup)
    # Front Door has no per-origin health in the CLI; the other origin must at
    # least be enabled, and the smoke test through the router follows.
    status() {
        local s
        s=$(az afd origin show -g "$group" --profile-name "$profile" --origin-group-name "$origin_group" \
            --origin-name "$1" --query enabledState -o tsv)
        [[ $s == Enabled ]] && echo Online || echo Disabled
    }
    set_state() {
        az afd origin update -g "$group" --profile-name "$profile" --origin-group-name "$origin_group" \
            --origin-name "$1" --enabled-state "$2" --output none
    }
    # Front Door pushes configuration to its edges within minutes.
    drain=${AFD_DRAIN_SECONDS:-120}
fi

case $action in
    disable)
        s=$(status "$other")
        if [[ $s != Online ]]; then
            echo "router-endpoint: REFUSED: $other is '$s' in the router; disabling $region would leave no healthy region" >&2
            exit 1
        fi
        set_state "$region" Disabled
        echo "router-endpoint: $region disabled ($other is $s); waiting ${drain}s for clients to move"
        sleep "$drain"
        ;;
    enable)
        set_state "$region" Enabled
        for ((i = 1; i <= tries; i++)); do
            s=$(status "$region")
            [[ $s == Online ]] && break
            echo "router-endpoint: $region is '$s' ($i/$tries)"
            sleep 10
        done
        [[ $s == Online ]] || { echo "router-endpoint: FAILED: $region is '$s' after enabling" >&2; exit 1; }
        echo "router-endpoint: $region enabled and Online"
        ;;
    *) echo "usage: router-endpoint.sh disable|enable REGION" >&2; exit 2 ;;
esac
