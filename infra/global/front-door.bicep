// The optional Front Door variant: one endpoint (and the custom domain, with
// a certificate Front Door manages), one origin group with both regions (A at
// priority 1, B at 2) probing /readyz, and the WAF policy on every domain.
// The profile comes from front-door-profile.bicep; the stamps accept only
// this profile's traffic.

param name string

@description('The profile (front-door-profile.bicep).')
param profileName string

@description('The WAF policy (front-door-profile.bicep).')
param wafPolicyId string

@description('Default host names of the web apps in priority order: region A first.')
param originHostNames array

@description('Origin names, the regions, in the order of originHostNames (the runbook disables origins by these names).')
param originNames array

@description('Custom domain the channels call (a CNAME to the endpoint host). Empty: the endpoint\'s own *.azurefd.net name.')
param customDomain string = ''

@description('Front Door probes from many edges; /readyz answers from cache, but keep the rate modest.')
param probeIntervalSeconds int = 30

resource profile 'Microsoft.Cdn/profiles@2024-02-01' existing = {
  name: profileName
}

resource endpoint 'Microsoft.Cdn/profiles/afdEndpoints@2024-02-01' = {
  parent: profile
  name: 'fde-${name}-${uniqueString(resourceGroup().id)}'
  location: 'global'
  properties: {
    enabledState: 'Enabled'
  }
}

// Needs the TXT record _dnsauth.<domain> = validationToken (output) and the
// CNAME <domain> -> the endpoint host; Front Door then issues and renews the
// certificate itself.
resource domain 'Microsoft.Cdn/profiles/customDomains@2024-02-01' = if (!empty(customDomain)) {
  parent: profile
  name: empty(customDomain) ? 'none' : replace(customDomain, '.', '-')
  properties: {
    hostName: customDomain
    tlsSettings: {
      certificateType: 'ManagedCertificate'
      minimumTlsVersion: 'TLS12'
    }
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
  name: 'all'
  properties: {
    originGroup: { id: originGroup.id }
    customDomains: empty(customDomain) ? [] : [
      { id: domain.id }
    ]
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

resource security 'Microsoft.Cdn/profiles/securityPolicies@2024-02-01' = {
  parent: profile
  name: 'waf'
  properties: {
    parameters: {
      type: 'WebApplicationFirewall'
      wafPolicy: { id: wafPolicyId }
      associations: [
        {
          domains: empty(customDomain) ? [
            { id: endpoint.id }
          ] : [
            { id: endpoint.id }
            { id: domain.id }
          ]
          patternsToMatch: ['/*']
        }
      ]
    }
  }
}

output hostName string = endpoint.properties.hostName
output originGroupName string = originGroup.name
output customDomainValidationToken string = empty(customDomain) ? '' : domain.properties.validationProperties.validationToken
