// drswatch: everything in one resource group (deploy with
// `az deployment group create`, see the README's Deploy section). Entra's diagnostic
// setting is tenant-scoped and lives in tenant.bicep, deployed separately
// with this deployment's `authorizationRuleId` output.
//
// Hosting: Flex Consumption only (see the README's Deploy section for why
// Elastic Premium is not offered).
//
// Data path:
//   Entra ID ──diagnostic setting──▶ Event Hub ──trigger──▶ Function App (drswatch serve)
//        window state ◀──▶ Table Storage        alerts ──Logs Ingestion API──▶ DCR ──▶ DrsWatchAlerts_CL
//   DrsWatchAlerts_CL ──scheduled query rules──▶ Azure Monitor alerts (+ optional action group)
//   requests/traces, Event Hubs metrics ──health rules──▶ Azure Monitor alerts
//
// Modules, in the order data flows: eventhubs → functionapp (+ storage) →
// loganalytics (workspace, table, saved searches) → dcr → roles → alerts → health.
targetScope = 'resourceGroup'

// ---------------------------------------------------------------- parameters

@description('Region for every resource (a new workspace and the DCR too).')
param location string = resourceGroup().location

@description('Short prefix for resource names (letters, digits, hyphens).')
@minLength(2)
@maxLength(12)
param namePrefix string = 'drswatch'

@description('Tags for every resource.')
param tags object = {
  app: 'drswatch'
}

@description('Function App name (globally unique host name).')
param functionAppName string = '${namePrefix}-func-${uniqueString(resourceGroup().id)}'

@description('Flex Consumption: most instances (40-1000). Event Hubs scaling never uses more instances than partitions.')
@minValue(40)
@maxValue(1000)
param flexMaximumInstanceCount int = 40

@description('Flex Consumption: memory per instance (MB).')
@allowed([
  512
  2048
  4096
])
param flexInstanceMemoryMB int = 2048

@description('Flex Consumption: instances kept running for SignInLogs (0 scales to zero; billed while idle). At most one instance reads a partition, so more than partitionCount would idle.')
@minValue(0)
@maxValue(32)
param flexAlwaysReadyInstances int = 0

@description('Event Hubs namespace name (globally unique; 6-50 characters, the type definition\'s bounds).')
@minLength(6)
@maxLength(50)
param eventHubsNamespaceName string = '${namePrefix}-ehns-${uniqueString(resourceGroup().id)}'

@description('Hub that Entra streams sign-in and audit logs to (1-256 characters).')
@minLength(1)
@maxLength(256)
param hubName string = 'entra-signins'

@description('Partitions of the sign-in hub: the most instances that read in parallel. Cannot be lowered later.')
@minValue(1)
@maxValue(32)
param partitionCount int = 4

@description('Days events stay in the hub (Standard: 1-7, included in the throughput-unit price up to 84 GB per TU). SignInLogs retries a failed batch without end, so this is the longest outage that loses nothing.')
@minValue(1)
@maxValue(7)
param messageRetentionInDays int = 7

@description('Consumer group of the SignInLogs function (its own, not $Default; 1-50 characters).')
@minLength(1)
@maxLength(50)
param consumerGroupName string = 'drswatch'

@description('Namespace authorization rule (Listen, Send, Manage) for the Entra diagnostic setting.')
param diagnosticsRuleName string = 'entra-diagnostics'

@description('Storage account for the Functions host and the state table (3-24 lowercase letters/digits).')
@minLength(3)
@maxLength(24)
param storageAccountName string = 'st${take(toLower(replace(namePrefix, '-', '')), 9)}${uniqueString(resourceGroup().id)}'

@description('State table name (DRSWATCH_TABLE_NAME): 3-63 letters and digits, starting with a letter. Created by the template.')
@minLength(3)
@maxLength(63)
param stateTableName string = 'drswatchstate'

@description('Blob container for invocations no retry can fix (DRSWATCH_DEADLETTER_CONTAINER): 3-63 lowercase letters, digits and hyphens.')
@minLength(3)
@maxLength(63)
param deadLetterContainerName string = 'drswatch-deadletter'

@description('How late a record may arrive after its window ends and still count (DRSWATCH_ALLOWED_LATENESS, a Go duration).')
param allowedLateness string = '24h'

@description('GeoIP city database (MMDB) inside the package, as make package GEOIP_CITY_DB=... prints it (e.g. geoip/GeoLite2-City.mmdb; relative to the app root). Empty: Entra\'s own location fills the geo columns (GeoSource entra).')
param geoipCityDb string = ''

@description('GeoIP ASN database (MMDB) inside the package, as make package GEOIP_ASN_DB=... prints it (e.g. geoip/GeoLite2-ASN.mmdb). Empty: SourceAsOrganizations stays empty.')
param geoipAsnDb string = ''

@description('Resource id of an existing Log Analytics workspace; empty creates a new one in this resource group.')
param existingWorkspaceId string = ''

@description('Name of the new workspace (when existingWorkspaceId is empty; 4-63 characters).')
@minLength(4)
@maxLength(63)
param workspaceName string = '${namePrefix}-law-${uniqueString(resourceGroup().id)}'

@description('Retention of a new workspace (days).')
@minValue(30)
@maxValue(730)
param workspaceRetentionInDays int = 90

@description('Interactive retention of the alerts table in days (4-730); null (the default) keeps the workspace\'s retention.')
@minValue(4)
@maxValue(730)
param alertsRetentionInDays int?

@description('Action group the alert rules notify (every new high or critical revision, and the health rules); empty for none.')
param actionGroupId string = ''

@description('Action group that pages on critical revisions (device registered, PRT used); empty for none.')
param pageActionGroupId string = ''

@description('The workspace has Microsoft Sentinel: add an analytics rule that turns alert revisions into incidents (one per AlertId, updated as the stage rises).')
param sentinelEnabled bool = false

@description('Health rule: failed SignInLogs invocations in 15 minutes that mean a batch is stuck in its endless retry.')
@minValue(1)
@maxValue(1000)
param healthFailureThreshold int = 2

@description('Health rule: growth of the hub backlog (incoming minus outgoing events) in one hour that means drswatch is falling behind.')
@minValue(1)
@maxValue(10000000)
param healthBacklogThreshold int = 1000

@description('How often the alert rules run (minutes).')
@allowed([
  5
  10
  15
])
param alertEvaluationMinutes int = 5

// ------------------------------------------------------------------ derived

// The workspace's subscription, resource group and name, from its resource id
// (the given one, or the new workspace's in this resource group).
var useExistingWorkspace = !empty(existingWorkspaceId)
var workspaceIdParts = split(useExistingWorkspace ? existingWorkspaceId : resourceId('Microsoft.OperationalInsights/workspaces', workspaceName), '/')
var lawSubscriptionId = workspaceIdParts[2]
var lawResourceGroup = workspaceIdParts[4]
var lawName = last(workspaceIdParts)

// The function folders (each holds a function.json); bicep_test.go checks
// this list against the repository. Used by the function-health saved search.
var functionNames = [
  'SignInLogs'
  'Sweep'
]

var schema = loadJsonContent('../../schema/alerts.json')

// ------------------------------------------------------------------ modules

module eventHubs 'modules/eventhubs.bicep' = {
  name: 'drswatch-eventhubs'
  params: {
    namespaceName: eventHubsNamespaceName
    location: location
    tags: tags
    hubName: hubName
    partitionCount: partitionCount
    messageRetentionInDays: messageRetentionInDays
    consumerGroupName: consumerGroupName
    diagnosticsRuleName: diagnosticsRuleName
  }
}

module storage 'modules/storage.bicep' = {
  name: 'drswatch-storage'
  params: {
    accountName: storageAccountName
    location: location
    tags: tags
    deploymentContainerName: 'app-package'
    deadLetterContainerName: deadLetterContainerName
    stateTableName: stateTableName
  }
}

module logAnalytics 'modules/loganalytics.bicep' = {
  name: 'drswatch-loganalytics'
  scope: resourceGroup(lawSubscriptionId, lawResourceGroup)
  params: {
    workspaceName: lawName
    createWorkspace: !useExistingWorkspace
    location: location
    tags: tags
    workspaceRetentionInDays: workspaceRetentionInDays
    alertsRetentionInDays: alertsRetentionInDays
    functionNames: functionNames
  }
}

module appInsights 'modules/appinsights.bicep' = {
  name: 'drswatch-appinsights'
  params: {
    name: '${namePrefix}-appi-${uniqueString(resourceGroup().id)}'
    location: location
    tags: tags
    workspaceId: logAnalytics.outputs.id
  }
}

module dcr 'modules/dcr.bicep' = {
  name: 'drswatch-dcr'
  params: {
    name: '${namePrefix}-dcr-alerts'
    location: logAnalytics.outputs.location // a DCR must be in its workspace's region
    tags: tags
    workspaceId: logAnalytics.outputs.id
    tableName: logAnalytics.outputs.tableName
  }
}

// App settings: every setting the Function App gets, in one place.
// bicep_test.go checks them against internal/config (config.Settings),
// function.json and the host's identity-connection settings. No connection
// strings, no keys: every connection is identity-based.
var appSettings = {
  // Functions host storage (leases, checkpoints, timer locks) via the managed identity.
  AzureWebJobsStorage__accountName: storage.outputs.name
  // The SignInLogs trigger's identity connection (function.json "connection": "SigninHub").
  SigninHub__fullyQualifiedNamespace: eventHubs.outputs.fullyQualifiedNamespace
  // function.json %DRSWATCH_HUB_NAME% and %DRSWATCH_CONSUMER_GROUP%.
  DRSWATCH_HUB_NAME: eventHubs.outputs.hubName
  DRSWATCH_CONSUMER_GROUP: eventHubs.outputs.consumerGroupName
  // Host telemetry with Entra auth (the component has local auth off).
  APPLICATIONINSIGHTS_CONNECTION_STRING: appInsights.outputs.connectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Authorization=AAD'
  // drswatch (internal/config): state in Table Storage via the managed identity.
  DRSWATCH_STATE: 'table'
  DRSWATCH_TABLE_SERVICE_URI: storage.outputs.tableServiceUri
  DRSWATCH_TABLE_NAME: storage.outputs.stateTableName
  DRSWATCH_ALLOWED_LATENESS: allowedLateness
  // GeoIP databases shipped in the package (make package GEOIP_*_DB=...); empty: none.
  DRSWATCH_GEOIP_CITY_DB: geoipCityDb
  DRSWATCH_GEOIP_ASN_DB: geoipAsnDb
  // drswatch dead-letters invocations no retry can fix to this container (managed identity).
  DRSWATCH_BLOB_SERVICE_URI: storage.outputs.blobServiceUri
  DRSWATCH_DEADLETTER_CONTAINER: storage.outputs.deadLetterContainerName
  // drswatch alerts → Logs Ingestion API → DCR → the custom table.
  DRSWATCH_SINK: 'loganalytics'
  DRSWATCH_LOGS_ENDPOINT: dcr.outputs.logsIngestionEndpoint
  DRSWATCH_LOGS_RULE_ID: dcr.outputs.immutableId
  DRSWATCH_LOGS_STREAM: schema.stream
}

module functionApp 'modules/functionapp.bicep' = {
  name: 'drswatch-functionapp'
  params: {
    name: functionAppName
    location: location
    tags: tags
    appSettings: appSettings
    deploymentContainerUrl: storage.outputs.deploymentContainerUrl
    maximumInstanceCount: flexMaximumInstanceCount
    instanceMemoryMB: flexInstanceMemoryMB
    alwaysReadyInstances: flexAlwaysReadyInstances
  }
}

module roles 'modules/roles.bicep' = {
  name: 'drswatch-roles'
  params: {
    principalId: functionApp.outputs.principalId
    eventHubsNamespaceName: eventHubs.outputs.namespaceName
    hubName: eventHubs.outputs.hubName
    storageAccountName: storage.outputs.name
    stateTableName: storage.outputs.stateTableName
    deadLetterContainerName: storage.outputs.deadLetterContainerName
    dataCollectionRuleName: dcr.outputs.name
    appInsightsName: appInsights.outputs.name
  }
}

module alerts 'modules/alerts.bicep' = {
  name: 'drswatch-alerts'
  params: {
    location: location
    tags: tags
    workspaceId: logAnalytics.outputs.id
    tableName: logAnalytics.outputs.tableName
    namePrefix: '${namePrefix}-alert'
    actionGroupId: actionGroupId
    pageActionGroupId: pageActionGroupId
    evaluationMinutes: alertEvaluationMinutes
  }
}

// Sentinel: incidents from alert revisions (only where the workspace has Sentinel).
module sentinel 'modules/sentinel.bicep' = if (sentinelEnabled) {
  name: 'drswatch-sentinel'
  scope: resourceGroup(lawSubscriptionId, lawResourceGroup)
  params: {
    workspaceName: lawName
    tableName: logAnalytics.outputs.tableName
    evaluationMinutes: alertEvaluationMinutes
  }
}

// drswatch's own health: failing invocations, a stalled or lagging consumer,
// dead letters (modules/health.bicep).
module health 'modules/health.bicep' = {
  name: 'drswatch-health'
  params: {
    location: location
    tags: tags
    namePrefix: '${namePrefix}-health'
    appInsightsId: appInsights.outputs.id
    workspaceId: logAnalytics.outputs.id
    eventHubsNamespaceName: eventHubs.outputs.namespaceName
    hubName: eventHubs.outputs.hubName
    actionGroupId: actionGroupId
    failureThreshold: healthFailureThreshold
    backlogThreshold: healthBacklogThreshold
  }
}

// ------------------------------------------------------------------ outputs

output functionAppName string = functionApp.outputs.name
output logsIngestionEndpoint string = dcr.outputs.logsIngestionEndpoint
output dcrImmutableId string = dcr.outputs.immutableId
output eventHubsNamespace string = eventHubs.outputs.namespaceName
output hubName string = eventHubs.outputs.hubName
@description('Pass to tenant.bicep as eventHubAuthorizationRuleId.')
output authorizationRuleId string = eventHubs.outputs.authorizationRuleId
output workspaceId string = logAnalytics.outputs.id
output workspaceCustomerId string = logAnalytics.outputs.customerId
output alertsTable string = logAnalytics.outputs.tableName
