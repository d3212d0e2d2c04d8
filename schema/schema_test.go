package schema_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/drswatch/drswatch/schema"
)

func TestDeclaration(t *testing.T) {
	var d struct {
		Table   string          `json:"table"`
		Stream  string          `json:"stream"`
		Columns []schema.Column `json:"columns"`
	}
	require.NoError(t, json.Unmarshal(schema.Raw(), &d))
	require.Equal(t, schema.Table, d.Table)
	require.Equal(t, schema.Stream, d.Stream)
	require.Equal(t, d.Columns, schema.Columns())

	cols := schema.Columns()
	require.NotEmpty(t, cols)
	require.Equal(t, schema.TimeGenerated, cols[0].Name)
	for _, c := range cols {
		require.NotEmpty(t, c.Description, "column %s has no description", c.Name)
		require.LessOrEqual(t, len(c.Name), 45, "column %s: Log Analytics allows 45 characters", c.Name)
	}

	cols[0].Name = "changed"
	require.Equal(t, schema.TimeGenerated, schema.Columns()[0].Name, "Columns must return a copy")
}

func TestValidateRow(t *testing.T) {
	tests := []struct {
		name    string
		row     string
		wantErr string // substring; empty means valid
	}{
		{name: "minimal", row: `{"TimeGenerated":"2026-11-27T10:00:00Z"}`},
		{name: "nanoseconds and offset", row: `{"TimeGenerated":"2026-11-27T10:00:00.123456789+01:00"}`},
		{
			name: "typical alert",
			row: `{"TimeGenerated":"2026-11-27T10:00:00Z","AlertId":"ab12","Revision":2,"RiskScore":73,
				"WindowStart":"2026-11-27T09:30:00Z","UserDisplayNames":["A","B"],"IsInteractive":[true,false],
				"SourceAsOrganizations":null,"EventCount":2147483647,"SessionIds":{"x":1}}`,
		},
		{name: "negative int", row: `{"TimeGenerated":"2026-11-27T10:00:00Z","Revision":-1}`},
		{name: "dynamic scalar", row: `{"TimeGenerated":"2026-11-27T10:00:00Z","AppIds":"one"}`},
		{name: "not JSON", row: `{"TimeGenerated":`, wantErr: "not a JSON object"},
		{name: "array", row: `[{"TimeGenerated":"2026-11-27T10:00:00Z"}]`, wantErr: "not a JSON object"},
		{name: "null row", row: `null`, wantErr: "not a JSON object"},
		{name: "trailing data", row: `{"TimeGenerated":"2026-11-27T10:00:00Z"} {}`, wantErr: "data after"},
		{name: "missing TimeGenerated", row: `{"AlertId":"x"}`, wantErr: "TimeGenerated is missing"},
		{name: "null TimeGenerated", row: `{"TimeGenerated":null}`, wantErr: "is null"},
		{name: "undeclared column", row: `{"TimeGenerated":"2026-11-27T10:00:00Z","Extra":1}`, wantErr: "Extra is not a declared column"},
		{name: "column names are case sensitive", row: `{"TimeGenerated":"2026-11-27T10:00:00Z","alertid":"x"}`, wantErr: "alertid is not a declared column"},
		{name: "datetime not RFC 3339", row: `{"TimeGenerated":"27/11/2026"}`, wantErr: "not an RFC 3339 time"},
		{name: "datetime as number", row: `{"TimeGenerated":1764237600}`, wantErr: "got a JSON number"},
		{name: "int as string", row: `{"TimeGenerated":"2026-11-27T10:00:00Z","Revision":"2"}`, wantErr: "Revision (int): got a JSON string"},
		{name: "int with fraction", row: `{"TimeGenerated":"2026-11-27T10:00:00Z","Revision":2.5}`, wantErr: "not an integer"},
		{name: "int with exponent", row: `{"TimeGenerated":"2026-11-27T10:00:00Z","Revision":2e0}`, wantErr: "not an integer"},
		{name: "int out of range", row: `{"TimeGenerated":"2026-11-27T10:00:00Z","EventCount":2147483648}`, wantErr: "out of range"},
		{name: "string as number", row: `{"TimeGenerated":"2026-11-27T10:00:00Z","AlertId":7}`, wantErr: "AlertId (string): got a JSON number"},
		{name: "string as array", row: `{"TimeGenerated":"2026-11-27T10:00:00Z","UserPrincipalName":["a"]}`, wantErr: "got a JSON array"},
		{
			name:    "every problem reported",
			row:     `{"Revision":"x","Zed":1}`,
			wantErr: "TimeGenerated is missing\nRevision (int): got a JSON string\nZed is not a declared column",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := schema.ValidateRow([]byte(tc.row))
			if tc.wantErr == "" {
				require.NoError(t, err, "ValidateRow(%s)", tc.row)
				return
			}
			require.Error(t, err, "ValidateRow(%s) = nil, want error containing %q", tc.row, tc.wantErr)
			require.Contains(t, err.Error(), tc.wantErr)
		})
	}
}

func TestValidateRowTypes(t *testing.T) {
	// One valid and one invalid value per declared type, using a column of
	// that type from the real declaration, so a new type cannot go untested.
	valid := map[string]string{
		schema.TypeString:   `"x"`,
		schema.TypeInt:      `42`,
		schema.TypeLong:     `9223372036854775807`,
		schema.TypeReal:     `1.5e3`,
		schema.TypeBoolean:  `true`,
		schema.TypeDynamic:  `[1,"a",{"b":null}]`,
		schema.TypeDatetime: `"2026-11-27T10:00:00Z"`,
	}
	invalid := map[string]string{
		schema.TypeString:   `true`,
		schema.TypeInt:      `4294967296`,
		schema.TypeLong:     `9223372036854775808`,
		schema.TypeReal:     `"1.5"`,
		schema.TypeBoolean:  `"true"`,
		schema.TypeDatetime: `"2026-11-27 10:00:00"`,
	}
	for _, c := range schema.Columns() {
		if c.Name == schema.TimeGenerated {
			continue
		}
		t.Run(c.Name+" valid", func(t *testing.T) {
			v, ok := valid[c.Type]
			require.True(t, ok, "no sample for type %s", c.Type)
			row := `{"TimeGenerated":"2026-11-27T10:00:00Z","` + c.Name + `":` + v + `}`
			require.NoError(t, schema.ValidateRow([]byte(row)))
		})
		if v, ok := invalid[c.Type]; ok {
			t.Run(c.Name+" invalid", func(t *testing.T) {
				row := `{"TimeGenerated":"2026-11-27T10:00:00Z","` + c.Name + `":` + v + `}`
				require.Error(t, schema.ValidateRow([]byte(row)))
			})
		}
	}
}
