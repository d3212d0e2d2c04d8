// Event Hubs: where Entra ID streams sign-in logs and where the SignInLogs
// function reads them.
//
//   namespace (Standard, TLS 1.2)
//   └── hub (sign-in logs)            ← Entra diagnostic setting writes here
//       └── consumer group (drswatch) ← the SignInLogs trigger reads here
//   └── namespace authorization rule  ← only for Entra's diagnostic setting
//
// Local (SAS) auth stays enabled on purpose: Entra's diagnostic setting
// authenticates with the namespace-level authorization rule below. drswatch
// itself never uses a key: it connects with its managed identity
// (SigninHub__fullyQualifiedNamespace + Azure Event Hubs Data Receiver).

@description('Event Hubs namespace name (globally unique).')
param namespaceName string

param location string
param tags object = {}

@description('Hub Entra streams the sign-in logs to.')
param hubName string

@description('Partitions of the hub: caps parallelism (one reader per partition per consumer group). Cannot be lowered later on Standard.')
@minValue(1)
@maxValue(32)
param partitionCount int

@description('Days events are kept in the hub (Standard: 1-7, Event Hubs quotas). The SignInLogs function retries a failed batch without end, so this is the longest storage or identity outage that loses nothing.')
@minValue(1)
@maxValue(7)
param messageRetentionInDays int

@description('Consumer group the SignInLogs function reads with.')
param consumerGroupName string

@description('Namespace-level authorization rule (Listen, Send, Manage) for the Entra diagnostic setting.')
param diagnosticsRuleName string

resource namespace 'Microsoft.EventHub/namespaces@2024-01-01' = {
  name: namespaceName
  location: location
  tags: tags
  sku: {
    name: 'Standard'
    tier: 'Standard'
    capacity: 1
  }
  properties: {
    minimumTlsVersion: '1.2'
    publicNetworkAccess: 'Enabled'
    // Entra's diagnostic setting needs the SAS rule below (see the header).
    disableLocalAuth: false
  }
}

resource hub 'Microsoft.EventHub/namespaces/eventhubs@2024-01-01' = {
  parent: namespace
  name: hubName
  properties: {
    partitionCount: partitionCount
    messageRetentionInDays: messageRetentionInDays
  }
}

resource consumerGroup 'Microsoft.EventHub/namespaces/eventhubs/consumergroups@2024-01-01' = {
  parent: hub
  name: consumerGroupName
}

// Entra ID requires a namespace-level rule with Manage, Send and Listen.
resource diagnosticsRule 'Microsoft.EventHub/namespaces/authorizationRules@2024-01-01' = {
  parent: namespace
  name: diagnosticsRuleName
  properties: {
    rights: [
      'Listen'
      'Send'
      'Manage'
    ]
  }
}

// https://<namespace>.servicebus.windows.net:443/ in the public cloud; other
// clouds have other suffixes, so the host name is taken from the resource.
var serviceBusEndpoint = namespace.properties.serviceBusEndpoint

output namespaceName string = namespace.name
output namespaceId string = namespace.id
// The host name alone (<namespace>.servicebus.windows.net): what the Event Hubs
// trigger's identity connection (<connection>__fullyQualifiedNamespace) wants.
output fullyQualifiedNamespace string = split(split(replace(serviceBusEndpoint, 'https://', ''), '/')[0], ':')[0]
output hubName string = hub.name
output hubId string = hub.id
output consumerGroupName string = consumerGroup.name
output authorizationRuleId string = diagnosticsRule.id
