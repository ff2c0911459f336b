// The Front Door variant's profile and WAF policy, deployed before the stamps:
// each stamp locks its production slot to this profile's id (X-Azure-FDID).
// front-door.bicep adds the endpoint, origins and route once the stamps exist.

param name string
param tags object = {}

@description('Log Analytics workspace for access, health probe and WAF logs.')
param workspaceId string

// Premium: the managed rule sets (Default Rule Set, Bot Manager) need it.
resource profile 'Microsoft.Cdn/profiles@2024-02-01' = {
  name: 'afd-${name}'
  location: 'global'
  tags: tags
  sku: { name: 'Premium_AzureFrontDoor' }
  properties: {
    originResponseTimeoutSeconds: 30
  }
}

resource waf 'Microsoft.Network/FrontDoorWebApplicationFirewallPolicies@2024-02-01' = {
  // Letters and digits only.
  name: 'waf${replace(name, '-', '')}'
  location: 'Global'
  tags: tags
  sku: { name: 'Premium_AzureFrontDoor' }
  properties: {
    policySettings: {
      enabledState: 'Enabled'
      mode: 'Prevention'
      requestBodyCheck: 'Enabled'
    }
    managedRules: {
      managedRuleSets: [
        {
          ruleSetType: 'Microsoft_DefaultRuleSet'
          ruleSetVersion: '2.1'
          ruleSetAction: 'Block'
          // A message's text is what a person typed ("select * from my
          // order?"); the bot treats it as data, and blocking it would lose
          // the turn. Every other field is still inspected.
          exclusions: [
            {
              matchVariable: 'RequestBodyJsonArgNames'
              selectorMatchOperator: 'Equals'
              selector: 'text'
            }
          ]
        }
        {
          ruleSetType: 'Microsoft_BotManagerRuleSet'
          ruleSetVersion: '1.0'
        }
      ]
    }
  }
}

resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: profile
  properties: {
    workspaceId: workspaceId
    // FrontDoorAccessLog, FrontDoorHealthProbeLog, FrontDoorWebApplicationFirewallLog.
    logs: [
      { categoryGroup: 'allLogs', enabled: true }
    ]
    metrics: [
      { category: 'AllMetrics', enabled: true }
    ]
  }
}

output name string = profile.name
output id string = profile.id
output frontDoorId string = profile.properties.frontDoorId
output wafPolicyId string = waf.id
