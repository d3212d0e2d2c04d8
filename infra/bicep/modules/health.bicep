// Alert rules on drswatch's own health. SignInLogs retries a failed batch
// without end (maxRetryCount -1 in SignInLogs/function.json), so a failure
// that never clears stalls its partition silently unless something says so:
//
// | rule                    | fires when                                             | data                               |
// |-------------------------|--------------------------------------------------------|------------------------------------|
// | <prefix>-failing        | SignInLogs invocations keep failing (retries)          | App Insights `requests`            |
// | <prefix>-stalled        | events arrive at the hub and none leave it             | Event Hubs metrics (per hub)       |
// | <prefix>-behind         | the backlog (incoming - outgoing events) keeps growing | Event Hubs metrics in AzureMetrics |
// | <prefix>-deadlettered   | an invocation was dead-lettered                        | App Insights `traces` (console)    |
//
// Event Hubs has no consumer-lag metric for a consumer group on Standard
// (Azure-Samples/eventhub-custom-metrics-emitter: "This metric is not
// available in event hub standard metrics"), so lag is approached from what
// Azure Monitor does offer: IncomingMessages and OutgoingMessages
// (supported metrics of Microsoft.EventHub/namespaces). The metric alert reads
// them per hub (dimension EntityName); the backlog rule needs a difference
// of two metrics, which only a log query can take, so the namespace's metrics
// are also sent to the workspace (diagnostic setting, table AzureMetrics,
// where exported metrics carry no dimensions: namespace totals).

param location string
param tags object = {}

@description('Rule name prefix.')
param namePrefix string

@description('Resource id of the Application Insights component the Functions host writes to.')
param appInsightsId string

@description('Resource id of the Log Analytics workspace (AzureMetrics).')
param workspaceId string

@description('Event Hubs namespace name (in this resource group).')
param eventHubsNamespaceName string

@description('The sign-in hub (the metric alert\'s EntityName).')
param hubName string

@description('Action group resource id to notify; empty for none (alerts still show in Azure Monitor).')
param actionGroupId string

@description('Failed SignInLogs invocations in 15 minutes that fire the failing rule. A batch in endless retry fails at least every 6 minutes (the retry policy\'s longest wait, 5 minutes, plus 20% jitter), so at least twice in 15 minutes; one transient failure does not fire.')
@minValue(1)
@maxValue(1000)
param failureThreshold int = 2

@description('Growth of the hub\'s backlog in one hour (incoming minus outgoing events) that fires the behind rule.')
@minValue(1)
@maxValue(10000000)
param backlogThreshold int = 1000

var actions = empty(actionGroupId) ? [] : [
  actionGroupId
]

resource namespace 'Microsoft.EventHub/namespaces@2024-01-01' existing = {
  name: eventHubsNamespaceName
}

// The namespace's platform metrics to the workspace (AzureMetrics), for the
// backlog rule.
resource hubMetrics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'drswatch-metrics-to-workspace'
  scope: namespace
  properties: {
    workspaceId: workspaceId
    metrics: [
      {
        category: 'AllMetrics'
        enabled: true
      }
    ]
  }
}

resource failing 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: '${namePrefix}-failing'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'drswatch: SignInLogs keeps failing'
    description: 'SignInLogs invocations failed ${failureThreshold} or more times in 15 minutes. The function retries without end, so the failing batch stalls its partition until the cause is fixed (a 5xx answer: state store, identity or dead-letter container unreachable). Read the reason in the traces of the same invocation id (README, Verify that data flows).'
    severity: 1
    enabled: true
    scopes: [
      appInsightsId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: {
      allOf: [
        {
          query: 'requests\n| where name == "SignInLogs" and success == false'
          timeAggregation: 'Count'
          operator: 'GreaterThanOrEqual'
          threshold: failureThreshold
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    skipQueryValidation: true
    actions: {
      actionGroups: actions
    }
  }
}

resource stalled 'Microsoft.Insights/metricAlerts@2018-03-01' = {
  name: '${namePrefix}-stalled'
  location: 'global'
  tags: tags
  properties: {
    description: 'Events arrived at ${hubName} in the last 15 minutes and none were read: the SignInLogs trigger is not reading (identity or role, scale, a host that stopped).'
    severity: 1
    enabled: true
    scopes: [
      namespace.id
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
      allOf: [
        {
          criterionType: 'StaticThresholdCriterion'
          name: 'incoming'
          metricNamespace: 'Microsoft.EventHub/namespaces'
          metricName: 'IncomingMessages'
          timeAggregation: 'Total'
          operator: 'GreaterThan'
          threshold: 0
          dimensions: [
            {
              name: 'EntityName'
              operator: 'Include'
              values: [
                hubName
              ]
            }
          ]
        }
        {
          criterionType: 'StaticThresholdCriterion'
          name: 'outgoing'
          metricNamespace: 'Microsoft.EventHub/namespaces'
          metricName: 'OutgoingMessages'
          timeAggregation: 'Total'
          operator: 'LessThan'
          threshold: 1
          dimensions: [
            {
              name: 'EntityName'
              operator: 'Include'
              values: [
                hubName
              ]
            }
          ]
        }
      ]
    }
    autoMitigate: true
    actions: [for a in actions: {
      actionGroupId: a
    }]
  }
}

resource behind 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: '${namePrefix}-behind'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'drswatch: falling behind the hub'
    description: 'In the last hour ${backlogThreshold} more events arrived at the Event Hubs namespace than were read: drswatch is falling behind (too few partitions or instances, slow or failing batches). Events older than the hub\'s retention are lost.'
    severity: 2
    enabled: true
    scopes: [
      workspaceId
    ]
    evaluationFrequency: 'PT15M'
    windowSize: 'PT1H'
    criteria: {
      allOf: [
        {
          query: 'AzureMetrics\n| where ResourceId =~ "${namespace.id}"\n| where MetricName in ("IncomingMessages", "OutgoingMessages")\n| summarize Incoming = sumif(Total, MetricName == "IncomingMessages"), Outgoing = sumif(Total, MetricName == "OutgoingMessages")\n| extend Backlog = Incoming - Outgoing'
          timeAggregation: 'Maximum'
          metricMeasureColumn: 'Backlog'
          operator: 'GreaterThan'
          threshold: backlogThreshold
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    skipQueryValidation: true
    actions: {
      actionGroups: actions
    }
  }
  dependsOn: [
    hubMetrics
  ]
}

resource deadLettered 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: '${namePrefix}-deadlettered'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'drswatch: invocation dead-lettered'
    description: 'drswatch wrote an invocation no retry can fix (not JSON, an unknown binding, a malformed events value, over the body cap) to the dead-letter container. Its records were not evaluated: inspect the blob and replay it (README, Reliability and security).'
    severity: 2
    enabled: true
    scopes: [
      appInsightsId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT5M'
    criteria: {
      allOf: [
        {
          // The handler's stderr lines are logged under the host's console
          // category, outside the invocation scope
          // (../shared/reference/functions-host-contract.md, "Logs").
          query: 'traces\n| where tostring(customDimensions.Category) == "Host.Function.Console"\n| where message contains "dead-lettered"\n| extend line = parse_json(substring(message, indexof(message, "{")))\n| where tostring(line.msg) == "dead-lettered"'
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: false
    skipQueryValidation: true
    actions: {
      actionGroups: actions
    }
  }
}

output ruleIds array = [
  failing.id
  stalled.id
  behind.id
  deadLettered.id
]
