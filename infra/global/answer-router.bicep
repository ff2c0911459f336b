// The router for the answer service: one Front Door endpoint in front of both
// regions' Language resources (custom question answering and CLU), region A
// at priority 1. Front Door rather than Traffic Manager because the Language
// front ends route by Host header and present only their own certificate: a
// DNS-only router's name could be neither. Front Door terminates TLS on its
// own name and calls each origin by the origin's name.
//
// Callers through this router authenticate with Entra (the stamps' identities
// hold Cognitive Services User on both resources): a resource key is valid on
// one resource only. The bot itself lists both regional endpoints, each with
// its own key, and fails over between them without any router.

param name string
param tags object = {}

@description('Language host names in priority order: region A first.')
param languageHosts array

@description('Origin names, the regions, in the order of languageHosts.')
param originNames array

param workspaceId string

resource profile 'Microsoft.Cdn/profiles@2024-02-01' = {
  name: 'afd-${name}-answers'
  location: 'global'
  tags: tags
  sku: { name: 'Standard_AzureFrontDoor' }
  properties: {
    originResponseTimeoutSeconds: 30
  }
}

resource endpoint 'Microsoft.Cdn/profiles/afdEndpoints@2024-02-01' = {
  parent: profile
  name: 'answers-${name}-${uniqueString(resourceGroup().id)}'
  location: 'global'
  properties: {
    enabledState: 'Enabled'
  }
}

resource originGroup 'Microsoft.Cdn/profiles/originGroups@2024-02-01' = {
  parent: profile
  name: 'language-regions'
  properties: {
    // The Language front end answers a HEAD of its root without a key; a
    // region whose front end stops answering drops out. (With every origin
    // unhealthy Front Door still sends to all of them, so a probe that
    // misjudges both never takes answers down.)
    healthProbeSettings: {
      probePath: '/'
      probeRequestType: 'HEAD'
      probeProtocol: 'Https'
      probeIntervalInSeconds: 30
    }
    loadBalancingSettings: {
      sampleSize: 4
      successfulSamplesRequired: 3
      additionalLatencyInMilliseconds: 0
    }
    sessionAffinityState: 'Disabled'
  }
}

resource origins 'Microsoft.Cdn/profiles/originGroups/origins@2024-02-01' = [for (host, i) in languageHosts: {
  parent: originGroup
  name: originNames[i]
  properties: {
    hostName: host
    originHostHeader: host
    httpsPort: 443
    priority: i + 1
    weight: 1000
    enabledState: 'Enabled'
    enforceCertificateNameCheck: true
  }
}]

resource route 'Microsoft.Cdn/profiles/afdEndpoints/routes@2024-02-01' = {
  parent: endpoint
  name: 'language'
  properties: {
    originGroup: { id: originGroup.id }
    // The query APIs only: authoring (project import, deploy) goes to one
    // region's resource by name, never through a router.
    patternsToMatch: ['/language/*']
    supportedProtocols: ['Https']
    forwardingProtocol: 'HttpsOnly'
    httpsRedirect: 'Disabled'
    linkToDefaultDomain: 'Enabled'
    enabledState: 'Enabled'
  }
  dependsOn: [
    origins
  ]
}

resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: profile
  properties: {
    workspaceId: workspaceId
    logs: [
      { categoryGroup: 'allLogs', enabled: true }
    ]
    metrics: [
      { category: 'AllMetrics', enabled: true }
    ]
  }
}

output profileName string = profile.name
output endpoint string = 'https://${endpoint.properties.hostName}'
