// Microsoft Sentinel analytics rule (kind Scheduled) that turns drswatch
// alert revisions into incidents, for a workspace that has Sentinel
// (main.bicep: sentinelEnabled). Deployed at the workspace's resource group;
// the rule is an extension resource of the workspace.
//
// - Every run takes the revisions ingested since the last run, the newest per
//   AlertId and only when newer than any ingested before (as alerts.bicep).
// - One Sentinel alert per result row (AlertPerResult), and incident
//   grouping on the AlertId custom detail: every revision of one drswatch
//   alert lands in one incident, which gains the new alert (stage, severity,
//   devices, addresses) as the attack progresses; a closed incident reopens.
// - Entities: the user (Account from UserPrincipalName), the first three
//   source addresses (IP), the first two registered devices (Host from
//   RegisteredDevices[].DisplayName).
// - Severity from the revision: critical → High, high → Medium.

@description('Name of the Log Analytics workspace that has Microsoft Sentinel.')
param workspaceName string

@description('Alerts table name (from schema/alerts.json, via loganalytics.bicep: a dependency on the table).')
param tableName string

@description('How often the rule runs, in minutes; each run looks at rows ingested in that many minutes.')
@allowed([
  5
  10
  15
])
param evaluationMinutes int

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  name: workspaceName
}

var query = 'let window = ${evaluationMinutes}m;\nlet seen = ${tableName}\n    | where ingestion_time() <= ago(window)\n    | summarize Seen = max(Revision) by AlertId;\n${tableName}\n| where ingestion_time() > ago(window)\n| summarize arg_max(Revision, *) by AlertId\n| where isempty(SupersededBy)\n| join kind=leftouter seen on AlertId\n| where isnull(Seen) or Revision > Seen\n| extend SentinelSeverity = iff(Severity =~ "critical", "High", "Medium"),\n         StageText = iff(isempty(Stage), "code-phish", Stage),\n         Address1 = tostring(SourceAddresses[0]), Address2 = tostring(SourceAddresses[1]), Address3 = tostring(SourceAddresses[2]),\n         Host1 = tostring(RegisteredDevices[0].DisplayName), Host2 = tostring(RegisteredDevices[1].DisplayName),\n         DeviceIds = strcat_array(extract_all(\'"DeviceId":"([^"]+)"\', tostring(RegisteredDevices)), ", "),\n         RevisionText = tostring(Revision)\n| project TimeGenerated, AlertId, RevisionText, StageText, Severity, SentinelSeverity, RuleName, UserPrincipalName, SessionId,\n          Address1, Address2, Address3, Host1, Host2, DeviceIds, SourceAddressCount, EventCount'

resource rule 'Microsoft.SecurityInsights/alertRules@2025-09-01' = {
  name: guid(workspace.id, 'drswatch-alert-revisions')
  scope: workspace
  kind: 'Scheduled'
  properties: {
    displayName: 'drswatch: OAuth phishing of Entra ID (MAB to DRS) and the attack chain'
    description: 'One incident per drswatch alert (AlertId), updated with each new revision as the attack progresses: code-phish (the seed rule), device-registered, prt-used. See the drswatch README, Triage.'
    enabled: true
    query: query
    queryFrequency: 'PT${evaluationMinutes}M'
    queryPeriod: 'P2D'
    severity: 'Medium'
    triggerOperator: 'GreaterThan'
    triggerThreshold: 0
    suppressionDuration: 'PT5H'
    suppressionEnabled: false
    tactics: [
      'InitialAccess'
      'CredentialAccess'
      'Persistence'
    ]
    // T1528 Steal Application Access Token; T1098 Account Manipulation (its
    // sub-technique T1098.005 is Device Registration).
    techniques: [
      'T1528'
      'T1098'
    ]
    eventGroupingSettings: {
      aggregationKind: 'AlertPerResult'
    }
    customDetails: {
      AlertId: 'AlertId'
      Revision: 'RevisionText'
      Stage: 'StageText'
      DeviceIds: 'DeviceIds'
      SessionId: 'SessionId'
    }
    alertDetailsOverride: {
      alertDisplayNameFormat: 'drswatch {{StageText}}: {{UserPrincipalName}}'
      alertDescriptionFormat: 'drswatch alert {{AlertId}} revision {{RevisionText}} ({{Severity}}), stage {{StageText}}.'
      alertSeverityColumnName: 'SentinelSeverity'
    }
    entityMappings: [
      {
        entityType: 'Account'
        fieldMappings: [
          {
            identifier: 'FullName'
            columnName: 'UserPrincipalName'
          }
        ]
      }
      {
        entityType: 'IP'
        fieldMappings: [
          {
            identifier: 'Address'
            columnName: 'Address1'
          }
        ]
      }
      {
        entityType: 'IP'
        fieldMappings: [
          {
            identifier: 'Address'
            columnName: 'Address2'
          }
        ]
      }
      {
        entityType: 'IP'
        fieldMappings: [
          {
            identifier: 'Address'
            columnName: 'Address3'
          }
        ]
      }
      {
        entityType: 'Host'
        fieldMappings: [
          {
            identifier: 'HostName'
            columnName: 'Host1'
          }
        ]
      }
      {
        entityType: 'Host'
        fieldMappings: [
          {
            identifier: 'HostName'
            columnName: 'Host2'
          }
        ]
      }
    ]
    incidentConfiguration: {
      createIncident: true
      groupingConfiguration: {
        enabled: true
        reopenClosedIncident: true
        lookbackDuration: 'P2D'
        matchingMethod: 'Selected'
        groupByCustomDetails: [
          'AlertId'
        ]
      }
    }
  }
}

output ruleId string = rule.id
