// The Function App: Linux, custom handler (the `drswatch` binary, started by
// host.json as `drswatch serve`), system-assigned managed identity.
//
// hostingPlan:
// - FlexConsumption (default): scales per function and to zero, Linux only,
//   no Azure Files content share (so it works with allowSharedKeyAccess=false),
//   and the package lives in a blob container read with the managed identity.
//   The runtime is declared in functionAppConfig.runtime (custom 1.0);
//   FUNCTIONS_WORKER_RUNTIME / FUNCTIONS_EXTENSION_VERSION must NOT be set.
// - ElasticPremium: always-ready instances (no cold start), VNet options;
//   the runtime comes from FUNCTIONS_WORKER_RUNTIME=custom and
//   FUNCTIONS_EXTENSION_VERSION=~4 (main.bicep adds them for this plan).
//
// Every app setting comes from main.bicep's `appSettings` object; this
// module adds none of its own (bicep_test.go checks both).

param name string
param location string
param tags object = {}

@allowed([
  'FlexConsumption'
  'ElasticPremium'
])
param hostingPlan string

@description('App settings (name → value), all of them.')
param appSettings object

@description('Blob container URL for the Flex deployment package (https://<account>.blob.core.windows.net/<container>).')
param deploymentContainerUrl string

@description('Flex: most instances the app scales out to.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int

@description('Flex: memory per instance.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int

@description('Elastic Premium: SKU (EP1, EP2, EP3).')
@allowed([
  'EP1'
  'EP2'
  'EP3'
])
param premiumSku string

@description('Elastic Premium: most instances the plan bursts to.')
@minValue(1)
@maxValue(100)
param premiumMaximumElasticWorkerCount int

var isFlex = hostingPlan == 'FlexConsumption'

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: '${name}-plan'
  location: location
  tags: tags
  kind: isFlex ? 'functionapp' : 'elastic'
  sku: isFlex ? {
    name: 'FC1'
    tier: 'FlexConsumption'
  } : {
    name: premiumSku
    tier: 'ElasticPremium'
  }
  properties: union({
    reserved: true // Linux
  }, isFlex ? {} : {
    maximumElasticWorkerCount: premiumMaximumElasticWorkerCount
  })
}

var siteConfig = {
  appSettings: [for s in items(appSettings): {
    name: s.key
    value: s.value
  }]
  minTlsVersion: '1.2'
  ftpsState: 'Disabled'
  http20Enabled: true
}

// Flex: runtime, deployment storage (read with the system-assigned identity)
// and scale live here instead of in app settings.
var flexConfig = {
  deployment: {
    storage: {
      type: 'blobContainer'
      value: deploymentContainerUrl
      authentication: {
        type: 'SystemAssignedIdentity'
      }
    }
  }
  scaleAndConcurrency: {
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
  }
  runtime: {
    name: 'custom'
    version: '1.0'
  }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: tags
  kind: 'functionapp,linux'
  identity: {
    type: 'SystemAssigned'
  }
  properties: union({
    serverFarmId: plan.id
    httpsOnly: true
    siteConfig: isFlex ? siteConfig : union(siteConfig, {
      linuxFxVersion: '' // custom handler: no language stack
    })
  }, isFlex ? {
    functionAppConfig: flexConfig
  } : {})
}

output name string = site.name
output id string = site.id
output principalId string = site.identity.principalId
output defaultHostName string = site.properties.defaultHostName
