// Application Insights for the Functions host's logs (traces, requests,
// exceptions), workspace-based, with local (instrumentation key) auth off:
// the host sends telemetry with the app's managed identity
// (APPLICATIONINSIGHTS_AUTHENTICATION_STRING=Authorization=AAD) and needs
// Monitoring Metrics Publisher on this component (roles.bicep).

param name string
param location string
param tags object = {}

@description('Resource id of the Log Analytics workspace the telemetry lands in.')
param workspaceId string

resource component 'Microsoft.Insights/components@2020-02-02' = {
  name: name
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspaceId
    DisableLocalAuth: true
    IngestionMode: 'LogAnalytics'
  }
}

output id string = component.id
output name string = component.name
// A locator (endpoint + component id), not a credential: local auth is off.
output connectionString string = component.properties.ConnectionString
