// Traffic Manager in front of both regions: priority routing (A, then B),
// fast HTTPS probes on /readyz, and a low DNS TTL, so a region that fails its
// readiness is out of DNS in about interval x (tolerated failures + 1) + TTL.

param name string

@description('Web app resource ids in priority order: region A (primary) first.')
param siteIds array

@description('Endpoint names, the regions, in the order of siteIds: the runbook and the pipelines disable and enable endpoints by these names.')
param endpointNames array

@description('Log Analytics workspace for the probe health events.')
param workspaceId string

param tags object = {}

@description('Probe interval: 10 s is Traffic Manager fast probing (30 s is the normal rate).')
@allowed([10, 30])
param probeIntervalSeconds int = 10

@description('Fast probing (10 s) needs a timeout of 5-9 s.')
@minValue(5)
@maxValue(9)
param probeTimeoutSeconds int = 5

@minValue(0)
@maxValue(9)
param toleratedFailures int = 2

@description('DNS TTL in seconds: resolvers forget the old region this fast.')
param ttlSeconds int = 10

resource profile 'Microsoft.Network/trafficmanagerprofiles@2022-04-01' = {
  name: 'tm-${name}'
  location: 'global'
  tags: tags
  properties: {
    profileStatus: 'Enabled'
    trafficRoutingMethod: 'Priority'
    dnsConfig: {
      relativeName: 'tm-${name}-${uniqueString(resourceGroup().id)}'
      ttl: ttlSeconds
    }
    monitorConfig: {
      protocol: 'HTTPS'
      port: 443
      path: '/readyz'
      intervalInSeconds: probeIntervalSeconds
      timeoutInSeconds: probeTimeoutSeconds
      toleratedNumberOfFailures: toleratedFailures
      // Only 200 is ready; /readyz answers 503 while draining or degraded.
      expectedStatusCodeRanges: [
        { min: 200, max: 200 }
      ]
    }
    endpoints: [for (siteId, i) in siteIds: {
      name: endpointNames[i]
      type: 'Microsoft.Network/trafficManagerProfiles/azureEndpoints'
      properties: {
        targetResourceId: siteId
        endpointStatus: 'Enabled'
        priority: i + 1
      }
    }]
  }
}

resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: profile
  properties: {
    workspaceId: workspaceId
    // ProbeHealthStatusEvents: each endpoint's probe result changes.
    logs: [
      { categoryGroup: 'allLogs', enabled: true }
    ]
    metrics: [
      { category: 'AllMetrics', enabled: true }
    ]
  }
}

output name string = profile.name
output fqdn string = profile.properties.dnsConfig.fqdn
output id string = profile.id
