// The scheduled KB and index sync, as Container Apps jobs in the global
// region (why a Container Apps job and not a WebJob: infra/README.md):
//   caj-<name>-sync       on a schedule, region A (primary) -> region B
//   caj-<name>-sync-back  started by hand at failback, B -> A (docs/runbook.md)
// Each run is `botctl kb sync` (copy the CQA project, deploy it, ask both
// sides the same sampled questions) and, when an index is named,
// `botctl index sync` then `botctl index diff`. botctl exits non-zero on a
// failure and on drift (different answers, a differing index), the run then
// counts as failed, and alerts.bicep alerts on failed runs.

param name string
param location string
param tags object = {}

@description('The image both regions run; botctl is in it.')
param image string
param registryName string
param registryLoginServer string
param keyVaultName string

@description('Regions, primary first, and their Language and Search endpoints in the same order.')
param regions array
param languageEndpoints array
param searchEndpoints array

param qnaProject string
param languageDeployment string

@description('Search index of the bot\'s own (not CQA\'s internal indexes, which kb sync carries). Empty: only the KB is synced.')
param searchIndexName string = ''

@description('When the primary -> secondary sync runs (cron, UTC). The KB\'s RPO in region B is this interval.')
param schedule string = '0 * * * *'

param workspaceName string

var keyVaultSecretsUser = '4633458b-17de-408a-b874-0445c86b69e6'
var acrPull = '7f951dda-4ed3-4680-a7ca-43fe172d538d'

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' existing = {
  name: registryName
}

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  name: workspaceName
}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: 'id-${name}-sync'
  location: location
  tags: tags
}

resource secretsGrant 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, identity.id, keyVaultSecretsUser)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUser)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource pullGrant 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(registry.id, identity.id, acrPull)
  scope: registry
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', acrPull)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource environment 'Microsoft.App/managedEnvironments@2024-03-01' = {
  name: 'cae-${name}'
  location: location
  tags: tags
  properties: {
    appLogsConfiguration: {
      destination: 'log-analytics'
      logAnalyticsConfiguration: {
        customerId: workspace.properties.customerId
        sharedKey: workspace.listKeys().primarySharedKey
      }
    }
  }
}

// from -> to, by index into regions.
var directions = [
  { suffix: 'sync', from: 0, to: 1, trigger: 'Schedule' }
  { suffix: 'sync-back', from: 1, to: 0, trigger: 'Manual' }
]

// The KB always; the index when one is named. `set -e`: the first failure or
// drift ends the run with botctl's exit code.
var kbSync = 'botctl kb sync --kind cqa --deployment ${languageDeployment} --json'
var script = empty(searchIndexName) ? 'set -eu; ${kbSync}' : 'set -eu; ${kbSync}; botctl index sync --json; botctl index diff --json'

resource jobs 'Microsoft.App/jobs@2024-03-01' = [for d in directions: {
  name: 'caj-${name}-${d.suffix}'
  location: location
  tags: tags
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identity.id}': {}
    }
  }
  properties: {
    environmentId: environment.id
    configuration: {
      triggerType: d.trigger
      scheduleTriggerConfig: d.trigger == 'Schedule' ? {
        cronExpression: schedule
        parallelism: 1
        replicaCompletionCount: 1
      } : null
      manualTriggerConfig: d.trigger == 'Manual' ? {
        parallelism: 1
        replicaCompletionCount: 1
      } : null
      replicaTimeout: 3600
      // A failed run is retried once; a second failure is an alert.
      replicaRetryLimit: 1
      registries: [
        { server: registryLoginServer, identity: identity.id }
      ]
      // Key Vault references, resolved with the job's identity.
      secrets: [
        { name: 'language-from', keyVaultUrl: '${vault.properties.vaultUri}secrets/LanguageKey-${regions[d.from]}', identity: identity.id }
        { name: 'language-to', keyVaultUrl: '${vault.properties.vaultUri}secrets/LanguageKey-${regions[d.to]}', identity: identity.id }
        { name: 'search-from', keyVaultUrl: '${vault.properties.vaultUri}secrets/SearchAdminKey-${regions[d.from]}', identity: identity.id }
        { name: 'search-to', keyVaultUrl: '${vault.properties.vaultUri}secrets/SearchAdminKey-${regions[d.to]}', identity: identity.id }
      ]
    }
    template: {
      containers: [
        {
          name: 'sync'
          image: '${registryLoginServer}/${image}'
          command: ['/bin/sh', '-c', script]
          env: [
            { name: 'LANGUAGE_PRIMARY_ENDPOINT', value: languageEndpoints[d.from] }
            { name: 'LANGUAGE_SECONDARY_ENDPOINT', value: languageEndpoints[d.to] }
            { name: 'LANGUAGE_PRIMARY_KEY', secretRef: 'language-from' }
            { name: 'LANGUAGE_SECONDARY_KEY', secretRef: 'language-to' }
            { name: 'LANGUAGE_PROJECT', value: qnaProject }
            { name: 'SEARCH_SOURCE_ENDPOINT', value: searchEndpoints[d.from] }
            { name: 'SEARCH_TARGET_ENDPOINT', value: searchEndpoints[d.to] }
            { name: 'SEARCH_SOURCE_INDEX', value: searchIndexName }
            { name: 'SEARCH_TARGET_INDEX', value: searchIndexName }
            { name: 'SEARCH_SOURCE_API_KEY', secretRef: 'search-from' }
            { name: 'SEARCH_TARGET_API_KEY', secretRef: 'search-to' }
          ]
          resources: {
            cpu: json('0.5')
            memory: '1Gi'
          }
        }
      ]
    }
  }
  dependsOn: [
    secretsGrant
    pullGrant
  ]
}]

output jobIds array = [for (d, i) in directions: jobs[i].id]
output jobNames array = [for (d, i) in directions: jobs[i].name]
