// The Azure Bot registration. Its messaging endpoint goes through the router
// (Traffic Manager or Front Door), never to one region, so a failover needs no
// change here.

param name string

@description('Host name the channels post to: the Traffic Manager name, the custom domain that is a CNAME to it, or the Front Door endpoint.')
param messagingHost string

@allowed(['SingleTenant', 'UserAssignedMSI'])
param botAppType string

@description('SingleTenant: the app registration\'s client id; UserAssignedMSI: the bot identity\'s client id.')
param botAppId string

param botTenantId string = subscription().tenantId

@description('UserAssignedMSI only: resource id of the bot identity.')
param botIdentityId string = ''

@allowed(['F0', 'S1'])
param sku string = 'S1'

param tags object = {}

resource bot 'Microsoft.BotService/botServices@2022-09-15' = {
  name: 'bot-${name}-${uniqueString(resourceGroup().id)}'
  location: 'global'
  kind: 'azurebot'
  tags: tags
  sku: { name: sku }
  properties: {
    displayName: name
    endpoint: 'https://${messagingHost}/api/messages'
    msaAppType: botAppType
    msaAppId: botAppId
    msaAppTenantId: botTenantId
    msaAppMSIResourceId: botAppType == 'UserAssignedMSI' ? botIdentityId : null
    // Web Chat and Direct Line clients authenticate with channel secrets
    // (handed out from the portal, never kept in this repo); Entra-only would
    // lock them out.
    disableLocalAuth: false
    publicNetworkAccess: 'Enabled'
  }
}

output name string = bot.name
output endpoint string = bot.properties.endpoint
