package detect

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/drswatch/drswatch/internal/sharedtest"
)

type auditCase struct {
	Name   string            `json:"name"`
	Source string            `json:"source"`
	Record json.RawMessage   `json:"record"`
	Skip   string            `json:"skip"`
	Want   map[string]string `json:"want"`
}

func loadAuditCases(t testing.TB) []auditCase {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "device-audit.json"))
	require.NoError(t, err)
	var f struct {
		Cases []auditCase `json:"cases"`
	}
	require.NoError(t, json.Unmarshal(b, &f))
	require.NotEmpty(t, f.Cases)
	return f.Cases
}

// auditFields lists a DeviceAudit's fields by name, as the fixtures do.
func auditFields(a DeviceAudit) map[string]string {
	m := map[string]string{
		"Op": a.Op.String(), "CorrelationID": a.CorrelationID, "ObjectID": a.ObjectID, "DeviceID": a.DeviceID,
		"DisplayName": a.DisplayName, "OperatingSystem": a.OperatingSystem, "OperatingSystemVersion": a.OperatingSystemVersion,
		"TrustType": a.TrustType, "Address": a.Address, "UserAgent": a.UserAgent, "UserID": a.UserID, "UPN": a.UPN,
		"Initiator": a.Initiator, "Time": a.Time.Format(time.RFC3339Nano),
	}
	for k, v := range m {
		if v == "" {
			delete(m, k)
		}
	}
	return m
}

// compact returns a record as one line, as the Event Hub carries it.
func compact(t testing.TB, raw json.RawMessage) []byte {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, json.Compact(&buf, raw))
	return buf.Bytes()
}

func TestDecodeDeviceAudit(t *testing.T) {
	for _, tc := range loadAuditCases(t) {
		t.Run(tc.Name, func(t *testing.T) {
			raw := compact(t, tc.Record)
			a, skip := DecodeDeviceAudit(raw)
			require.Equal(t, tc.Skip, skip.String(), "DecodeDeviceAudit skip (%s)", tc.Source)
			if skip != AuditUsed {
				return
			}
			require.Equal(t, tc.Want, auditFields(a), "DecodeDeviceAudit fields (%s)", tc.Source)
			require.NotEmpty(t, a.ID)
		})
	}
}

// TestDecodeDeviceAuditElastic: Elastic's audit log fixtures decode without
// error: their Update device records give a DeviceAudit, every other record
// a clear reason.
func TestDecodeDeviceAuditElastic(t *testing.T) {
	dir := sharedtest.Dir(t, "elastic-auditlogs")
	files, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	if len(files) == 0 {
		t.Fatalf("no .log fixtures in %s", dir)
	}
	want := map[string][]AuditSkip{
		// The three synthetic Update device records: the object id in
		// targetResources is a GUID; no deviceId.
		"test-auditlogs-raw.log": {AuditUsed, AuditUsed, AuditUsed},
		"test-auditlogs.log":     {AuditUsed},
		// Service principal and other directory operations.
		"test-audit-logs-sample.log":                  {AuditNotDevice, AuditNotDevice, AuditNotDevice},
		"test-audit-logs-edgecases.log":               {AuditNotDevice, AuditNotDevice},
		"test-audit-logs-duration-as-string.log":      {AuditNotDevice},
		"test-audit-logs-tenant-from-resource-id.log": {AuditNotDevice},
		"test-auditlogs-result-description.log":       {AuditNotDevice, AuditNotDevice},
		"test-auditlogs-result-reason.log":            {AuditNotDevice},
		// Stubs with a category and a time only.
		"test-time-formats-corner-cases.log": repeatSkip(AuditNotDevice, 11),
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			w, ok := want[name]
			require.True(t, ok, "fixture %s is not classified in this test", name)
			fh, err := os.Open(f)
			require.NoError(t, err)
			defer fh.Close()
			var got []AuditSkip
			var used []DeviceAudit
			sc := bufio.NewScanner(fh)
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				line := bytes.TrimSpace(sc.Bytes())
				if len(line) == 0 {
					continue
				}
				a, skip := DecodeDeviceAudit(line)
				got = append(got, skip)
				if skip == AuditUsed {
					used = append(used, a)
				}
			}
			require.NoError(t, sc.Err())
			require.Equal(t, w, got, "DecodeDeviceAudit reasons for %s", name)
			for _, a := range used {
				require.Equal(t, OpUpdateDevice, a.Op)
				require.Equal(t, "8a4de8b5-095c-47d0-a96f-a75130c61d53", a.ObjectID)
				require.Equal(t, "LAPTOP-12", a.DisplayName)
				require.Empty(t, a.DeviceID, "the fixtures carry no deviceId; the object id must not stand in for it")
			}
		})
	}
}

func repeatSkip(s AuditSkip, n int) []AuditSkip {
	out := make([]AuditSkip, n)
	for i := range out {
		out[i] = s
	}
	return out
}

func TestAuditSkipNames(t *testing.T) {
	require.Len(t, auditSkipNames, int(numAuditSkips), "an AuditSkip constant has no name")
	seen := map[string]bool{}
	for s := AuditUsed; s < numAuditSkips; s++ {
		require.True(t, strings.HasPrefix(s.String(), "audit_"), "%d", s)
		require.False(t, seen[s.String()], "AuditSkip name %q used twice", s)
		seen[s.String()] = true
	}
	for s := SkipNone; s < numSkips; s++ {
		require.False(t, seen[s.String()], "sign-in Skip name %q is also an audit reason", s)
	}
	require.Equal(t, "audit_skip(200)", AuditSkip(200).String())
}

// roadtxRegister returns the fixture's roadtx Register device record as a
// mutable map.
func auditRecord(t testing.TB, name string) map[string]any {
	t.Helper()
	for _, tc := range loadAuditCases(t) {
		if tc.Name == name {
			var m map[string]any
			require.NoError(t, json.Unmarshal(tc.Record, &m))
			return m
		}
	}
	t.Fatalf("no audit case %q", name)
	return nil
}

// TestDecodeDeviceAuditHostile: wrong types, huge arrays, missing ids and
// huge values give a counted reason or a bounded result, never a panic.
func TestDecodeDeviceAuditHostile(t *testing.T) {
	add := func() map[string]any { return auditRecord(t, "roadtx add device") }
	reg := func() map[string]any { return auditRecord(t, "roadtx register device") }
	props := func(m map[string]any) map[string]any { return m["properties"].(map[string]any) }
	huge := strings.Repeat("A", 64<<10)
	manyProps := func(n int) []any {
		var out []any
		for i := range n {
			out = append(out, map[string]any{"displayName": fmt.Sprintf("Extension%05d", i), "oldValue": "[]", "newValue": `["x"]`})
		}
		return out
	}
	tests := []struct {
		name  string
		rec   func() any
		skip  AuditSkip
		check func(t *testing.T, a DeviceAudit)
	}{
		{name: "not an object", rec: func() any { return []any{1, 2} }, skip: AuditNotJSON},
		{name: "category a number", rec: func() any { m := add(); m["category"] = 3; return m }, skip: AuditWrongType},
		{name: "properties a string", rec: func() any { m := add(); m["properties"] = "x"; return m }, skip: AuditWrongType},
		{name: "result an object", rec: func() any { m := add(); props(m)["result"] = map[string]any{}; return m }, skip: AuditWrongType},
		{name: "targetResources an object", rec: func() any { m := add(); props(m)["targetResources"] = map[string]any{"id": "x"}; return m }, skip: AuditNoDevice},
		{name: "modifiedProperties of numbers", rec: func() any {
			m := add()
			props(m)["targetResources"].([]any)[0].(map[string]any)["modifiedProperties"] = []any{1, true, nil, "x"}
			return m
		}, check: func(t *testing.T, a DeviceAudit) {
			require.Empty(t, a.DeviceID)
			require.Equal(t, "c2d4e6f8-1a3b-4c5d-8e9f-0a1b2c3d4e5f", a.ObjectID)
		}},
		{name: "newValue an object", rec: func() any {
			m := add()
			props(m)["targetResources"].([]any)[0].(map[string]any)["modifiedProperties"] = []any{map[string]any{"displayName": "DeviceId", "newValue": map[string]any{"a": 1}}}
			return m
		}, check: func(t *testing.T, a DeviceAudit) { require.Empty(t, a.DeviceID) }},
		{name: "deviceId not a GUID", rec: func() any {
			m := reg()
			props(m)["additionalDetails"] = []any{map[string]any{"key": "Device Id", "value": "'; DROP TABLE"}}
			return m
		}, check: func(t *testing.T, a DeviceAudit) { require.Empty(t, a.DeviceID) }},
		{name: "huge display name is cut", rec: func() any {
			m := reg()
			props(m)["targetResources"].([]any)[0].(map[string]any)["displayName"] = "DESKTOP-" + huge
			return m
		}, check: func(t *testing.T, a DeviceAudit) {
			require.LessOrEqual(t, len(a.DisplayName), MaxChainValueBytes)
		}},
		{name: "huge user agent with control characters is cleaned", rec: func() any {
			m := reg()
			props(m)["userAgent"] = "Dsreg/10.0\x00\x1b[31m" + huge
			return m
		}, check: func(t *testing.T, a DeviceAudit) {
			require.LessOrEqual(t, len(a.UserAgent), MaxChainValueBytes)
			require.NotContains(t, a.UserAgent, "\x00")
			require.NotContains(t, a.UserAgent, "\x1b")
		}},
		{name: "thousands of modified properties are read up to the bound", rec: func() any {
			m := add()
			tr := props(m)["targetResources"].([]any)[0].(map[string]any)
			tr["modifiedProperties"] = append(tr["modifiedProperties"].([]any), manyProps(1500)...)
			return m
		}, check: func(t *testing.T, a DeviceAudit) {
			require.Equal(t, "9c1f3a52-6d1e-4b7a-8f3e-2d5c7a9b1e40", a.DeviceID, "the attributes before the padding are read")
		}},
		{name: "a DeviceId past the bound is not read", rec: func() any {
			m := add()
			tr := props(m)["targetResources"].([]any)[0].(map[string]any)
			tr["modifiedProperties"] = append(manyProps(maxModifiedProperties), map[string]any{"displayName": "DeviceId", "newValue": `["9c1f3a52-6d1e-4b7a-8f3e-2d5c7a9b1e40"]`})
			return m
		}, check: func(t *testing.T, a DeviceAudit) { require.Empty(t, a.DeviceID) }},
		{name: "thousands of target resources", rec: func() any {
			m := add()
			var trs []any
			for range 5000 {
				trs = append(trs, map[string]any{"type": "Group", "id": "x"})
			}
			props(m)["targetResources"] = trs
			return m
		}, skip: AuditNoDevice},
		{name: "a record over MaxAuditBytes", rec: func() any {
			m := add()
			props(m)["padding"] = strings.Repeat("x", MaxAuditBytes)
			return m
		}, skip: AuditOversize},
		{name: "nested too deep", rec: func() any {
			var v any = "x"
			for range 100 {
				v = []any{v}
			}
			m := add()
			props(m)["deep"] = v
			return m
		}, skip: AuditTooDeep},
		{name: "no category", rec: func() any { m := add(); delete(m, "category"); return m }, skip: AuditNotAudit},
		{name: "no time at all", rec: func() any { m := add(); delete(m, "time"); delete(props(m), "activityDateTime"); return m }, skip: AuditBadTime},
		{name: "time from activityDateTime", rec: func() any { m := add(); delete(m, "time"); return m }, check: func(t *testing.T, a DeviceAudit) {
			require.Equal(t, "2026-03-02T10:07:12.621Z", a.Time.Format(time.RFC3339Nano))
		}},
		{name: "upper-case braced GUIDs are normalised", rec: func() any {
			m := reg()
			props(m)["additionalDetails"] = []any{map[string]any{"key": "Device Id", "value": "{9C1F3A52-6D1E-4B7A-8F3E-2D5C7A9B1E40}"}}
			return m
		}, check: func(t *testing.T, a DeviceAudit) {
			require.Equal(t, "9c1f3a52-6d1e-4b7a-8f3e-2d5c7a9b1e40", a.DeviceID)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := json.Marshal(tc.rec())
			require.NoError(t, err)
			start := time.Now()
			a, skip := DecodeDeviceAudit(raw)
			require.Less(t, time.Since(start), 2*time.Second, "decode is bounded")
			require.Equal(t, tc.skip, skip, "DecodeDeviceAudit skip = %s, want %s", skip, tc.skip)
			if tc.check != nil {
				tc.check(t, a)
			}
		})
	}
	// Non-JSON bytes.
	for _, raw := range []string{"", "{", "null", `{"category":"AuditLogs"`, "\xff\xfe"} {
		_, skip := DecodeDeviceAudit([]byte(raw))
		require.Equal(t, AuditNotJSON, skip, "DecodeDeviceAudit(%q)", raw)
	}
}

func TestPropertyValue(t *testing.T) {
	tests := []struct{ in, want string }{
		{`["Windows"]`, "Windows"},
		{`[true]`, "true"},
		{`[]`, ""},
		{`"DESKTOP-3OVO59V"`, "DESKTOP-3OVO59V"},
		{`["a","b"]`, "a"},
		{`[1.5]`, "1.5"},
		{`[{"k":1}]`, ""},
		{`AccountEnabled, DeviceId`, "AccountEnabled, DeviceId"},
		{`[broken`, "[broken"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got := propertyValue(node{kind: kindString, str: tc.in})
			require.Equal(t, tc.want, got, "propertyValue(%s)", tc.in)
		})
	}
}
