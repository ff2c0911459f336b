// The region's own Log Analytics workspace and workspace-based Application
// Insights: telemetry of a region stays in that region, and survives the other.

param name string
param location string
param tags object = {}

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: 'log-${name}'
  location: location
  tags: tags
  properties: {
    sku: { name: 'PerGB2018' }
    retentionInDays: 30
  }
}

resource insights 'Microsoft.Insights/components@2020-02-02' = {
  name: 'appi-${name}'
  location: location
  kind: 'web'
  tags: tags
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    // Local auth stays on: the Rust exporter sends with the connection string
    // (not a secret, it only allows writing telemetry) and cannot use Entra yet.
    DisableLocalAuth: false
    IngestionMode: 'LogAnalytics'
  }
}

output workspaceId string = workspace.id
output insightsId string = insights.id
output connectionString string = insights.properties.ConnectionString
