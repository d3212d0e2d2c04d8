package schema_test

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/drswatch/drswatch/detect"
	"github.com/drswatch/drswatch/schema"
)

// fullAlert is an alert with every field set, built through the detection
// core as production builds it.
func fullAlert(t *testing.T) detect.Alert {
	t.Helper()
	rule := detect.DefaultRule()
	at := time.Date(2026, 11, 3, 9, 31, 2, 441000000, time.UTC)
	g := detect.NewGroup(detect.Key{Window: rule.WindowStart(at), UPN: "dora@contoso.example", SessionID: "s1"})
	for i, ip := range []string{"203.0.113.23", "198.51.100.77"} {
		r := detect.Record{
			ID: "id" + ip, Timestamp: at.Add(time.Duration(i) * time.Minute), Outcome: "success", UserType: "Member",
			Identity: "Dora", UPN: "dora@contoso.example", SourceAddress: ip, AppID: detect.DefaultAppID,
			ResourceID: detect.DefaultResourceID, SessionID: "s1", Browser: "Edge 131", UserDisplayName: "Dora",
			UniqueTokenIdentifier: "tok" + ip, City: "Amsterdam", Region: "Noord-Holland", CountryCode: "NL",
			AuthenticationProtocol: "none", AuthenticationRequirement: "multiFactorAuthentication", IsInteractive: "true",
			IncomingTokenType: "none", TokenSessionStatus: "unbound", AppDisplayName: "Microsoft Authentication Broker",
			ResourceDisplayName: "Device Registration Service", AppOwnerTenantID: "t1", ResourceOwnerTenantID: "t2",
			ConditionalAccessStatus: "success", RiskState: "none", RiskLevelAggregated: "none", OperatingSystem: "Windows10",
			UserAgent: "Mozilla/5.0",
		}
		require.True(t, g.Merge(r, nil))
	}
	a, ok := rule.Evaluate(g, at.Add(time.Hour))
	require.True(t, ok)
	a.SourceAsOrganizations = []string{"Example AS"}
	return a
}

func TestAlertEncodesToDeclaredColumns(t *testing.T) {
	a := fullAlert(t)
	row, err := json.Marshal(a)
	require.NoError(t, err)
	require.NoError(t, schema.ValidateRow(row))

	var obj map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(row, &obj))
	var names []string
	for _, c := range schema.Columns() {
		names = append(names, c.Name)
		v, ok := obj[c.Name]
		require.True(t, ok, "column %s missing from the encoded alert", c.Name)
		require.NotEqual(t, "null", string(v), "column %s encodes as null", c.Name)
	}
	for k := range obj {
		require.Contains(t, names, k, "alert field %s is not a declared column", k)
	}
	// Every exported Alert field is a column, in the declared order.
	typ := reflect.TypeOf(detect.Alert{})
	var fields []string
	for i := 0; i < typ.NumField(); i++ {
		fields = append(fields, typ.Field(i).Tag.Get("json"))
	}
	require.Equal(t, names, fields, "Alert fields and schema columns differ in names or order")
}

func TestEmptyAlertListsEncodeAsArrays(t *testing.T) {
	a := fullAlert(t)
	a.SourceAsOrganizations = nil
	row, err := json.Marshal(a)
	require.NoError(t, err)
	require.NoError(t, schema.ValidateRow(row))
	var obj map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(row, &obj))
	for _, c := range schema.Columns() {
		if c.Type == schema.TypeDynamic && !slices.Contains([]string{"SourceAsOrganizations"}, c.Name) {
			require.Equal(t, byte('['), obj[c.Name][0], "column %s", c.Name)
		}
	}
}

// TestValuesColumns pins the columns TEAM.md fixes after EventCount: the cut
// lists, the geo source and Entra's own location, in this order and type.
func TestValuesColumns(t *testing.T) {
	cols := schema.Columns()
	i := slices.IndexFunc(cols, func(c schema.Column) bool { return c.Name == "EventCount" })
	require.GreaterOrEqual(t, i, 0)
	want := []struct{ name, typ string }{
		{"TruncatedColumns", schema.TypeDynamic},
		{"GeoSource", schema.TypeString},
		{"EntraCities", schema.TypeDynamic},
		{"EntraRegions", schema.TypeDynamic},
		{"EntraCountries", schema.TypeDynamic},
	}
	require.GreaterOrEqual(t, len(cols), i+1+len(want))
	for j, w := range want {
		c := cols[i+1+j]
		require.Equal(t, w.name, c.Name, "column %d after EventCount", j+1)
		require.Equal(t, w.typ, c.Type, "column %s", c.Name)
	}
	a := fullAlert(t)
	require.Equal(t, "entra", a.GeoSource)
	require.Equal(t, []string{"Amsterdam"}, a.EntraCities)
	require.Equal(t, []string{}, a.TruncatedColumns)
}
