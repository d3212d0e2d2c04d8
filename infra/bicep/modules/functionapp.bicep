// The Function App: Flex Consumption, Linux, custom handler (the `drswatch`
// binary, started by host.json as `drswatch serve`), system-assigned managed
// identity.
//
// Flex Consumption scales per function and to zero, has no Azure Files
// content share (so it works with allowSharedKeyAccess=false), and reads the
// package from a blob container with the managed identity. The runtime is
// declared in functionAppConfig.runtime (custom 1.0); FUNCTIONS_WORKER_RUNTIME
// and FUNCTIONS_EXTENSION_VERSION are not set (Flex rejects them), and
// siteConfig carries none of the properties Flex rejects with ARM error 51021
// (ftpsState, linuxFxVersion, alwaysOn, use32BitWorkerProcess, ...; checked by
// ../shared/tools/bicepcheck). Elastic Premium is not offered: the README's
// Deploy section says why.
//
// Every app setting comes from main.bicep's `appSettings` object; this
// module adds none of its own (bicep_test.go checks both).

param name string
param location string
param tags object = {}

@description('App settings (name → value), all of them.')
param appSettings object

@description('Blob container URL for the deployment package (https://<account>.blob.core.windows.net/<container>).')
param deploymentContainerUrl string

@description('Most instances the app scales out to (Flex: 40 to 1000).')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int

@description('Memory per instance (Flex: 512, 2048 or 4096 MB).')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int

@description('Instances kept running for the SignInLogs function (0: scale to zero). More than the hub\'s partitions (at most 32 on Standard) would idle: one instance reads a partition.')
@minValue(0)
@maxValue(32)
param alwaysReadyInstances int

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: '${name}-plan'
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true // Linux
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
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    siteConfig: {
      // A property loop directly in the resource body (a loop nested in a
      // variable's value is compile error BCP138).
      appSettings: [for s in items(appSettings): {
        name: s.key
        value: s.value
      }]
      minTlsVersion: '1.2'
    }
    // Runtime, deployment storage (read with the system-assigned identity)
    // and scale live here instead of in app settings.
    functionAppConfig: {
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
        alwaysReady: alwaysReadyInstances == 0 ? [] : [
          {
            name: 'function:SignInLogs'
            instanceCount: alwaysReadyInstances
          }
        ]
      }
      runtime: {
        name: 'custom'
        version: '1.0'
      }
    }
  }
}

output name string = site.name
output id string = site.id
output principalId string = site.identity.principalId
output defaultHostName string = site.properties.defaultHostName
