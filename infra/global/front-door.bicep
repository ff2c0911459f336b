// The optional Front Door variant: one endpoint, one origin group with both
// regions (A at priority 1, B at 2), probing /readyz. Use it instead of
// Traffic Manager when you want anycast and TLS at the edge.

param name string

@description('Default host names of the web apps in priority order: region A first.')
param originHostNames array

param tags object = {}

@description('Front Door probes from many edges; /readyz answers from cache, but keep the rate modest.')
param probeIntervalSeconds int = 30

resource profile 'Microsoft.Cdn/profiles@2024-02-01' = {
  name: 'afd-${name}'
  location: 'global'
  tags: tags
  sku: { name: 'Standard_AzureFrontDoor' }
  properties: {
    originResponseTimeoutSeconds: 30
  }
}

resource endpoint 'Microsoft.Cdn/profiles/afdEndpoints@2024-02-01' = {
  parent: profile
  name: 'fde-${name}-${uniqueString(resourceGroup().id)}'
  location: 'global'
  properties: {
    enabledState: 'Enabled'
  }
}

resource originGroup 'Microsoft.Cdn/profiles/originGroups@2024-02-01' = {
  parent: profile
  name: 'bot-regions'
  properties: {
    healthProbeSettings: {
      probePath: '/readyz'
      probeRequestType: 'GET'
      probeProtocol: 'Https'
      probeIntervalInSeconds: probeIntervalSeconds
    }
    loadBalancingSettings: {
      sampleSize: 4
      successfulSamplesRequired: 3
      additionalLatencyInMilliseconds: 0
    }
    sessionAffinityState: 'Disabled'
  }
}

resource origins 'Microsoft.Cdn/profiles/originGroups/origins@2024-02-01' = [for (host, i) in originHostNames: {
  parent: originGroup
  name: 'region-${i == 0 ? 'a' : 'b'}'
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
  name: 'all'
  properties: {
    originGroup: { id: originGroup.id }
    patternsToMatch: ['/*']
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

output hostName string = endpoint.properties.hostName
