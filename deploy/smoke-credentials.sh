# Sourced by the pipelines before a smoke test: exports the bot's app
# credentials (SingleTenant) so deploy/smoke.sh can get a token from Entra.
# The secret comes from Key Vault and is never printed.
# Usage: source deploy/smoke-credentials.sh KEY_VAULT RESOURCE_GROUP WEB_APP

smoke_setting() {
    az webapp config appsettings list -g "$2" -n "$3" \
        --query "[?name=='$1'].value | [0]" -o tsv
}
SMOKE_APP_ID=$(smoke_setting MicrosoftAppId "$2" "$3")
SMOKE_TENANT_ID=$(smoke_setting MicrosoftAppTenantId "$2" "$3")
if [[ $(smoke_setting MicrosoftAppType "$2" "$3") == SingleTenant ]]; then
    SMOKE_APP_SECRET=$(az keyvault secret show --vault-name "$1" -n MicrosoftAppPassword \
        --query value -o tsv)
    export SMOKE_APP_SECRET
fi
export SMOKE_APP_ID SMOKE_TENANT_ID
