// Storage account shared by the Functions host and drswatch's state.
//
//   account (StorageV2, no shared keys, no public blobs, TLS 1.2)
//   ├── blob: deployment container   ← Flex Consumption reads the app package here
//   ├── blob: dead-letter container  ← invocations no retry can fix (DRSWATCH_DEADLETTER_CONTAINER)
//   │   (+ host leases/checkpoints: azure-webjobs-*, created by the host)
//   ├── queue: used by the host when it needs queues (created by the host)
//   └── table: state table           ← drswatch's window state (DRSWATCH_TABLE_NAME), made here:
//                                      the app's role is scoped to this one table, so it cannot
//                                      create tables itself
//
// allowSharedKeyAccess is false: every client (host, Flex deployment,
// drswatch's table and blob clients) authenticates with Entra ID.

@description('Storage account name (3-24 lowercase letters and digits, globally unique).')
@minLength(3)
@maxLength(24)
param accountName string

param location string
param tags object = {}

@description('Blob container holding the Flex Consumption deployment package.')
param deploymentContainerName string

@description('Blob container for dead-lettered invocations (DRSWATCH_DEADLETTER_CONTAINER).')
@minLength(3)
@maxLength(63)
param deadLetterContainerName string

@description('Table holding drswatch window state (DRSWATCH_TABLE_NAME).')
@minLength(3)
@maxLength(63)
param stateTableName string

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: accountName
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    publicNetworkAccess: 'Enabled'
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource deadLetterContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deadLetterContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: account
  name: 'default'
}

resource stateTable 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = {
  parent: tableService
  name: stateTableName
}

// The account's endpoints as Azure reports them (any cloud), e.g.
// https://<account>.blob.core.windows.net/ ; the trailing slash is dropped
// for the DRSWATCH_*_SERVICE_URI settings.
var blobEndpoint = account.properties.primaryEndpoints.blob
var tableEndpoint = account.properties.primaryEndpoints.table

output name string = account.name
output id string = account.id
// e.g. https://<account>.blob.core.windows.net/<container>
output deploymentContainerUrl string = '${blobEndpoint}${deploymentContainer.name}'
output blobServiceUri string = endsWith(blobEndpoint, '/') ? take(blobEndpoint, length(blobEndpoint) - 1) : blobEndpoint
output tableServiceUri string = endsWith(tableEndpoint, '/') ? take(tableEndpoint, length(tableEndpoint) - 1) : tableEndpoint
output stateTableName string = stateTable.name
output deadLetterContainerName string = deadLetterContainer.name
