// The region's storage account: RA-GZRS (zone-redundant here, readable in the
// paired region), no shared keys, with the containers the bot writes.

param name string
param location string
param tags object = {}

@description('The stamp identity: Storage Blob Data Contributor on this account only.')
param principalId string

@description('Containers: bot state (blob backend), transcripts, telemetry export.')
param containers array = [
  'state'
  'transcripts'
  'telemetry'
]

// 3-24 lower-case letters and digits, unique per resource group.
var accountName = toLower(take('st${replace(name, '-', '')}${uniqueString(resourceGroup().id)}', 24))

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  // checkov:skip=CKV_AZURE_43: false positive: the name is computed (toLower/take/uniqueString) to 3-24 lower-case letters and digits, which checkov cannot evaluate.
  // checkov:skip=CKV_AZURE_35: the web app is not VNet-integrated yet, so a default-deny rule would lock it out; every request needs Entra (shared keys are off).
  // checkov:skip=CKV_AZURE_59: same reason as CKV_AZURE_35.
  name: accountName
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: { name: 'Standard_RAGZRS' }
  properties: {
    accessTier: 'Hot'
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    allowBlobPublicAccess: false
    // No keys: the web app's managed identity has Storage Blob Data Contributor.
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
    encryption: {
      keySource: 'Microsoft.Storage'
      requireInfrastructureEncryption: true
      services: {
        blob: { enabled: true, keyType: 'Account' }
        file: { enabled: true, keyType: 'Account' }
      }
    }
  }
}

resource blobs 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    deleteRetentionPolicy: { enabled: true, days: 14 }
    containerDeleteRetentionPolicy: { enabled: true, days: 14 }
    isVersioningEnabled: true
  }
}

resource blobContainers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = [for c in containers: {
  parent: blobs
  name: c
  properties: {
    publicAccess: 'None'
  }
}]

var blobDataContributor = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'

resource blobData 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(account.id, principalId, blobDataContributor)
  scope: account
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', blobDataContributor)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

output id string = account.id
output name string = account.name
// Service URLs without the trailing slash, as the bot's config expects them;
// the secondary is RA-GZRS's read-only copy in the paired region.
output blobUrl string = 'https://${account.name}.blob.${environment().suffixes.storage}'
output blobSecondaryUrl string = 'https://${account.name}-secondary.blob.${environment().suffixes.storage}'
