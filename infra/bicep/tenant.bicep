// Entra ID diagnostic setting: stream interactive and non-interactive user
// sign-in logs, and the audit logs (device registrations: the attack chain's
// second step), to drswatch's Event Hub. Tenant scope, deployed separately
// from main.bicep (see the README's Deploy section for the permissions it needs: Security
// Administrator in Entra ID and Owner at root scope `/`).
//
//   az deployment tenant create --location <region> \
//     --template-file infra/bicep/tenant.bicep \
//     --parameters eventHubAuthorizationRuleId=<main.bicep output authorizationRuleId> eventHubName=<hubName output>
targetScope = 'tenant'

@description('Resource id of the namespace-level authorization rule (Listen, Send, Manage): main.bicep output authorizationRuleId.')
param eventHubAuthorizationRuleId string

@description('Hub to stream to: main.bicep output hubName. Always set: the default hub name Entra picks is not documented.')
param eventHubName string = 'entra-signins'

@description('Name of the diagnostic setting in Entra ID.')
param settingName string = 'drswatch-signins-to-eventhub'

@description('Log categories to stream. drswatch needs these three (the sign-ins for the seed rule and the PRT sign-ins, AuditLogs for device registrations); others only add volume.')
param categories array = [
  'SignInLogs'
  'NonInteractiveUserSignInLogs'
  'AuditLogs'
]

resource signinsToEventHub 'microsoft.aadiam/diagnosticSettings@2017-04-01' = {
  name: settingName
  properties: {
    eventHubAuthorizationRuleId: eventHubAuthorizationRuleId
    eventHubName: eventHubName
    logs: [for c in categories: {
      category: c
      enabled: true
    }]
  }
}

output diagnosticSettingName string = signinsToEventHub.name
