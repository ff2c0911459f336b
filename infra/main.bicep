// Everything for one environment, in deploy order: the global parts (in a
// region of their own), each region's answer services (Language + Search),
// the two regional stamps (the same module twice), the routers, alerts, the
// sync jobs and the bot registration. See infra/README.md.
targetScope = 'subscription'

@description('Name prefix for every resource, e.g. bot-prod.')
param name string

@description('Region A (primary). config/regions/<name>.toml must exist.')
param primaryRegion string

@description('Region B (secondary, the pair of A). config/regions/<name>.toml must exist.')
param secondaryRegion string

@description('Region of the global group (Key Vault, registry, Cosmos DB metadata, router and alert resources, sync jobs). Neither stamp\'s region: an outage of either leaves the operator in control. scripts/check_deploy.py checks the parameter files.')
param globalRegion string = (primaryRegion == 'westus3' || secondaryRegion == 'westus3') ? 'northcentralus' : 'westus3'

@description('TrafficManager (DNS, priority routing) or FrontDoor (the edge variant: WAF, TLS at the edge, apps locked to it).')
@allowed(['TrafficManager', 'FrontDoor'])
param router string = 'TrafficManager'

@allowed(['SingleTenant', 'UserAssignedMSI'])
param botAppType string = 'SingleTenant'

@description('SingleTenant: the Entra app registration\'s client id (its secret goes into Key Vault as MicrosoftAppPassword).')
param botAppId string = ''

@description('Image repository:tag (or @digest) in the environment\'s registry for the staging slots and the sync jobs. Required, no default: the production slots never get an image from here, only from a swap (deploy/templates/deploy-region.yml).')
param image string

@description('Resource id of the action group every alert notifies (owned by on-call, not created here).')
param actionGroupId string

param planSku string = 'P1v3'
param instanceCount int = 3
param zoneRedundant bool = true

@allowed(['basic', 'standard'])
param searchSku string = 'standard'
param searchReplicas int = 3

@description('Search index of the bot\'s own that the sync job keeps equal in both regions; empty: the KB only.')
param searchIndexName string = ''

@description('CQA and CLU project names and their deployment, as deploy/language-projects.sh creates them.')
param qnaProject string = 'bot-faq'
param cluProject string = 'bot-intents'
param languageDeployment string = 'production'

@description('Cron (UTC) of the primary -> secondary KB/index sync.')
param syncSchedule string = '0 * * * *'

@description('Custom domain the channels call. TrafficManager: a CNAME to the profile, bound on both web apps with the Key Vault certificate (no bot registration until it is set: *.trafficmanager.net matches no certificate). FrontDoor: a CNAME to the endpoint, with a certificate Front Door manages (optional: the endpoint\'s own name has one).')
param customDomain string = ''

@description('TrafficManager: Key Vault secret name of the TLS certificate for customDomain.')
param certificateSecretName string = ''

@description('Object id of the "Microsoft Azure App Service" service principal in this tenant (reads the certificate).')
param appServicePrincipalObjectId string = ''

param tags object = {}

var regions = [
  primaryRegion
  secondaryRegion
]
var useFrontDoor = router == 'FrontDoor'

resource globalGroup 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-${name}-global'
  location: globalRegion
  tags: tags
}

// One resource group per region, so losing or redeploying one touches nothing
// of the other.
resource stampGroups 'Microsoft.Resources/resourceGroups@2024-03-01' = [for region in regions: {
  name: 'rg-${name}-${region}'
  location: region
  tags: tags
}]

module core 'global/core.bicep' = {
  name: 'core'
  scope: globalGroup
  params: {
    name: name
    globalRegion: globalRegion
    primaryRegion: primaryRegion
    secondaryRegion: secondaryRegion
    botAppType: botAppType
    appServicePrincipalObjectId: appServicePrincipalObjectId
    tags: tags
  }
}

// Each region's Language (CQA + CLU) and Search, before the stamps: each
// stamp lists both regions' endpoints, its own first.
module language 'stamp/language.bicep' = [for (region, i) in regions: {
  name: 'language-${region}'
  scope: stampGroups[i]
  params: {
    name: '${name}-${region}'
    location: region
    searchSku: searchSku
    searchReplicas: searchReplicas
    tags: tags
  }
}]

module languageKeys 'global/language-keys.bicep' = {
  name: 'language-keys'
  scope: globalGroup
  params: {
    keyVaultName: core.outputs.keyVaultName
    regions: regions
    resourceGroups: [stampGroups[0].name, stampGroups[1].name]
    languageNames: [language[0].outputs.languageName, language[1].outputs.languageName]
    searchNames: [language[0].outputs.searchName, language[1].outputs.searchName]
  }
}

// Front Door variant: the profile first, so each stamp can admit only it.
module frontDoorProfile 'global/front-door-profile.bicep' = if (useFrontDoor) {
  name: 'front-door-profile'
  scope: globalGroup
  params: {
    name: name
    workspaceId: core.outputs.workspaceId
    tags: tags
  }
}

module stamps 'stamp/stamp.bicep' = [for (region, i) in regions: {
  name: 'stamp-${region}'
  scope: stampGroups[i]
  params: {
    name: name
    region: region
    globalResourceGroup: globalGroup.name
    cosmosAccountName: core.outputs.cosmosAccountName
    cosmosEndpoint: core.outputs.cosmosEndpoint
    cosmosDatabase: core.outputs.cosmosDatabase
    cosmosContainer: core.outputs.cosmosContainer
    keyVaultName: core.outputs.keyVaultName
    registryName: core.outputs.registryName
    registryLoginServer: core.outputs.registryLoginServer
    image: image
    botAppType: botAppType
    botAppId: botAppId
    botIdentityId: core.outputs.botIdentityId
    botIdentityClientId: core.outputs.botIdentityClientId
    planSku: planSku
    instanceCount: instanceCount
    zoneRedundant: zoneRedundant
    // A custom domain is bound on the web apps only behind Traffic Manager;
    // Front Door holds it at the edge.
    customDomain: useFrontDoor ? '' : customDomain
    certificateSecretName: certificateSecretName
    languageEndpoints: [language[i].outputs.languageEndpoint, language[1 - i].outputs.languageEndpoint]
    qnaProject: qnaProject
    cluProject: cluProject
    languageDeployment: languageDeployment
    frontDoorId: useFrontDoor ? frontDoorProfile.outputs.frontDoorId : ''
    tags: tags
  }
  dependsOn: [
    languageKeys
  ]
}]

// Each stamp identity may call both regions' Language resources with Entra.
module languageAccess 'stamp/language-access.bicep' = [for k in range(0, 4): {
  name: 'language-access-${regions[k / 2]}-${regions[k % 2]}'
  scope: stampGroups[k % 2]
  params: {
    principalId: stamps[k / 2].outputs.identityPrincipalId
    languageName: language[k % 2].outputs.languageName
  }
}]

module trafficManager 'global/traffic-manager.bicep' = if (!useFrontDoor) {
  name: 'traffic-manager'
  scope: globalGroup
  params: {
    name: name
    siteIds: [
      stamps[0].outputs.siteId
      stamps[1].outputs.siteId
    ]
    endpointNames: regions
    workspaceId: core.outputs.workspaceId
    tags: tags
  }
}

module frontDoor 'global/front-door.bicep' = if (useFrontDoor) {
  name: 'front-door'
  scope: globalGroup
  params: {
    name: name
    profileName: frontDoorProfile.outputs.name
    wafPolicyId: frontDoorProfile.outputs.wafPolicyId
    originHostNames: [
      stamps[0].outputs.defaultHostName
      stamps[1].outputs.defaultHostName
    ]
    originNames: regions
    customDomain: customDomain
  }
}

module answerRouter 'global/answer-router.bicep' = {
  name: 'answer-router'
  scope: globalGroup
  params: {
    name: name
    languageHosts: [language[0].outputs.languageHost, language[1].outputs.languageHost]
    originNames: regions
    workspaceId: core.outputs.workspaceId
    tags: tags
  }
}

module syncJob 'global/sync-job.bicep' = {
  name: 'sync-job'
  scope: globalGroup
  params: {
    name: name
    location: globalRegion
    image: image
    registryName: core.outputs.registryName
    registryLoginServer: core.outputs.registryLoginServer
    keyVaultName: core.outputs.keyVaultName
    regions: regions
    languageEndpoints: [language[0].outputs.languageEndpoint, language[1].outputs.languageEndpoint]
    searchEndpoints: [language[0].outputs.searchEndpoint, language[1].outputs.searchEndpoint]
    qnaProject: qnaProject
    languageDeployment: languageDeployment
    searchIndexName: searchIndexName
    schedule: syncSchedule
    workspaceName: 'log-${name}-global'
    tags: tags
  }
  dependsOn: [
    languageKeys
  ]
}

module alerts 'global/alerts.bicep' = {
  name: 'alerts'
  scope: globalGroup
  params: {
    name: name
    actionGroupId: actionGroupId
    regions: regions
    siteIds: [stamps[0].outputs.siteId, stamps[1].outputs.siteId]
    workspaceIds: [stamps[0].outputs.workspaceId, stamps[1].outputs.workspaceId]
    trafficManagerId: useFrontDoor ? '' : trafficManager.outputs.id
    frontDoorId: useFrontDoor ? frontDoorProfile.outputs.id : ''
    cosmosId: core.outputs.cosmosId
    syncJobIds: syncJob.outputs.jobIds
    keyVaultName: core.outputs.keyVaultName
    keyVaultLocation: globalRegion
    tags: tags
  }
}

// The channels call the bot over HTTPS, so its endpoint must be a name with a
// certificate: the Front Door endpoint or its custom domain, or (Traffic
// Manager) the custom domain bound on both web apps. *.trafficmanager.net has
// none, so without customDomain no bot registration is made at all
// (botRegistration output says why); dev uses Front Door.
var routerHost = useFrontDoor ? frontDoor.outputs.hostName : trafficManager.outputs.fqdn
var hasCertifiedHost = useFrontDoor || !empty(customDomain)
var messagingHost = empty(customDomain) ? routerHost : customDomain

module bot 'global/bot.bicep' = if (hasCertifiedHost) {
  name: 'bot'
  scope: globalGroup
  params: {
    name: name
    messagingHost: messagingHost
    botAppType: botAppType
    botAppId: botAppType == 'UserAssignedMSI' ? core.outputs.botIdentityClientId : botAppId
    botIdentityId: core.outputs.botIdentityId
    tags: tags
  }
}

output router string = router
output globalRegion string = globalRegion
output globalResourceGroup string = globalGroup.name
output registryName string = core.outputs.registryName
output registryLoginServer string = core.outputs.registryLoginServer
output keyVaultName string = core.outputs.keyVaultName
output cosmosAccountName string = core.outputs.cosmosAccountName
output primaryRegion string = primaryRegion
output secondaryRegion string = secondaryRegion
output primaryResourceGroup string = stampGroups[0].name
output secondaryResourceGroup string = stampGroups[1].name
output primaryWebApp string = stamps[0].outputs.siteName
output secondaryWebApp string = stamps[1].outputs.siteName
output primaryHostName string = stamps[0].outputs.defaultHostName
output secondaryHostName string = stamps[1].outputs.defaultHostName
output primaryStorageAccount string = stamps[0].outputs.storageAccountName
output secondaryStorageAccount string = stamps[1].outputs.storageAccountName
output primaryLanguageEndpoint string = language[0].outputs.languageEndpoint
output secondaryLanguageEndpoint string = language[1].outputs.languageEndpoint
output primarySearchEndpoint string = language[0].outputs.searchEndpoint
output secondarySearchEndpoint string = language[1].outputs.searchEndpoint
output qnaProject string = qnaProject
output cluProject string = cluProject
output languageDeployment string = languageDeployment
output answerRouterEndpoint string = answerRouter.outputs.endpoint
output trafficManagerProfile string = useFrontDoor ? '' : trafficManager.outputs.name
output frontDoorProfile string = useFrontDoor ? frontDoorProfile.outputs.name : ''
output frontDoorOriginGroup string = useFrontDoor ? frontDoor.outputs.originGroupName : ''
output frontDoorValidationToken string = useFrontDoor ? frontDoor.outputs.customDomainValidationToken : ''
output syncJobs array = syncJob.outputs.jobNames
output routerHostName string = routerHost
output messagingEndpoint string = hasCertifiedHost ? bot.outputs.endpoint : ''
output botRegistration string = hasCertifiedHost ? bot.outputs.name : 'not created: behind Traffic Manager the bot needs customDomain (with its certificate), *.trafficmanager.net matches no certificate; see infra/README.md step 4'
output customDomain string = customDomain
output customDomainVerificationId string = stamps[0].outputs.customDomainVerificationId
