// A stamp identity's grant on one region's Language resource (its own or the
// paired region's): query answers and intents with an Entra token.

param principalId string
param languageName string

// Built-in role: Cognitive Services User.
var cognitiveServicesUser = 'a97b65f3-24c7-4388-baec-2e87135dc908'

resource language 'Microsoft.CognitiveServices/accounts@2023-05-01' existing = {
  name: languageName
}

resource grant 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(language.id, principalId, cognitiveServicesUser)
  scope: language
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', cognitiveServicesUser)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}
