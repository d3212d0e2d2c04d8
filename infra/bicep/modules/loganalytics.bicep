// Log Analytics: the workspace (new, or an existing one), drswatch's custom
// alerts table, and the saved searches from the README.
//
// Deployed at the workspace's resource group (main.bicep sets the module
// scope), because the table and the saved searches are workspace children.
//
// The table's name and columns come from schema/alerts.json, the ONE
// declaration of the alerts table (also read by the Go code and by dcr.bicep).

@description('Workspace name (new or existing).')
param workspaceName string

@description('Create the workspace (true) or use an existing one of that name in this resource group (false).')
param createWorkspace bool

@description('Region of a new workspace (ignored for an existing one).')
param location string
param tags object = {}

@description('Retention of a new workspace, in days.')
@minValue(30)
@maxValue(730)
param workspaceRetentionInDays int

@description('Interactive retention of the alerts table in days (4-730, the tables API\'s bounds); null keeps the workspace default.')
@minValue(4)
@maxValue(730)
param alertsRetentionInDays int?

@description('Function folder names (SignInLogs, Sweep): used by the function-health saved search.')
param functionNames array

var schema = loadJsonContent('../../../schema/alerts.json')

// DCR stream types use `datetime`; table columns spell it `dateTime`.
var tableColumns = [for c in schema.columns: {
  name: c.name
  type: c.type == 'datetime' ? 'dateTime' : c.type
  description: c.description
}]

resource newWorkspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = if (createWorkspace) {
  name: workspaceName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: workspaceRetentionInDays
    features: {
      enableLogAccessUsingOnlyResourcePermissions: true
    }
  }
}

// The workspace either way; children below depend on newWorkspace explicitly.
resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  name: workspaceName
}

resource alertsTable 'Microsoft.OperationalInsights/workspaces/tables@2023-09-01' = {
  parent: workspace
  name: schema.table
  // retentionInDays is sent only when set: the type definition bounds it to
  // 4..730, so the workspace default is asked for by leaving it out rather
  // than by the REST API's -1.
  properties: union({
    plan: 'Analytics'
    schema: {
      name: schema.table
      description: 'drswatch alerts: one row per alert revision (schema/alerts.json).'
      columns: tableColumns
    }
  }, alertsRetentionInDays == null ? {} : {
    retentionInDays: alertsRetentionInDays
  })
  dependsOn: [
    newWorkspace
  ]
}

var table = schema.table
var signinUnion = 'union isfuzzy=true (SigninLogs | extend SigninTable = "SigninLogs"), (AADNonInteractiveUserSignInLogs | extend SigninTable = "AADNonInteractiveUserSignInLogs")'
var functionList = join(map(functionNames, f => '"${f}"'), ', ')

// The README's saved searches (Logs > Queries > "drswatch").
var savedSearches = [
  {
    name: 'drswatch-latest-revisions'
    displayName: 'drswatch: latest revision of each alert'
    query: '${table}\n| summarize arg_max(Revision, *) by AlertId\n| where isempty(SupersededBy)\n| order by LastSeen desc'
    functionAlias: ''
    functionParameters: ''
  }
  {
    name: 'drswatch-open-24h'
    displayName: 'drswatch: open alerts in the last 24h'
    query: '${table}\n| where TimeGenerated > ago(24h)\n| summarize arg_max(Revision, *) by AlertId\n| where isempty(SupersededBy)\n| where WindowEnd > ago(24h)\n| project TimeGenerated, AlertId, Revision, Severity, UserPrincipalName, SessionId, WindowStart, WindowEnd, SourceAddressCount, EventCount, SourceAddresses, SourceCountries, UserAgents\n| order by TimeGenerated desc'
    functionAlias: ''
    functionParameters: ''
  }
  {
    // Saved as a function: DrsWatchUserHistory("user@contoso.com")
    name: 'drswatch-user-history'
    displayName: 'drswatch: one user\'s alert history'
    query: '${table}\n| where UserPrincipalName =~ upn or UserPrincipalNames has upn\n| summarize arg_max(Revision, *) by AlertId\n| where isempty(SupersededBy)\n| order by WindowStart desc'
    functionAlias: 'DrsWatchUserHistory'
    functionParameters: 'upn:string'
  }
  {
    // Needs the sign-in logs in this workspace too (a second Entra diagnostic
    // setting to Log Analytics). SessionId is read with column_ifexists.
    name: 'drswatch-pivot-signins'
    displayName: 'drswatch: pivot an alert to SigninLogs by session id'
    query: '${table}\n| summarize arg_max(Revision, *) by AlertId\n| where isempty(SupersededBy)\n| project AlertId, AlertUser = UserPrincipalName, SessionId, WindowStart, WindowEnd\n| join kind=inner (\n    ${signinUnion}\n    | extend SessionId = tostring(column_ifexists("SessionId", ""))\n    | where isnotempty(SessionId)\n    | project SigninTime = TimeGenerated, SigninTable, SessionId, UserPrincipalName, IPAddress, AppDisplayName, ResourceDisplayName, ResultType, UserAgent, UniqueTokenIdentifier\n  ) on SessionId\n| where SigninTime between ((WindowStart - 1h) .. (WindowEnd + 1h))\n| order by AlertId asc, SigninTime asc'
    functionAlias: ''
    functionParameters: ''
  }
  {
    // Workspace-based Application Insights writes AppRequests/AppTraces here.
    name: 'drswatch-function-health'
    displayName: 'drswatch: function invocations and failures'
    query: 'AppRequests\n| where TimeGenerated > ago(24h) and OperationName in (${functionList})\n| summarize Invocations = count(), Failures = countif(Success == false), P95ms = percentile(DurationMs, 95) by OperationName, bin(TimeGenerated, 1h)\n| order by TimeGenerated desc'
    functionAlias: ''
    functionParameters: ''
  }
]

resource searches 'Microsoft.OperationalInsights/workspaces/savedSearches@2020-08-01' = [for s in savedSearches: {
  parent: workspace
  name: s.name
  properties: union({
    category: 'drswatch'
    displayName: s.displayName
    query: s.query
    version: 2
  }, empty(s.functionAlias) ? {} : {
    functionAlias: s.functionAlias
    functionParameters: s.functionParameters
  })
  dependsOn: [
    newWorkspace
    alertsTable
  ]
}]

output id string = workspace.id
output name string = workspace.name
output location string = workspace.location
output customerId string = workspace.properties.customerId
output tableName string = alertsTable.name
