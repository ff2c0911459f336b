// Global parts deployed once: the geo-replicated Cosmos DB account, the Key
// Vault, the container registry both regions pull from, and (for the
// UserAssignedMSI app type) the bot's own identity shared by both web apps.

@description('Name prefix, e.g. bot-prod.')
param name string

@description('Region of the global parts (Key Vault, registry home, Cosmos DB account metadata, bot identity): neither stamp\'s region, so losing a stamp region leaves the control of the rest where it was.')
param globalRegion string

@description('Region A (primary): Cosmos write region and registry replica.')
param primaryRegion string

@description('Region B (secondary): Cosmos failover region and registry replica.')
param secondaryRegion string

@description('SingleTenant (app id + secret in Key Vault) or UserAssignedMSI (no secret at all).')
@allowed(['SingleTenant', 'UserAssignedMSI'])
param botAppType string

@description('Object id of the "Microsoft Azure App Service" service principal in this tenant; it reads the TLS certificate from Key Vault. Empty when no custom domain is bound.')
param appServicePrincipalObjectId string = ''

param tags object = {}

var suffix = uniqueString(subscription().id, name)
var cosmosDatabase = 'bot'
var cosmosContainer = 'state'
// Built-in role: Key Vault Secrets User (a certificate's private key is a secret).
var keyVaultSecretsUser = '4633458b-17de-408a-b874-0445c86b69e6'

resource cosmos 'Microsoft.DocumentDB/databaseAccounts@2024-05-15' = {
  // checkov:skip=CKV_AZURE_99: App Service reaches Cosmos over its public endpoint until the stamps get VNet integration; access is Entra-only (local auth off), so a network rule would be the second lock, not the first.
  // checkov:skip=CKV_AZURE_101: same reason as CKV_AZURE_99; public network access is needed by the web apps without VNet integration.
  name: 'cosmos-${name}-${suffix}'
  // The account's metadata (its control plane: failover priority, keys,
  // settings) lives here; its data lives in the locations below.
  location: globalRegion
  kind: 'GlobalDocumentDB'
  tags: tags
  properties: {
    databaseAccountOfferType: 'Standard'
    // Session: a conversation reads its own writes in the region that serves it.
    consistencyPolicy: {
      defaultConsistencyLevel: 'Session'
    }
    locations: [
      { locationName: primaryRegion, failoverPriority: 0, isZoneRedundant: false }
      { locationName: secondaryRegion, failoverPriority: 1, isZoneRedundant: false }
    ]
    // Service-managed failover: Cosmos promotes region B by itself when A is lost.
    enableAutomaticFailover: true
    enableMultipleWriteLocations: false
    // No keys anywhere: the web apps use their managed identity (data-plane RBAC).
    disableLocalAuth: true
    disableKeyBasedMetadataWriteAccess: true
    publicNetworkAccess: 'Enabled'
    minimalTlsVersion: 'Tls12'
    backupPolicy: {
      type: 'Continuous'
      continuousModeProperties: { tier: 'Continuous7Days' }
    }
  }
}

resource database 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases@2024-05-15' = {
  parent: cosmos
  name: cosmosDatabase
  properties: {
    resource: { id: cosmosDatabase }
  }
}

resource container 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers@2024-05-15' = {
  parent: database
  name: cosmosContainer
  properties: {
    resource: {
      id: cosmosContainer
      // The layout of botbuilder's CosmosDbPartitionedStorage: one item per key, pk /id.
      partitionKey: { paths: ['/id'], kind: 'Hash' }
    }
    options: {
      autoscaleSettings: { maxThroughput: 4000 }
    }
  }
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  // checkov:skip=CKV_AZURE_109: the web apps resolve Key Vault references over the public endpoint until the stamps get VNet integration; access is RBAC-only.
  // checkov:skip=CKV_AZURE_189: same reason as CKV_AZURE_109.
  name: take('kv-${replace(name, '-', '')}${suffix}', 24)
  location: globalRegion
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: { family: 'A', name: 'standard' }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource appServiceReadsCertificate 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(appServicePrincipalObjectId)) {
  name: guid(vault.id, appServicePrincipalObjectId, keyVaultSecretsUser)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUser)
    principalId: appServicePrincipalObjectId
    principalType: 'ServicePrincipal'
  }
}

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' = {
  // checkov:skip=CKV_AZURE_139: App Service pulls over the public endpoint until the stamps get VNet integration; pulls need Entra (admin user off).
  // checkov:skip=CKV_AZURE_166: image quarantine needs a scanner in the push path, which this project does not run yet.
  name: take('cr${replace(name, '-', '')}${suffix}', 50)
  location: globalRegion
  tags: tags
  // Premium for geo-replication: each stamp pulls from its own replica, so
  // neither depends on the registry's home region at pull time.
  sku: { name: 'Premium' }
  properties: {
    adminUserEnabled: false
    publicNetworkAccess: 'Enabled'
    zoneRedundancy: 'Enabled'
    dataEndpointEnabled: true
    policies: {
      retentionPolicy: { days: 30, status: 'enabled' }
    }
  }
}

resource registryReplicas 'Microsoft.ContainerRegistry/registries/replications@2023-07-01' = [for region in [primaryRegion, secondaryRegion]: {
  parent: registry
  name: region
  location: region
  properties: {
    zoneRedundancy: 'Enabled'
  }
}]

// The bot's own identity for the UserAssignedMSI app type: one identity for both
// regions, because the bot registration names exactly one.
resource botIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = if (botAppType == 'UserAssignedMSI') {
  name: 'id-${name}-bot'
  location: globalRegion
  tags: tags
}

// The global parts' logs: Cosmos DB, Key Vault and the router send theirs here.
resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: 'log-${name}-global'
  location: globalRegion
  tags: tags
  properties: {
    sku: { name: 'PerGB2018' }
    retentionInDays: 30
  }
}

resource cosmosDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: cosmos
  properties: {
    workspaceId: workspace.id
    // Resource-specific tables (CDBDataPlaneRequests, ...) rather than AzureDiagnostics.
    logAnalyticsDestinationType: 'Dedicated'
    logs: [
      { categoryGroup: 'allLogs', enabled: true }
    ]
    metrics: [
      { category: 'Requests', enabled: true }
    ]
  }
}

resource vaultDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: vault
  properties: {
    workspaceId: workspace.id
    // AuditEvent: who read which secret, and certificate lifecycle events.
    logs: [
      { categoryGroup: 'audit', enabled: true }
    ]
    metrics: [
      { category: 'AllMetrics', enabled: true }
    ]
  }
}

output cosmosAccountName string = cosmos.name
output cosmosEndpoint string = cosmos.properties.documentEndpoint
output cosmosDatabase string = cosmosDatabase
output cosmosContainer string = cosmosContainer
output keyVaultName string = vault.name
output keyVaultId string = vault.id
output cosmosId string = cosmos.id
output workspaceId string = workspace.id
output registryName string = registry.name
output registryLoginServer string = registry.properties.loginServer
output botIdentityId string = botAppType == 'UserAssignedMSI' ? botIdentity.id : ''
output botIdentityClientId string = botAppType == 'UserAssignedMSI' ? botIdentity.properties.clientId : ''
