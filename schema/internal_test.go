package schema

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCheckValueLong covers the long type, which no column uses today.
func TestCheckValueLong(t *testing.T) {
	col := Column{Name: "Big", Type: TypeLong}
	tests := []struct {
		name  string
		value string
		ok    bool
	}{
		{name: "max int64", value: `9223372036854775807`, ok: true},
		{name: "min int64", value: `-9223372036854775808`, ok: true},
		{name: "beyond int32", value: `4294967296`, ok: true},
		{name: "overflow", value: `9223372036854775808`},
		{name: "fraction", value: `1.0`},
		{name: "string", value: `"1"`},
		{name: "null", value: `null`, ok: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := checkValue(col, json.RawMessage(tc.value))
			if tc.ok {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
			}
		})
	}
}

func TestParseRejectsBadDeclarations(t *testing.T) {
	tests := []struct {
		name string
		json string
	}{
		{name: "wrong table", json: `{"table":"X_CL","stream":"Custom-DrsWatchAlerts","columns":[{"name":"TimeGenerated","type":"datetime"}]}`},
		{name: "wrong stream", json: `{"table":"DrsWatchAlerts_CL","stream":"Custom-X","columns":[{"name":"TimeGenerated","type":"datetime"}]}`},
		{name: "unknown type", json: `{"table":"DrsWatchAlerts_CL","stream":"Custom-DrsWatchAlerts","columns":[{"name":"TimeGenerated","type":"datetime"},{"name":"A","type":"guid"}]}`},
		{name: "duplicate", json: `{"table":"DrsWatchAlerts_CL","stream":"Custom-DrsWatchAlerts","columns":[{"name":"TimeGenerated","type":"datetime"},{"name":"TimeGenerated","type":"datetime"}]}`},
		{name: "no TimeGenerated", json: `{"table":"DrsWatchAlerts_CL","stream":"Custom-DrsWatchAlerts","columns":[{"name":"A","type":"string"}]}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse([]byte(tc.json))
			require.Error(t, err)
		})
	}
}
