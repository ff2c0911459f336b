// Traffic Manager in front of both regions: priority routing (A, then B),
// fast HTTPS probes on /readyz, and a low DNS TTL, so a region that fails its
// readiness is out of DNS in about interval x (tolerated failures + 1) + TTL.

param name string

@description('Web app resource ids in priority order: region A (primary) first.')
param siteIds array

param tags object = {}

@description('Probe interval: 10 s is Traffic Manager fast probing (30 s is the normal rate).')
@allowed([10, 30])
param probeIntervalSeconds int = 10

@description('Fast probing needs a timeout of 5-9 s.')
@minValue(5)
@maxValue(10)
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
      name: 'region-${i == 0 ? 'a' : 'b'}'
      type: 'Microsoft.Network/trafficManagerProfiles/azureEndpoints'
      properties: {
        targetResourceId: siteId
        endpointStatus: 'Enabled'
        priority: i + 1
      }
    }]
  }
}

output fqdn string = profile.properties.dnsConfig.fqdn
output id string = profile.id
