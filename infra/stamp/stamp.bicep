// One regional stamp: the same module deployed to region A (primary) and
// region B (secondary). Everything a region needs to serve alone: its plan and
// web app (production and staging slots), identity, storage, monitoring, and
// its grants on the global parts. Its Language and Search (language.bicep)
// come from main.bicep first, since each stamp names both regions'.

@description('Name prefix, e.g. bot-prod.')
param name string

@description('Azure region of this stamp. Also the bot\'s BOT_REGION: config/regions/<region>.toml must exist.')
param region string

@description('Resource group of the global parts (Cosmos DB, Key Vault, registry).')
param globalResourceGroup string

param cosmosAccountName string
param cosmosEndpoint string
param cosmosDatabase string
param cosmosContainer string
param keyVaultName string
param registryName string
param registryLoginServer string

@description('Image (repository:tag or @digest) for the staging slot. No default: the production slot gets its image only by a swap, never from an infra run.')
param image string

@allowed(['SingleTenant', 'UserAssignedMSI'])
param botAppType string

@description('SingleTenant: the Entra app registration\'s client id. Ignored for UserAssignedMSI.')
param botAppId string = ''

param botTenantId string = subscription().tenantId

@description('UserAssignedMSI: resource id and client id of the bot identity (global).')
param botIdentityId string = ''
param botIdentityClientId string = ''

@description('App Service plan SKU; Traffic Manager Azure endpoints need Standard or above.')
param planSku string = 'P1v3'

@minValue(1)
param instanceCount int = 3

@description('Zone redundancy needs a Premium v3 plan and at least 3 instances.')
param zoneRedundant bool = true

@description('Custom domain bound on this web app (a CNAME to the Traffic Manager name). Empty: none.')
param customDomain string = ''

@description('Key Vault secret name of the TLS certificate for customDomain.')
param certificateSecretName string = ''

@description('Language endpoints in this region\'s order: its own first, then the paired region\'s (main.bicep, from the language modules\' outputs).')
param languageEndpoints array

@description('CQA project and CLU project/deployment, as the deployment step creates them (deploy/language-projects.sh).')
param qnaProject string = 'bot-faq'
param cluProject string = 'bot-intents'
param languageDeployment string = 'production'

@description('Front Door variant: the profile\'s id (X-Azure-FDID). Set, the production slot accepts only Front Door\'s backend addresses carrying it.')
param frontDoorId string = ''

param tags object = {}

var stampName = '${name}-${region}'
var isMsi = botAppType == 'UserAssignedMSI'
// Settings the binary reads (config/default.toml keys as BOT__SECTION__KEY, and
// the Bot Framework names); scripts/check_deploy.py cross-checks these names.
var botSettings = [
  { name: 'BOT_REGION', value: region }
  { name: 'BOT__LOG__FORMAT', value: 'json' }
  // State in the shared Cosmos DB account; transcripts and the telemetry
  // export in this region's Blob account; all with the stamp identity (no
  // keys, no SAS).
  { name: 'BOT__STORAGE__KIND', value: 'cosmos' }
  { name: 'BOT__STORAGE__COSMOS__ENDPOINT', value: cosmosEndpoint }
  { name: 'BOT__STORAGE__COSMOS__DATABASE', value: cosmosDatabase }
  { name: 'BOT__STORAGE__COSMOS__CONTAINER', value: cosmosContainer }
  { name: 'BOT__STORAGE__COSMOS__AUTH', value: 'managed_identity' }
  { name: 'BOT__STORAGE__COSMOS__MANAGED_IDENTITY_CLIENT_ID', value: identity.properties.clientId }
  { name: 'BOT__TRANSCRIPTS__KIND', value: 'blob' }
  { name: 'BOT__TRANSCRIPTS__BLOB__ACCOUNT_URL', value: storage.outputs.blobUrl }
  { name: 'BOT__TRANSCRIPTS__BLOB__SECONDARY_URL', value: storage.outputs.blobSecondaryUrl }
  { name: 'BOT__TRANSCRIPTS__BLOB__CONTAINER', value: 'transcripts' }
  { name: 'BOT__TRANSCRIPTS__BLOB__AUTH', value: 'managed_identity' }
  { name: 'BOT__TRANSCRIPTS__BLOB__MANAGED_IDENTITY_CLIENT_ID', value: identity.properties.clientId }
  { name: 'BOT__TELEMETRY__EXPORT_KIND', value: 'blob' }
  { name: 'BOT__TELEMETRY__EXPORT_BLOB__ACCOUNT_URL', value: storage.outputs.blobUrl }
  { name: 'BOT__TELEMETRY__EXPORT_BLOB__CONTAINER', value: 'telemetry' }
  { name: 'BOT__TELEMETRY__EXPORT_BLOB__AUTH', value: 'managed_identity' }
  { name: 'BOT__TELEMETRY__EXPORT_BLOB__MANAGED_IDENTITY_CLIENT_ID', value: identity.properties.clientId }
  { name: 'MicrosoftAppType', value: botAppType }
  { name: 'MicrosoftAppId', value: isMsi ? botIdentityClientId : botAppId }
  { name: 'MicrosoftAppTenantId', value: botTenantId }
]
// The secret is a Key Vault reference, resolved by App Service with the
// stamp identity; the value never appears in settings or in this repo.
var secretSettings = isMsi ? [] : [
  { name: 'MicrosoftAppPassword', value: '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=MicrosoftAppPassword)' }
]
// Answers (CQA) and intents (CLU) from the Language resources named by the
// deployment's outputs, this region's first; their keys in the same order, a
// Key Vault secret that main.bicep writes from the resources themselves.
var languageKeys = '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=LanguageKeys-${region})'
var qnaSettings = [
  { name: 'BOT__QNA__KIND', value: 'cqa' }
  { name: 'BOT__QNA__ENDPOINTS', value: join(languageEndpoints, ',') }
  { name: 'BOT__QNA__ENDPOINT_KEYS', value: languageKeys }
  { name: 'BOT__QNA__PROJECT_NAME', value: qnaProject }
  { name: 'BOT__QNA__DEPLOYMENT_NAME', value: languageDeployment }
  { name: 'BOT__LU__KIND', value: 'clu' }
  { name: 'BOT__LU__CLU_ENDPOINTS', value: join(languageEndpoints, ',') }
  { name: 'BOT__LU__CLU_KEYS', value: languageKeys }
  { name: 'BOT__LU__CLU_PROJECT', value: cluProject }
  { name: 'BOT__LU__CLU_DEPLOYMENT', value: languageDeployment }
]
var platformSettings = [
  // The container listens on 8080; App Service passes it in as PORT.
  { name: 'WEBSITES_PORT', value: '8080' }
  { name: 'WEBSITES_ENABLE_APP_SERVICE_STORAGE', value: 'false' }
  { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: monitoring.outputs.connectionString }
  // A swap first warms the staging slot's instances until /readyz answers 200.
  { name: 'WEBSITE_SWAP_WARMUP_PING_PATH', value: '/readyz' }
  { name: 'WEBSITE_SWAP_WARMUP_PING_STATUSES', value: '200' }
]
// Both slots run as the stamp identity (and the bot's, for UserAssignedMSI);
// identities are not swapped, so each slot has its own assignment.
var siteIdentity = {
  type: 'UserAssigned'
  userAssignedIdentities: isMsi ? {
    '${identity.id}': {}
    '${botIdentityId}': {}
  } : {
    '${identity.id}': {}
  }
}
var lockedToFrontDoor = !empty(frontDoorId)
// Front Door variant: only Front Door's backend addresses, and only with this
// profile's id (the service tag alone admits every Front Door profile).
var frontDoorOnly = [
  {
    name: 'front-door'
    action: 'Allow'
    priority: 100
    tag: 'ServiceTag'
    ipAddress: 'AzureFrontDoor.Backend'
    headers: { 'x-azure-fdid': [frontDoorId] }
  }
]

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: 'id-${stampName}'
  location: region
  tags: tags
}

module monitoring 'monitoring.bicep' = {
  name: 'monitoring-${region}'
  params: {
    name: stampName
    location: region
    tags: tags
  }
}

module storage 'storage.bicep' = {
  name: 'storage-${region}'
  params: {
    name: stampName
    location: region
    principalId: identity.properties.principalId
    tags: tags
  }
}

module access '../global/stamp-access.bicep' = {
  name: 'access-${region}'
  scope: resourceGroup(globalResourceGroup)
  params: {
    principalId: identity.properties.principalId
    cosmosAccountName: cosmosAccountName
    keyVaultName: keyVaultName
    registryName: registryName
  }
}

resource plan 'Microsoft.Web/serverfarms@2023-12-01' = {
  name: 'asp-${stampName}'
  location: region
  tags: tags
  kind: 'linux'
  sku: {
    name: planSku
    capacity: instanceCount
  }
  properties: {
    reserved: true
    zoneRedundant: zoneRedundant
  }
}

resource site 'Microsoft.Web/sites@2023-12-01' = {
  // checkov:skip=CKV_AZURE_17: Bot Framework channels authenticate with a bearer JWT, never a client certificate; requiring one would refuse every channel.
  // checkov:skip=CKV_AZURE_222: channels and Traffic Manager reach the app over the internet; the bot's own JWT check is the gate.
  // checkov:skip=CKV_AZURE_212: the instance count is set on the plan (instanceCount, 3 and zone-redundant in prod), not per site.
  name: 'app-${stampName}'
  location: region
  tags: tags
  kind: 'app,linux,container'
  identity: siteIdentity
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientAffinityEnabled: false
    publicNetworkAccess: 'Enabled'
    keyVaultReferenceIdentity: identity.id
    // No image and no app settings here: the production slot gets both only
    // from a swap with the staging slot, so an infra run never restarts or
    // changes what serves (an omitted linuxFxVersion/appSettings is kept).
    siteConfig: {
      acrUseManagedIdentityCreds: true
      acrUserManagedIdentityID: identity.properties.clientId
      alwaysOn: true
      // Liveness only: /readyz fails on every instance at once when a shared
      // dependency does, and App Service would then recycle healthy
      // processes. The router (Traffic Manager, Front Door) probes /readyz.
      healthCheckPath: '/healthz'
      http20Enabled: true
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      httpLoggingEnabled: true
      detailedErrorLoggingEnabled: true
      requestTracingEnabled: true
      ipSecurityRestrictions: lockedToFrontDoor ? frontDoorOnly : []
      ipSecurityRestrictionsDefaultAction: lockedToFrontDoor ? 'Deny' : 'Allow'
      scmIpSecurityRestrictionsUseMain: false
    }
  }
  // The grants first: the app's first start reads Key Vault, pulls the image
  // and opens its stores with them.
  dependsOn: [
    access
    storage
  ]
}

// Releases go here: the pipeline sets the image, warms and smoke-tests the
// slot, then swaps it with production (deploy/templates/deploy-region.yml).
// The slot is not locked to Front Door: the pipeline smoke-tests it directly
// (the bot's JWT check still guards /api/messages).
resource staging 'Microsoft.Web/sites/slots@2023-12-01' = {
  // checkov:skip=CKV_AZURE_17: as on the site: channels authenticate with a bearer JWT, never a client certificate.
  // checkov:skip=CKV_AZURE_222: as on the site: the smoke test reaches the slot over the internet; the bot's JWT check is the gate.
  // checkov:skip=CKV_AZURE_212: the instance count is set on the plan, which the slot shares with the site.
  parent: site
  name: 'staging'
  location: region
  tags: tags
  kind: 'app,linux,container'
  identity: siteIdentity
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientAffinityEnabled: false
    publicNetworkAccess: 'Enabled'
    keyVaultReferenceIdentity: identity.id
    siteConfig: {
      linuxFxVersion: 'DOCKER|${registryLoginServer}/${image}'
      acrUseManagedIdentityCreds: true
      acrUserManagedIdentityID: identity.properties.clientId
      alwaysOn: true
      // Liveness only: /readyz fails on every instance at once when a shared
      // dependency does, and App Service would then recycle healthy
      // processes. The router (Traffic Manager, Front Door) probes /readyz.
      healthCheckPath: '/healthz'
      http20Enabled: true
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      httpLoggingEnabled: true
      detailedErrorLoggingEnabled: true
      requestTracingEnabled: true
      appSettings: concat(botSettings, secretSettings, qnaSettings, platformSettings)
    }
  }
}

// No publishing credentials: images come from the registry, deploys from Entra.
resource ftp 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2023-12-01' = {
  parent: site
  name: 'ftp'
  properties: { allow: false }
}

resource scm 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2023-12-01' = {
  parent: site
  name: 'scm'
  properties: { allow: false }
}

resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: site
  properties: {
    workspaceId: monitoring.outputs.workspaceId
    logs: [
      { category: 'AppServiceHTTPLogs', enabled: true }
      { category: 'AppServiceConsoleLogs', enabled: true }
      { category: 'AppServicePlatformLogs', enabled: true }
    ]
    metrics: [
      { category: 'AllMetrics', enabled: true }
    ]
  }
}

module domain 'custom-domain.bicep' = if (!empty(customDomain)) {
  name: 'domain-${region}'
  params: {
    siteName: site.name
    location: region
    serverFarmId: plan.id
    customDomain: customDomain
    keyVaultId: resourceId(globalResourceGroup, 'Microsoft.KeyVault/vaults', keyVaultName)
    certificateSecretName: certificateSecretName
    tags: tags
  }
}

output siteId string = site.id
output stagingHostName string = staging.properties.defaultHostName
output planId string = plan.id
output workspaceId string = monitoring.outputs.workspaceId
output siteName string = site.name
output defaultHostName string = site.properties.defaultHostName
output customDomainVerificationId string = site.properties.customDomainVerificationId
output identityPrincipalId string = identity.properties.principalId
output storageAccountName string = storage.outputs.name
