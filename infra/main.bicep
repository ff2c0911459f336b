// Everything for one environment, in deploy order: the global parts, the two
// regional stamps (the same module twice), the router in front of them, and
// the bot registration pointing at the router. See infra/README.md.
targetScope = 'subscription'

@description('Name prefix for every resource, e.g. bot-prod.')
param name string

@description('Region A (primary). config/regions/<name>.toml must exist.')
param primaryRegion string

@description('Region B (secondary, the pair of A). config/regions/<name>.toml must exist.')
param secondaryRegion string

@description('TrafficManager (DNS, priority routing) or FrontDoor (the optional edge variant).')
@allowed(['TrafficManager', 'FrontDoor'])
param router string = 'TrafficManager'

@allowed(['SingleTenant', 'UserAssignedMSI'])
param botAppType string = 'SingleTenant'

@description('SingleTenant: the Entra app registration\'s client id (its secret goes into Key Vault as MicrosoftAppPassword).')
param botAppId string = ''

@description('Image repository:tag in the environment\'s registry; the pipeline rolls new tags.')
param image string = 'bot-api:bootstrap'

param planSku string = 'P1v3'
param instanceCount int = 3
param zoneRedundant bool = true

@description('Custom domain, a CNAME to the Traffic Manager name. Empty on the first deploy (see README).')
param customDomain string = ''

@description('Key Vault secret name of the TLS certificate for customDomain.')
param certificateSecretName string = ''

@description('Object id of the "Microsoft Azure App Service" service principal in this tenant (reads the certificate).')
param appServicePrincipalObjectId string = ''

param tags object = {}

var regions = [
  primaryRegion
  secondaryRegion
]

resource globalGroup 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-${name}-global'
  location: primaryRegion
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
    primaryRegion: primaryRegion
    secondaryRegion: secondaryRegion
    botAppType: botAppType
    appServicePrincipalObjectId: appServicePrincipalObjectId
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
    customDomain: customDomain
    certificateSecretName: certificateSecretName
    tags: tags
  }
}]

module trafficManager 'global/traffic-manager.bicep' = if (router == 'TrafficManager') {
  name: 'traffic-manager'
  scope: globalGroup
  params: {
    name: name
    siteIds: [
      stamps[0].outputs.siteId
      stamps[1].outputs.siteId
    ]
    tags: tags
  }
}

module frontDoor 'global/front-door.bicep' = if (router == 'FrontDoor') {
  name: 'front-door'
  scope: globalGroup
  params: {
    name: name
    originHostNames: [
      stamps[0].outputs.defaultHostName
      stamps[1].outputs.defaultHostName
    ]
    tags: tags
  }
}

// The TLS name must match what the channel calls: the custom domain when one
// is bound (it is a CNAME to the Traffic Manager name), else the router's own.
var routerHost = router == 'TrafficManager' ? trafficManager.outputs.fqdn : frontDoor.outputs.hostName
var messagingHost = empty(customDomain) ? routerHost : customDomain

module bot 'global/bot.bicep' = {
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

output globalResourceGroup string = globalGroup.name
output registryName string = core.outputs.registryName
output registryLoginServer string = core.outputs.registryLoginServer
output keyVaultName string = core.outputs.keyVaultName
output primaryResourceGroup string = stampGroups[0].name
output secondaryResourceGroup string = stampGroups[1].name
output primaryWebApp string = stamps[0].outputs.siteName
output secondaryWebApp string = stamps[1].outputs.siteName
output primaryHostName string = stamps[0].outputs.defaultHostName
output secondaryHostName string = stamps[1].outputs.defaultHostName
output routerHostName string = routerHost
output messagingEndpoint string = bot.outputs.endpoint
output customDomain string = customDomain
output customDomainVerificationId string = stamps[0].outputs.customDomainVerificationId
