// Alerts, every one through the action group given as a parameter (on-call
// owns it; this repo never creates or changes it). scripts/check_deploy.py
// fails on any alert here without an action group.

param name string
param tags object = {}

@description('Resource id of the action group every alert notifies.')
param actionGroupId string

@description('Stamp regions, primary first; the web apps, their regions and their Log Analytics workspaces in that order.')
param regions array
param siteIds array
param workspaceIds array

@description('Router: the Traffic Manager profile id or the Front Door profile id (the other empty).')
param trafficManagerId string = ''
param frontDoorId string = ''

param cosmosId string

@description('The sync jobs (sync-job.bicep).')
param syncJobIds array

@description('Key Vault holding the TLS certificate (near-expiry events alert), and its region.')
param keyVaultName string
param keyVaultLocation string

@description('5xx answers per region in 5 minutes that page.')
param http5xxThreshold int = 10

@description('Cosmos DB 429 (throttled) answers in 5 minutes that page.')
param cosmos429Threshold int = 100

var actions = [
  { actionGroupId: actionGroupId }
]
var single = 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'

// The router sees a region's /readyz fail: Traffic Manager endpoint degraded.
resource tmEndpointDown 'Microsoft.Insights/metricAlerts@2018-03-01' = if (!empty(trafficManagerId)) {
  name: 'alert-${name}-tm-endpoint-degraded'
  location: 'global'
  tags: tags
  properties: {
    description: 'A Traffic Manager endpoint is degraded: that region fails /readyz and gets no new traffic.'
    severity: 1
    enabled: true
    scopes: [trafficManagerId]
    evaluationFrequency: 'PT1M'
    windowSize: 'PT5M'
    criteria: {
      'odata.type': single
      allOf: [
        {
          name: 'endpoint-down'
          criterionType: 'StaticThresholdCriterion'
          metricNamespace: 'Microsoft.Network/trafficManagerProfiles'
          metricName: 'ProbeAgentCurrentEndpointStateByProfileResourceId'
          dimensions: [
            { name: 'EndpointName', operator: 'Include', values: ['*'] }
          ]
          operator: 'LessThan'
          threshold: 1
          timeAggregation: 'Minimum'
        }
      ]
    }
    actions: actions
  }
}

// The same for the Front Door variant: an origin fails its /readyz probes.
resource afdOriginDown 'Microsoft.Insights/metricAlerts@2018-03-01' = if (!empty(frontDoorId)) {
  name: 'alert-${name}-afd-origin-degraded'
  location: 'global'
  tags: tags
  properties: {
    description: 'A Front Door origin fails its /readyz probes.'
    severity: 1
    enabled: true
    scopes: [frontDoorId]
    evaluationFrequency: 'PT1M'
    windowSize: 'PT5M'
    criteria: {
      'odata.type': single
      allOf: [
        {
          name: 'origin-health'
          criterionType: 'StaticThresholdCriterion'
          metricNamespace: 'Microsoft.Cdn/profiles'
          metricName: 'OriginHealthPercentage'
          dimensions: [
            { name: 'Origin', operator: 'Include', values: ['*'] }
          ]
          operator: 'LessThan'
          threshold: 100
          timeAggregation: 'Average'
        }
      ]
    }
    actions: actions
  }
}

resource http5xx 'Microsoft.Insights/metricAlerts@2018-03-01' = [for (siteId, i) in siteIds: {
  name: 'alert-${name}-${regions[i]}-http5xx'
  location: 'global'
  tags: tags
  properties: {
    description: 'Region ${regions[i]} answers 5xx.'
    severity: 2
    enabled: true
    scopes: [siteId]
    evaluationFrequency: 'PT1M'
    windowSize: 'PT5M'
    criteria: {
      'odata.type': single
      allOf: [
        {
          name: 'http5xx'
          criterionType: 'StaticThresholdCriterion'
          metricNamespace: 'Microsoft.Web/sites'
          metricName: 'Http5xx'
          operator: 'GreaterThan'
          threshold: http5xxThreshold
          timeAggregation: 'Total'
        }
      ]
    }
    actions: actions
  }
}]

// Liveness: App Service's own health check (/healthz) failing on instances.
resource liveness 'Microsoft.Insights/metricAlerts@2018-03-01' = [for (siteId, i) in siteIds: {
  name: 'alert-${name}-${regions[i]}-healthz'
  location: 'global'
  tags: tags
  properties: {
    description: 'Instances of region ${regions[i]} fail /healthz; App Service replaces them.'
    severity: 2
    enabled: true
    scopes: [siteId]
    evaluationFrequency: 'PT1M'
    windowSize: 'PT5M'
    criteria: {
      'odata.type': single
      allOf: [
        {
          name: 'healthz'
          criterionType: 'StaticThresholdCriterion'
          metricNamespace: 'Microsoft.Web/sites'
          metricName: 'HealthCheckStatus'
          operator: 'LessThan'
          threshold: 100
          timeAggregation: 'Average'
        }
      ]
    }
    actions: actions
  }
}]

// Readiness failures an instance reports (the router's probes and the swap
// warm-up see /readyz 503), before the router takes the whole region out.
resource readiness 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = [for (workspaceId, i) in workspaceIds: {
  name: 'alert-${name}-${regions[i]}-readyz'
  location: regions[i]
  tags: tags
  properties: {
    description: 'Region ${regions[i]} answers /readyz with an error: a dependency (Cosmos DB, Blob, Language) fails there.'
    severity: 2
    enabled: true
    scopes: [workspaceId]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT5M'
    criteria: {
      allOf: [
        {
          query: 'AppServiceHTTPLogs | where CsUriStem == "/readyz" and ScStatus >= 500'
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    actions: {
      actionGroups: [actionGroupId]
    }
  }
}]

resource cosmosThrottled 'Microsoft.Insights/metricAlerts@2018-03-01' = {
  name: 'alert-${name}-cosmos-429'
  location: 'global'
  tags: tags
  properties: {
    description: 'Cosmos DB throttles (429): the container needs more throughput, or a hot partition.'
    severity: 2
    enabled: true
    scopes: [cosmosId]
    evaluationFrequency: 'PT1M'
    windowSize: 'PT5M'
    criteria: {
      'odata.type': single
      allOf: [
        {
          name: 'throttled'
          criterionType: 'StaticThresholdCriterion'
          metricNamespace: 'Microsoft.DocumentDB/databaseAccounts'
          metricName: 'TotalRequests'
          dimensions: [
            { name: 'StatusCode', operator: 'Include', values: ['429'] }
          ]
          operator: 'GreaterThan'
          threshold: cosmos429Threshold
          timeAggregation: 'Count'
        }
      ]
    }
    actions: actions
  }
}

// ServiceAvailability is reported hourly.
resource cosmosAvailability 'Microsoft.Insights/metricAlerts@2018-03-01' = {
  name: 'alert-${name}-cosmos-availability'
  location: 'global'
  tags: tags
  properties: {
    description: 'Cosmos DB availability fell below 100% in the last hour.'
    severity: 1
    enabled: true
    scopes: [cosmosId]
    evaluationFrequency: 'PT1H'
    windowSize: 'PT1H'
    criteria: {
      'odata.type': single
      allOf: [
        {
          name: 'availability'
          criterionType: 'StaticThresholdCriterion'
          metricNamespace: 'Microsoft.DocumentDB/databaseAccounts'
          metricName: 'ServiceAvailability'
          operator: 'LessThan'
          threshold: 100
          timeAggregation: 'Average'
        }
      ]
    }
    actions: actions
  }
}

// A failed sync run: an error, or drift botctl found after copying.
resource syncFailed 'Microsoft.Insights/metricAlerts@2018-03-01' = [for (jobId, i) in syncJobIds: {
  name: 'alert-${name}-sync-${i}-failed'
  location: 'global'
  tags: tags
  properties: {
    description: 'A KB/index sync run failed or found the regions different (drift); see the job\'s console log.'
    severity: 2
    enabled: true
    scopes: [jobId]
    evaluationFrequency: 'PT15M'
    windowSize: 'PT1H'
    criteria: {
      'odata.type': single
      allOf: [
        {
          name: 'failed-runs'
          criterionType: 'StaticThresholdCriterion'
          metricNamespace: 'Microsoft.App/jobs'
          metricName: 'Executions'
          dimensions: [
            { name: 'state', operator: 'Include', values: ['Failed'] }
          ]
          operator: 'GreaterThan'
          threshold: 0
          timeAggregation: 'Total'
        }
      ]
    }
    actions: actions
  }
}]

// Certificates near expiry (Key Vault raises the event 30 days ahead), as an
// Azure Monitor alert through the same action group.
resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource vaultEvents 'Microsoft.EventGrid/systemTopics@2023-12-15-preview' = {
  name: 'evgt-${name}-kv'
  location: keyVaultLocation
  tags: tags
  properties: {
    source: vault.id
    topicType: 'Microsoft.KeyVault.vaults'
  }
}

resource certificateExpiry 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2023-12-15-preview' = {
  parent: vaultEvents
  name: 'certificate-near-expiry'
  properties: {
    eventDeliverySchema: 'CloudEventSchemaV1_0'
    filter: {
      includedEventTypes: [
        'Microsoft.KeyVault.CertificateNearExpiry'
        'Microsoft.KeyVault.CertificateExpired'
      ]
    }
    destination: {
      endpointType: 'MonitorAlert'
      properties: {
        severity: 'Sev2'
        description: 'A certificate in ${keyVaultName} is near expiry: renew it and import the new version (infra/README.md, custom domain).'
        actionGroups: [actionGroupId]
      }
    }
  }
}
