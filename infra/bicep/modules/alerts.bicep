// Azure Monitor log search alerts on the drswatch alerts table: each new
// alert revision fires one Azure Monitor alert, by the revision's severity.
//
// drswatch's severities are `high` (the seed rule: code phish) and `critical`
// (the attacker registered a device or used its PRT). A rule's severity and
// actions are fixed, so there is one rule per drswatch severity:
//
//   critical → Azure Monitor Sev0, the paging action group and the notify one
//   high     → Azure Monitor Sev1, the notify action group
//
// One AlertId has many revisions (a revision per change: more addresses, a
// device registered, PRT sign-ins), and a revision may be delivered twice
// (at-least-once). Each run takes the rows ingested since the last run
// (ingestion_time(), so ingestion delay cannot make a row fall between two
// runs), keeps the newest revision of each AlertId (arg_max), drops it
// unless it is newer than every revision ingested before (so a redelivery
// or an older revision arriving late fires nothing), and only then filters
// on severity: an alert that rises from high to critical fires the high
// rule, then the critical one. Stateless (autoMitigate false) and split by
// AlertId and Revision, so each new revision fires once.

param location string
param tags object = {}

@description('Resource id of the Log Analytics workspace holding the alerts table.')
param workspaceId string

@description('Alerts table name (from schema/alerts.json, via loganalytics.bicep).')
param tableName string

@description('Rule name prefix.')
param namePrefix string

@description('Action group notified of every new revision (high and critical); empty for none (alerts still show in Azure Monitor).')
param actionGroupId string

@description('Action group that pages, for critical revisions only; empty for none.')
param pageActionGroupId string

@description('How often the rules run, in minutes; each run looks at rows ingested in that many minutes.')
@allowed([
  5
  10
  15
])
param evaluationMinutes int

var frequency = 'PT${evaluationMinutes}M'

var notify = empty(actionGroupId) ? [] : [
  actionGroupId
]
// Critical revisions: the paging group and the notify group.
var pageAndNotify = empty(pageActionGroupId) ? notify : (empty(actionGroupId) ? [
  pageActionGroupId
] : [
  pageActionGroupId
  actionGroupId
])

var severities = [
  {
    name: 'critical'
    level: 0
    actionGroups: pageAndNotify
  }
  {
    name: 'high'
    level: 1
    actionGroups: notify
  }
]

// The newest revision of each AlertId ingested since the last run, when it
// is newer than any revision ingested before.
var newRevisions = 'let window = ${evaluationMinutes}m;\nlet seen = ${tableName}\n    | where ingestion_time() <= ago(window)\n    | summarize Seen = max(Revision) by AlertId;\n${tableName}\n| where ingestion_time() > ago(window)\n| summarize arg_max(Revision, *) by AlertId\n| where isempty(SupersededBy)\n| join kind=leftouter seen on AlertId\n| where isnull(Seen) or Revision > Seen'

resource rules 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = [for s in severities: {
  name: '${namePrefix}-${s.name}'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'drswatch ${s.name} alert'
    description: 'A new drswatch alert revision with Severity "${s.name}" arrived in ${tableName} (the newest revision of its AlertId).'
    severity: s.level
    enabled: true
    scopes: [
      workspaceId
    ]
    evaluationFrequency: frequency
    windowSize: frequency
    // Look back far enough for the revisions ingested before this run
    // (an alert's revisions span its window, the lateness and the chain horizon).
    overrideQueryTimeRange: 'P2D'
    criteria: {
      allOf: [
        {
          query: '${newRevisions}\n| where Severity =~ "${s.name}"\n| extend RevisionText = tostring(Revision)\n| project TimeGenerated, AlertId, RevisionText, Stage, UserPrincipalName, SessionId, RuleName, SourceAddressCount, EventCount'
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
      actionGroups: s.actionGroups
    }
  }
}]

output ruleIds array = [for (s, i) in severities: rules[i].id]
