// Storage account shared by the Functions host and drswatch's window state.
//
//   account (StorageV2, no shared keys, no public blobs, TLS 1.2)
//   ├── blob: deployment container   ← Flex Consumption reads the app package here
//   │   (+ host leases/checkpoints: azure-webjobs-*, created by the host)
//   ├── queue: used by the host when it needs queues (created by the host)
//   └── table: state table           ← drswatch's window state (DRSWATCH_TABLE_NAME)
//
// allowSharedKeyAccess is false: every client (host, Flex deployment,
// drswatch's table client) authenticates with Entra ID.

@description('Storage account name (3-24 lowercase letters and digits, globally unique).')
@minLength(3)
@maxLength(24)
param accountName string

param location string
param tags object = {}

@description('Blob container holding the Flex Consumption deployment package.')
param deploymentContainerName string

@description('Table holding drswatch window state (DRSWATCH_TABLE_NAME).')
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

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: account
  name: 'default'
}

resource stateTable 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = {
  parent: tableService
  name: stateTableName
}

output name string = account.name
output id string = account.id
// e.g. https://<account>.blob.core.windows.net/<container>
output deploymentContainerUrl string = '${account.properties.primaryEndpoints.blob}${deploymentContainer.name}'
// https URI without a trailing slash, for DRSWATCH_TABLE_SERVICE_URI.
output tableServiceUri string = 'https://${account.name}.table.${environment().suffixes.storage}'
output stateTableName string = stateTable.name
