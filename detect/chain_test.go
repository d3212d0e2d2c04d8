package detect

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const (
	roadtxDevice  = "9c1f3a52-6d1e-4b7a-8f3e-2d5c7a9b1e40"
	managedDevice = "e31edd5d-0c2a-4f7e-9b1d-6a5c4b3a2910"
)

// prtSignIn returns a raw non-interactive sign-in with a primary refresh
// token (facts §5, the shapes of SEKOIA's sign-in_activity4/6): MAB client
// to Exchange, deviceDetail naming the device.
func prtSignIn(id, deviceID, at string) map[string]any {
	return map[string]any{
		"time":     at,
		"category": "NonInteractiveUserSignInLogs",
		"identity": "Alex Wilber",
		"properties": map[string]any{
			"id":                  id,
			"createdDateTime":     at,
			"userPrincipalName":   "alex@contoso.example",
			"userId":              "3f2504e0-4f89-41d3-9a0c-0305e82c3301",
			"userType":            "Member",
			"appId":               "00000002-0000-0ff1-ce00-000000000000",
			"appDisplayName":      "Microsoft Office",
			"resourceDisplayName": "Office 365 Exchange Online",
			"resourceId":          "00000002-0000-0ff1-ce00-000000000000",
			"ipAddress":           "198.51.100.23",
			"incomingTokenType":   "primaryRefreshToken",
			"isInteractive":       false,
			"status":              map[string]any{"errorCode": 0},
			"userAgent":           "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
			"sessionId":           "prt-session-1",
			"deviceDetail": map[string]any{
				"deviceId": deviceID, "displayName": "DESKTOP-7K2M9QXA", "operatingSystem": "Windows 10",
				"browser": "Chrome 120.0.0", "isCompliant": false, "isManaged": false, "trustType": "Azure AD joined",
			},
			"tokenProtectionStatusDetails": map[string]any{"signInSessionStatus": "unbound", "signInSessionStatusCode": 1},
		},
	}
}

func TestDecodeDeviceSignIn(t *testing.T) {
	base := func() map[string]any {
		return prtSignIn("si-1", strings.ToUpper(roadtxDevice), "2026-03-02T10:20:00.1234567Z")
	}
	tests := []struct {
		name string
		rec  map[string]any
		skip Skip
		prt  bool
	}{
		{name: "PRT use by the new device", rec: base(), prt: true},
		{name: "to the Device Registration Service", rec: with(base(), "properties.resourceDisplayName", "Device Registration Service")},
		{name: "a managed device", rec: with(base(), "properties.deviceDetail.isManaged", true)},
		{name: "managed given as a string", rec: with(base(), "properties.deviceDetail.isManaged", "True")},
		{name: "the Windows logon itself", rec: with(base(), "properties.appDisplayName", "Windows Sign In")},
		{name: "the Windows authentication provider", rec: with(base(), "properties.userAgent", "Windows-AzureAD-Authentication-Provider/1.0")},
		{name: "a refresh token", rec: with(base(), "properties.incomingTokenType", "refreshToken")},
		{name: "failed", rec: with(base(), "properties.status.errorCode", 50140)},
		{name: "no device id", rec: with(base(), "properties.deviceDetail.deviceId", ""), skip: SkipNoMatch},
		{name: "device id not a GUID", rec: with(base(), "properties.deviceDetail.deviceId", "DESKTOP"), skip: SkipNoMatch},
		{name: "device id a number", rec: with(base(), "properties.deviceDetail.deviceId", 5), skip: SkipWrongType},
		{name: "not a sign-in", rec: with(base(), "category", "AuditLogs"), skip: SkipNotSignIn},
		{name: "bad time", rec: with(base(), "time", "soon"), skip: SkipBadTime},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, skip := DecodeDeviceSignIn(mustJSON(t, tc.rec))
			require.Equal(t, tc.skip, skip, "DecodeDeviceSignIn skip = %s, want %s", skip, tc.skip)
			if skip != SkipNone {
				return
			}
			require.Equal(t, roadtxDevice, s.DeviceID, "lower-cased")
			require.Equal(t, tc.prt, s.IsPRTUse(), "IsPRTUse")
			require.Equal(t, "2026-03-02T10:20:00.123Z", s.Time.Format(time.RFC3339Nano))
		})
	}
}

func TestDeviceFilter(t *testing.T) {
	f := NewDeviceFilter([]string{strings.ToUpper(roadtxDevice), "not-a-guid"})
	require.Equal(t, 1, f.Watching())
	audit := func(name string) []byte {
		return compact(t, func() json.RawMessage { return mustJSON(t, auditRecord(t, name)) }())
	}
	signIn := func(dev string) []byte { return mustJSON(t, prtSignIn("si", dev, "2026-03-02T10:20:00Z")) }
	spaced := strings.Replace(string(signIn(roadtxDevice)), `"deviceId":"`, `"deviceId" :  "`, 1)
	other, _ := json.Marshal(map[string]any{"category": "AuditLogs", "operationName": "Add service principal", "properties": map[string]any{"activityDisplayName": "Add service principal"}})
	tests := []struct {
		name string
		raw  []byte
		want DeviceKind
	}{
		{name: "Register device", raw: audit("roadtx register device"), want: DeviceAuditOp},
		{name: "Add device", raw: audit("roadtx add device"), want: DeviceAuditOp},
		{name: "Add registered owner", raw: audit("add registered owner"), want: DeviceAuditOp},
		{name: "Add registered users", raw: audit("add registered users"), want: DeviceAuditOp},
		{name: "Update device", raw: audit("update device by DRS"), want: DeviceAuditOp},
		{name: "another audit operation", raw: other, want: DeviceNone},
		{name: "PRT sign-in of the watched device", raw: signIn(roadtxDevice), want: DeviceSignInOp},
		{name: "watched device, upper case", raw: signIn(strings.ToUpper(roadtxDevice)), want: DeviceSignInOp},
		{name: "spaces around the colon", raw: []byte(spaced), want: DeviceSignInOp},
		{name: "PRT sign-in of a managed device", raw: signIn(managedDevice), want: DeviceNone},
		{name: "a sign-in naming no device", raw: signIn(""), want: DeviceNone},
		{name: "a \\u escape could spell anything", raw: []byte(`{"category":"Audit\u004cogs"}`), want: DeviceAuditOp | DeviceSignInOp},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, f.Classify(tc.raw), "Classify(%s)", tc.name)
		})
	}
	// Nothing watched: sign-ins are never candidates.
	require.Equal(t, DeviceNone, NewDeviceFilter(nil).Classify(signIn(roadtxDevice)))
}

// TestDeviceFilterNeverMissesDecodable: every record a decoder would use is
// passed by the filter (random fields around the real ones).
func TestDeviceFilterNeverMissesDecodable(t *testing.T) {
	f := NewDeviceFilter([]string{roadtxDevice})
	rng := rand.New(rand.NewPCG(3, 4))
	var raws [][]byte
	for _, tc := range loadAuditCases(t) {
		raws = append(raws, compact(t, tc.Record))
	}
	byUser := auditRecord(t, "update device by DRS")
	byUser["identity"] = "Alex Wilber"
	byUser["properties"].(map[string]any)["initiatedBy"] = map[string]any{"user": map[string]any{"userPrincipalName": "alex@contoso.example"}}
	raws = append(raws, mustJSON(t, byUser))
	for i := range 200 {
		dev := managedDevice
		if rng.IntN(3) == 0 {
			dev = roadtxDevice
		}
		raws = append(raws, mustJSON(t, prtSignIn(fmt.Sprint(i), dev, "2026-03-02T10:20:00Z")))
	}
	for i, raw := range raws {
		k := f.Classify(raw)
		// Update device records not written by the Device Registration
		// Service are ruled out by bytes; the pipeline drops them anyway.
		if a, s := DecodeDeviceAudit(raw); s == AuditUsed && (a.Op != OpUpdateDevice || a.Initiator == "Device Registration Service") {
			require.NotZero(t, k&DeviceAuditOp, "record %d: an audit record the decoder uses is filtered out", i)
		} else if s == AuditUsed {
			require.Zero(t, k&DeviceAuditOp, "record %d: an Update device by %q is decoded", i, a.Initiator)
		}
		if s, skip := DecodeDeviceSignIn(raw); skip == SkipNone && s.DeviceID == roadtxDevice {
			require.NotZero(t, k&DeviceSignInOp, "record %d: a sign-in of a watched device is filtered out", i)
		}
	}
}

func TestStage(t *testing.T) {
	tests := []struct {
		stage    Stage
		name     string
		severity string
		risk     int
	}{
		{StageCodePhish, "code-phish", "high", 73},
		{StageDeviceRegistered, "device-registered", "critical", 91},
		{StagePRTUsed, "prt-used", "critical", 99},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.name, tc.stage.String())
			require.Equal(t, tc.severity, tc.stage.Severity("high"))
			require.Equal(t, tc.risk, tc.stage.RiskScore(73))
		})
	}
	require.Equal(t, "stage?", Stage(9).String())
}

// burstRegistration merges the roadtx burst into one registration.
func burstRegistration(t testing.TB) Registration {
	var r Registration
	for _, a := range roadtxBurst(t) {
		r.Merge(a)
	}
	return r
}

func decodedPRT(t testing.TB, id, dev, at string) DeviceSignIn {
	s, skip := DecodeDeviceSignIn(mustJSON(t, prtSignIn(id, dev, at)))
	require.Equal(t, SkipNone, skip)
	return s
}

func TestLinkChain(t *testing.T) {
	ws := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	reg := burstRegistration(t) // registered 10:07:12.51
	var benign Registration
	benign.Merge(decodeCase(t, "benign windows 11 join")) // 09:00:05, same user
	other := reg
	other.fields[RegUPN] = regField{Rank: 4, Value: "someone@contoso.example"}
	prt := decodedPRT(t, "si-1", roadtxDevice, "2026-03-02T10:20:00Z")
	prtManaged := decodedPRT(t, "si-2", managedDevice, "2026-03-02T10:21:00Z")
	prtBefore := decodedPRT(t, "si-0", roadtxDevice, "2026-03-02T09:50:00Z")
	tests := []struct {
		name    string
		upn     string
		regs    []Registration
		prts    []DeviceSignIn
		stage   Stage
		devices []string
		signIns []string
	}{
		{name: "no registration", upn: "alex@contoso.example", stage: StageCodePhish},
		{name: "registration by the user", upn: "alex@contoso.example", regs: []Registration{reg}, stage: StageDeviceRegistered, devices: []string{roadtxDevice}},
		{name: "UPN in another case", upn: "Alex@Contoso.Example", regs: []Registration{reg}, stage: StageDeviceRegistered, devices: []string{roadtxDevice}},
		{name: "registration by someone else", upn: "alex@contoso.example", regs: []Registration{other}, stage: StageCodePhish},
		{name: "registration before the window", upn: "alex@contoso.example", regs: []Registration{benign}, stage: StageCodePhish},
		{name: "PRT of the device", upn: "alex@contoso.example", regs: []Registration{reg, benign}, prts: []DeviceSignIn{prtManaged, prt, prt},
			stage: StagePRTUsed, devices: []string{roadtxDevice}, signIns: []string{"si-1"}},
		{name: "PRT before the registration is not linked", upn: "alex@contoso.example", regs: []Registration{reg}, prts: []DeviceSignIn{prtBefore},
			stage: StageDeviceRegistered, devices: []string{roadtxDevice}},
		{name: "PRT without its registration", upn: "alex@contoso.example", prts: []DeviceSignIn{prt}, stage: StageCodePhish},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := LinkChain(tc.upn, ws, 24*time.Hour, tc.regs, tc.prts)
			require.Equal(t, tc.stage, v.Stage)
			var devs, sis []string
			for _, d := range v.RegisteredDevices {
				devs = append(devs, d.DeviceID)
			}
			for _, s := range v.PrtSignIns {
				sis = append(sis, s.ID)
			}
			require.Equal(t, tc.devices, devs)
			require.Equal(t, tc.signIns, sis)
			require.NotNil(t, v.RegisteredDevices)
			require.NotNil(t, v.PrtSignIns)
		})
	}
	// The device element carries what a responder needs.
	v := LinkChain("alex@contoso.example", ws, 24*time.Hour, []Registration{reg}, nil)
	b, err := json.Marshal(v.RegisteredDevices[0])
	require.NoError(t, err)
	require.JSONEq(t, `{"DeviceId":"9c1f3a52-6d1e-4b7a-8f3e-2d5c7a9b1e40","DisplayName":"DESKTOP-7K2M9QXA","OperatingSystem":"Windows",
		"OperatingSystemVersion":"10.0.19041.928","TrustType":"Azure AD join","RegisteredAt":"2026-03-02T10:07:12.510Z",
		"Address":"198.51.100.23","UserAgent":"Dsreg/10.0 (Windows 10.0.19041.928)",
		"Fingerprints":["desktop-random-name","roadtools-default-os-build"],
		"ObjectId":"c2d4e6f8-1a3b-4c5d-8e9f-0a1b2c3d4e5f","CorrelationId":"5b8e2f14-7c3d-4a9e-b1f6-3e2d1c0b9a87"}`, string(b))
}

func TestLinkChainBounds(t *testing.T) {
	ws := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	base := burstRegistration(t)
	var regs []Registration
	for i := range MaxChainDevices + 5 {
		r := base
		r.Records = nil
		r.ObjectID = fmt.Sprintf("%08x-0000-4000-8000-000000000000", i)
		r.fields[RegDeviceID] = regField{Rank: 4, Value: fmt.Sprintf("%08x-1111-4000-8000-000000000000", i)}
		r.RegisteredAt = ws.Add(time.Duration(i) * time.Minute)
		regs = append(regs, r)
	}
	var prts []DeviceSignIn
	for i := range MaxPrtSignIns + 30 {
		at := ws.Add(2*time.Hour + time.Duration(i)*time.Second).Format(time.RFC3339)
		prts = append(prts, decodedPRT(t, fmt.Sprintf("si-%03d", i), regs[len(regs)-1].Field(RegDeviceID), at))
	}
	rng := rand.New(rand.NewPCG(5, 6))
	var first ChainView
	for i := range 10 {
		rng.Shuffle(len(regs), func(a, b int) { regs[a], regs[b] = regs[b], regs[a] })
		rng.Shuffle(len(prts), func(a, b int) { prts[a], prts[b] = prts[b], prts[a] })
		v := LinkChain("alex@contoso.example", ws, 24*time.Hour, slices.Clone(regs), prts)
		require.Len(t, v.RegisteredDevices, MaxChainDevices)
		require.Len(t, v.PrtSignIns, MaxPrtSignIns)
		require.Equal(t, fmt.Sprintf("si-%03d", MaxPrtSignIns+29), v.PrtSignIns[0].ID, "newest first")
		if i == 0 {
			first = v
			continue
		}
		require.Equal(t, first, v, "the view depends on order")
	}
}

// TestEvaluateChained: the chain columns revise the seed's alert: the same
// AlertId, a new revision per stage, the seed's figures untouched, and no
// revision when nothing changed.
func TestEvaluateChained(t *testing.T) {
	r := DefaultRule()
	a1 := ev(t, "a", "2026-03-02T10:05:00Z", "192.0.2.1", "Chrome 120")
	key, _ := r.Select(a1)
	g := NewGroup(key)
	g.Merge(a1, nil)
	g.Merge(ev(t, "b", "2026-03-02T10:06:00Z", "198.51.100.23", ""), nil)
	now := time.Date(2026, 3, 2, 10, 30, 0, 0, time.UTC)
	first, ok := r.EvaluateChained(g, now, nil)
	require.True(t, ok)
	require.Equal(t, "code-phish", first.Stage)
	require.Equal(t, "high", first.Severity)
	require.Empty(t, first.RegisteredDevices)

	c := &UserChain{UPN: "alex@contoso.example"}
	c.AddRegistration(burstRegistration(t))
	v := c.View(key.Window, DefaultChainHorizon)
	second, ok := r.EvaluateChained(g, now, &v)
	require.True(t, ok)
	require.Equal(t, first.AlertID, second.AlertID)
	require.Equal(t, 2, second.Revision)
	require.Equal(t, "device-registered", second.Stage)
	require.Equal(t, "critical", second.Severity)
	require.Equal(t, 91, second.RiskScore)
	require.Len(t, second.RegisteredDevices, 1)
	seedCols := func(a Alert) Alert {
		a.TimeGenerated, a.Revision, a.Severity, a.RiskScore = Time{}, 0, "", 0
		a.Stage, a.RegisteredDevices, a.PrtSignIns = "", nil, nil
		return a
	}
	require.Equal(t, seedCols(first), seedCols(second), "the seed's columns do not change with the chain")

	_, ok = r.EvaluateChained(g, now, &v)
	require.False(t, ok, "the same view is no new revision")

	c.AddSignIn(decodedPRT(t, "si-1", roadtxDevice, "2026-03-02T10:20:00Z"), DefaultChainHorizon)
	v = c.View(key.Window, DefaultChainHorizon)
	third, ok := r.EvaluateChained(g, now, &v)
	require.True(t, ok)
	require.Equal(t, "prt-used", third.Stage)
	require.Equal(t, 99, third.RiskScore)
	require.Len(t, third.PrtSignIns, 1)
	row, err := third.MarshalJSON()
	require.NoError(t, err)
	require.Contains(t, string(row), `"Stage":"prt-used","RegisteredDevices":[{"DeviceId":"9c1f3a52-6d1e-4b7a-8f3e-2d5c7a9b1e40"`)
}

// worstChainView links a user chain at every bound, with every value at its
// longest in ch, for the worst-case size tests.
func worstChainView(t testing.TB, ch string) ChainView {
	t.Helper()
	long := strings.Repeat(ch, MaxChainValueBytes/len(ch))
	upn := "alex@contoso.example"
	c := &UserChain{UPN: upn}
	base := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	for i := range MaxUserRegistrations {
		var r Registration
		r.ObjectID = fmt.Sprintf("%08x-0000-4000-8000-000000000000", i)
		for f := range numRegFields {
			r.offer(f, 4, long)
		}
		r.fields[RegDeviceID] = regField{Rank: 4, Value: fmt.Sprintf("%08x-1111-4000-8000-000000000000", i)}
		r.fields[RegUPN] = regField{Rank: 4, Value: upn}
		r.fields[RegDisplayName] = regField{Rank: 4, Value: "DESKTOP-ABCDEF"}
		r.fields[RegOperatingSystemVersion] = regField{Rank: 4, Value: RoadtoolsOSBuild}
		r.fields[RegUserAgent] = regField{Rank: 4, Value: "python-requests/" + long}
		r.RegisteredAt = base
		c.AddRegistration(r)
	}
	for i := range MaxUserSignIns {
		c.SignIns = append(c.SignIns, DeviceSignIn{ID: fmt.Sprint(i) + long, Time: base, UPN: upn, DeviceID: c.Registrations[0].Field(RegDeviceID),
			Address: long, AppDisplayName: long, ResourceDisplayName: long, UserAgent: long, TokenType: TokenTypePRT, Success: true})
	}
	v := c.View(base, DefaultChainHorizon)
	require.Equal(t, []string{"RegisteredDevices", "PrtSignIns"}, v.Truncated)
	return v
}
