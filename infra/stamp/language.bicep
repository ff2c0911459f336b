// One region's answer services: Azure AI Search and a Language resource with
// custom question answering linked to it (CQA keeps its KB in that Search
// service) and conversational language understanding (CLU projects live in
// the same Language resource). Each region has its own pair, so losing one
// region loses neither the other's answers nor its intents.

param name string
param location string
param tags object = {}

@description('Search SKU: standard for production (replicas for the query SLA), basic is enough for dev.')
@allowed(['basic', 'standard'])
param searchSku string = 'standard'

@description('Search replicas: 2 give the read SLA, 3 the read-write SLA.')
@minValue(1)
param searchReplicas int = 3

var suffix = uniqueString(resourceGroup().id)
// Built-in roles.
var searchIndexDataContributor = '8ebe5a00-799e-43f5-93ac-243d3dce84a7'
var searchServiceContributor = '7ca78c08-252a-4471-8644-bb5ff32d4ba0'

resource search 'Microsoft.Search/searchServices@2023-11-01' = {
  name: 'srch-${name}-${suffix}'
  location: location
  tags: tags
  sku: { name: searchSku }
  identity: { type: 'SystemAssigned' }
  properties: {
    replicaCount: searchReplicas
    partitionCount: 1
    hostingMode: 'default'
    publicNetworkAccess: 'enabled'
    // Entra for people and CQA's identity; keys stay for `botctl index sync`.
    authOptions: {
      aadOrApiKey: { aadAuthFailureMode: 'http401WithBearerChallenge' }
    }
  }
}

resource language 'Microsoft.CognitiveServices/accounts@2023-05-01' = {
  // checkov:skip=CKV_AZURE_134: the web apps call the Language endpoint over the internet until the stamps get VNet integration and private endpoints.
  // checkov:skip=CKV_AZURE_236: the bot's CQA client and `botctl kb sync` authenticate with a resource key (from Key Vault, written by main.bicep); the app identity's role below is there for Entra, but local auth must stay until the client sends tokens.
  name: 'lang-${name}-${suffix}'
  location: location
  tags: tags
  kind: 'TextAnalytics'
  sku: { name: 'S' }
  identity: { type: 'SystemAssigned' }
  properties: {
    // The endpoint https://<customSubDomainName>.cognitiveservices.azure.com;
    // Entra needs a custom subdomain.
    customSubDomainName: 'lang-${name}-${suffix}'
    publicNetworkAccess: 'Enabled'
    disableLocalAuth: false
    // Custom question answering: the KB lives in this region's Search service.
    apiProperties: {
      qnaAzureSearchEndpointId: search.id
    }
  }
}

// CQA's identity manages its indexes in the linked Search service.
resource cqaSearchIndex 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(search.id, language.id, searchIndexDataContributor)
  scope: search
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', searchIndexDataContributor)
    principalId: language.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

resource cqaSearchService 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(search.id, language.id, searchServiceContributor)
  scope: search
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', searchServiceContributor)
    principalId: language.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

output languageName string = language.name
output languageId string = language.id
output languageEndpoint string = 'https://${language.properties.customSubDomainName}.cognitiveservices.azure.com'
output languageHost string = '${language.properties.customSubDomainName}.cognitiveservices.azure.com'
output searchName string = search.name
output searchId string = search.id
output searchEndpoint string = 'https://${search.name}.search.windows.net'
