// Azure Monitor log search alerts on the drswatch alerts table: every new
// alert revision becomes a fired Azure Monitor alert.
//
// A rule's severity is fixed, so there is one rule per drswatch severity,
// each filtering on the Severity column (critical→0, high→1, medium→2,
// low→3). Rows are selected by ingestion_time() rather than TimeGenerated so
// that ingestion delay does not make a row fall between two evaluations.
// Stateless (autoMitigate false) and split by AlertId and Revision, so each
// revision fires once.

param location string
param tags object = {}

@description('Resource id of the Log Analytics workspace holding the alerts table.')
param workspaceId string

@description('Alerts table name (from schema/alerts.json, via loganalytics.bicep).')
param tableName string

@description('Rule name prefix.')
param namePrefix string

@description('Action group resource id to notify; empty for none (alerts still show in Azure Monitor).')
param actionGroupId string

@description('How often the rules run, in minutes; each run looks at rows ingested in that many minutes.')
@allowed([
  5
  10
  15
])
param evaluationMinutes int

var frequency = 'PT${evaluationMinutes}M'

var severities = [
  {
    name: 'critical'
    level: 0
  }
  {
    name: 'high'
    level: 1
  }
  {
    name: 'medium'
    level: 2
  }
  {
    name: 'low'
    level: 3
  }
]

resource rules 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = [for s in severities: {
  name: '${namePrefix}-${s.name}'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'drswatch ${s.name} alert'
    description: 'A new drswatch alert revision with Severity == "${s.name}" arrived in ${tableName}.'
    severity: s.level
    enabled: true
    scopes: [
      workspaceId
    ]
    evaluationFrequency: frequency
    windowSize: frequency
    // Look back far enough that late-ingested rows (old TimeGenerated) are seen.
    overrideQueryTimeRange: 'P2D'
    criteria: {
      allOf: [
        {
          query: '${tableName}\n| where ingestion_time() > ago(${evaluationMinutes}m)\n| where Severity =~ "${s.name}"\n| extend RevisionText = tostring(Revision)\n| project TimeGenerated, AlertId, RevisionText, UserPrincipalName, SessionId, RuleName, SourceAddressCount, EventCount'
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          dimensions: [
            {
              name: 'AlertId'
              operator: 'Include'
              values: [
                '*'
              ]
            }
            {
              name: 'RevisionText'
              operator: 'Include'
              values: [
                '*'
              ]
            }
            {
              name: 'UserPrincipalName'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: false
    // The table may still be empty (or not yet queryable) at deploy time.
    skipQueryValidation: true
    actions: {
      actionGroups: empty(actionGroupId) ? [] : [
        actionGroupId
      ]
    }
  }
}]

output ruleIds array = [for (s, i) in severities: rules[i].id]
