// Data collection rule (kind Direct) for the Logs Ingestion API: drswatch
// POSTs alert rows to properties.endpoints.logsIngestion with the rule's
// immutableId and the stream name; the rule writes them to the custom table.
//
// Stream name, table name and columns come from schema/alerts.json: the
// stream declaration is the schema's columns as they are (DCR stream types),
// and the data flow writes to Custom-<table>. `kind: 'Direct'` gives the rule
// its own ingestion endpoint (no data collection endpoint needed).

@description('Data collection rule name.')
param name string

@description('Must be the workspace\'s region.')
param location string
param tags object = {}

@description('Resource id of the Log Analytics workspace holding the alerts table.')
param workspaceId string

@description('Name of the alerts table, as deployed (a dependency on the table).')
param tableName string

var schema = loadJsonContent('../../../schema/alerts.json')

var streamColumns = [for c in schema.columns: {
  name: c.name
  type: c.type
}]

resource dcr 'Microsoft.Insights/dataCollectionRules@2023-03-11' = {
  name: name
  location: location
  tags: tags
  kind: 'Direct'
  properties: {
    description: 'drswatch alerts → ${tableName}'
    streamDeclarations: {
      '${schema.stream}': {
        columns: streamColumns
      }
    }
    destinations: {
      logAnalytics: [
        {
          name: 'alertsWorkspace'
          workspaceResourceId: workspaceId
        }
      ]
    }
    dataFlows: [
      {
        streams: [
          schema.stream
        ]
        destinations: [
          'alertsWorkspace'
        ]
        transformKql: 'source'
        outputStream: 'Custom-${tableName}'
      }
    ]
  }
}

output id string = dcr.id
output name string = dcr.name
output immutableId string = dcr.properties.immutableId
output logsIngestionEndpoint string = dcr.properties.endpoints.logsIngestion
output streamName string = schema.stream
