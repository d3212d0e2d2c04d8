package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/drswatch/drswatch/detect"
	"github.com/drswatch/drswatch/internal/fixture"
	"github.com/drswatch/drswatch/pipeline"
	"github.com/drswatch/drswatch/store"
	"github.com/drswatch/drswatch/store/memstore"
)

// chainAttack is one scripted attack and what its alert must show.
type chainAttack struct {
	upn, session string
	at           time.Time
	reg          *fixture.Registration // nil: the attacker stopped at the phish
	prts         int                   // PRT sign-ins of the registered device
	regFirst     bool                  // the registration arrives before the phish
	stage        string
	severity     string
	risk         int
	fingerprints []string
}

func chainScript() (attacks []chainAttack, benign []map[string]any) {
	base := time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC)
	dev := func(i int) string { return fmt.Sprintf("%08x-6d1e-4b7a-8f3e-2d5c7a9b1e40", i) }
	obj := func(i int) string { return fmt.Sprintf("%08x-1a3b-4c5d-8e9f-0a1b2c3d4e5f", i) }
	cor := func(i int) string { return fmt.Sprintf("%08x-7c3d-4a9e-b1f6-3e2d1c0b9a87", i) }
	roadtx := func(i int, upn string, at time.Time) *fixture.Registration {
		return &fixture.Registration{UPN: upn, DeviceID: dev(i), ObjectID: obj(i), CorrelationID: cor(i), At: at, Name: fmt.Sprintf("DESKTOP-%08dX", i)[:16]}
	}
	kit := func(i int, upn string, at time.Time) *fixture.Registration {
		return &fixture.Registration{UPN: upn, DeviceID: dev(i), ObjectID: obj(i), CorrelationID: cor(i), At: at,
			Name: "DESKTOP-4F9A2C", OSVersion: "10.0.19045.2006", UserAgent: "axios/1.7.2", IP: "203.0.113.201"}
	}
	for i := range 8 {
		upn := fmt.Sprintf("victim%d@contoso.example", i)
		a := chainAttack{upn: upn, session: fmt.Sprintf("sess-%d", i), at: base.Add(time.Duration(i)*7*time.Minute + 2*time.Minute)}
		switch i % 4 {
		case 0: // the phish alone
			a.stage, a.severity, a.risk = "code-phish", "high", 73
		case 1: // roadtx registers a device
			a.reg = roadtx(i, upn, a.at.Add(3*time.Minute))
			a.stage, a.severity, a.risk = "device-registered", "critical", 91
			a.fingerprints = []string{detect.FingerprintRandomName, detect.FingerprintRoadtoolsOSBuild}
		case 2: // roadtx registers and uses the PRT
			a.reg, a.prts = roadtx(i, upn, a.at.Add(3*time.Minute)), 3
			a.stage, a.severity, a.risk = "prt-used", "critical", 99
			a.fingerprints = []string{detect.FingerprintRandomName, detect.FingerprintRoadtoolsOSBuild}
		case 3: // a kit, its registration record travelling faster than the sign-ins
			a.reg, a.prts, a.regFirst = kit(i, strings2Upper(upn), a.at.Add(2*time.Minute)), 2, true
			a.stage, a.severity, a.risk = "prt-used", "critical", 99
			a.fingerprints = []string{detect.FingerprintRandomName, detect.FingerprintKitOSBuild, detect.FingerprintScriptedClient}
		}
		attacks = append(attacks, a)
	}
	// A benign registration by a user without an alert, and its PRT use.
	good := fixture.Registration{UPN: "alice@contoso.example", DeviceID: dev(100), ObjectID: obj(100), CorrelationID: cor(100),
		Name: "DESKTOP-3OVO59V", OSVersion: "10.0.22631.2715", IP: "192.0.2.50", At: base.Add(20 * time.Minute)}
	benign = append(benign, good.Records()...)
	benign = append(benign, fixture.PRT{UPN: "alice@contoso.example", DeviceID: dev(100), At: base.Add(40 * time.Minute)}.Record())
	// The tenant's managed devices using their PRTs, victims' included.
	for i := range 40 {
		upn := fmt.Sprintf("victim%d@contoso.example", i%8)
		benign = append(benign, fixture.PRT{UPN: upn, DeviceID: fmt.Sprintf("%08x-aaaa-4bbb-8ccc-dddddddddddd", i), Managed: i%2 == 0,
			At: base.Add(time.Duration(i) * time.Minute)}.Record())
	}
	return attacks, benign
}

// strings2Upper upper-cases a UPN's first letter: audit and sign-in records
// need not spell a user alike.
func strings2Upper(s string) string { return string(s[0]-'a'+'A') + s[1:] }

// chainBatches delivers the script in small shuffled batches: first the
// phishes, registrations and benign records, then the PRT sign-ins (a PRT
// sign-in is linked when it arrives after its device's registration), with
// some batches sent twice.
func chainBatches(r *rand.Rand, attacks []chainAttack, benign []map[string]any) [][][]byte {
	var early, first, late []map[string]any
	for _, a := range attacks {
		for _, s := range fixture.Phish(a.upn, a.session, a.at) {
			first = append(first, s.Record())
		}
		if a.reg != nil {
			if a.regFirst {
				early = append(early, a.reg.Records()...)
			} else {
				first = append(first, a.reg.Records()...)
			}
			for k := range a.prts {
				late = append(late, fixture.PRT{ID: fmt.Sprintf("prt-%s-%d", a.upn, k), UPN: a.upn, DeviceID: a.reg.DeviceID,
					At: a.reg.At.Add(time.Duration(5+k) * time.Minute)}.Record())
			}
		}
	}
	first = append(first, benign...)
	var out [][][]byte
	for _, phase := range [][]map[string]any{early, first, late} {
		r.Shuffle(len(phase), func(i, j int) { phase[i], phase[j] = phase[j], phase[i] })
		for len(phase) > 0 {
			var batch [][]byte
			for range 1 + r.Intn(3) {
				n := min(len(phase), 1+r.Intn(3))
				if n == 0 {
					break
				}
				batch = append(batch, fixture.Records(phase[:n]...))
				phase = phase[n:]
			}
			out = append(out, batch)
			if r.Intn(4) == 0 {
				out = append(out, batch) // redelivered
			}
		}
	}
	return out
}

// TestAttackChain: scripted chains among benign registrations and ordinary
// PRT sign-ins, delivered shuffled in small batches and partly twice: each
// attack gives exactly one alert, at its stage, severity, device and PRT
// sign-ins; the benign registration and the managed devices' sign-ins give
// none; and the seed rule's columns are those it gives alone.
func TestAttackChain(t *testing.T) {
	attacks, benign := chainScript()
	for _, sk := range stores {
		t.Run(sk.name, func(t *testing.T) {
			for round := range 3 {
				r := rand.New(rand.NewSource(int64(round)))
				batches := chainBatches(r, attacks, benign)
				b := newBed(t, sk.open(t))
				seedOnly := newBedWith(t, sk.open(t), &fakeSink{}, pipeline.Options{SeedOnly: true})
				for _, bs := range batches {
					b.mustBatch(bs)
					seedOnly.mustBatch(bs)
				}
				final := b.sink.final(t)
				require.Len(t, final, len(attacks), "round %d: one alert per attack, none for the benign records", round)
				require.Empty(t, byRule(t, final, detect.SlidingRuleID))
				alone := seedOnly.sink.final(t)
				for _, a := range attacks {
					id := keyOf(a.upn, a.session, a.at.Hour(), a.at.Minute()/30*30).ID()
					row, ok := final[id]
					require.True(t, ok, "round %d: no alert for %s", round, a.upn)
					var got detect.Alert
					require.NoError(t, json.Unmarshal([]byte(row), &got))
					require.Equal(t, a.stage, got.Stage, "%s", a.upn)
					require.Equal(t, a.severity, got.Severity, "%s", a.upn)
					require.Equal(t, a.risk, got.RiskScore, "%s", a.upn)
					if a.reg == nil {
						require.Empty(t, got.RegisteredDevices, "%s", a.upn)
					} else {
						require.Len(t, got.RegisteredDevices, 1, "%s", a.upn)
						d := got.RegisteredDevices[0]
						require.Equal(t, a.reg.DeviceID, d.DeviceID, "%s: the deviceId, not the object id", a.upn)
						require.Equal(t, a.reg.ObjectID, d.ObjectID)
						require.Equal(t, a.fingerprints, d.Fingerprints, "%s", a.upn)
						require.NotEmpty(t, d.UserAgent)
						require.NotEmpty(t, d.Address)
						require.Equal(t, a.reg.At.Truncate(time.Millisecond), d.RegisteredAt.Time, "%s", a.upn)
					}
					var prts []string
					for _, p := range got.PrtSignIns {
						prts = append(prts, p.ID)
						require.Equal(t, a.reg.DeviceID, p.DeviceID)
						require.Equal(t, "Office 365 Exchange Online", p.ResourceDisplayName)
					}
					var want []string
					for k := range a.prts {
						want = append(want, fmt.Sprintf("prt-%s-%d", a.upn, k))
					}
					slices.Sort(prts)
					require.Equal(t, want, prts, "%s: its PRT sign-ins, and no managed device's", a.upn)

					// The seed's columns are those of the seed rule alone.
					var seed detect.Alert
					require.NoError(t, json.Unmarshal([]byte(alone[id]), &seed))
					got.Stage, got.Severity, got.RiskScore, got.RegisteredDevices, got.PrtSignIns = seed.Stage, seed.Severity, seed.RiskScore, seed.RegisteredDevices, seed.PrtSignIns
					require.Equal(t, seed, got, "%s: seed columns", a.upn)
				}
			}
		})
	}
}

// byRule keeps the alerts of one rule.
func byRule(t *testing.T, final map[string]string, ruleID string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for id, row := range final {
		var a struct{ RuleId string }
		require.NoError(t, json.Unmarshal([]byte(row), &a))
		if a.RuleId == ruleID {
			out[id] = row
		}
	}
	return out
}

// countingStore counts the store calls the pipeline makes.
type countingStore struct {
	pipeline.Store
	mu             sync.Mutex
	loads, commits int
}

func (s *countingStore) Load(ctx context.Context, id string, w time.Time) (store.Group, error) {
	s.mu.Lock()
	s.loads++
	s.mu.Unlock()
	return s.Store.Load(ctx, id, w)
}

func (s *countingStore) Commit(ctx context.Context, g store.Group, out []store.Pending) error {
	s.mu.Lock()
	s.commits++
	s.mu.Unlock()
	return s.Store.Commit(ctx, g, out)
}

func (s *countingStore) calls() (int, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.loads, s.commits
}

// TestChainStoreCallsFollowRegistrations: traffic in which 30% of sign-ins
// carry a primary refresh token costs no store call but the watch list's
// read once per WatchRefresh; an attack's registration and PRT sign-ins
// cost a bounded number, whatever the traffic around them.
func TestChainStoreCallsFollowRegistrations(t *testing.T) {
	at := time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC)
	traffic := func(batch int) [][]byte {
		var bodies [][]byte
		for b := range 4 {
			var recs []map[string]any
			for i := range 50 {
				n := batch*1000 + b*100 + i
				if i%10 < 3 { // 30% PRT sign-ins of the tenant's devices
					recs = append(recs, fixture.PRT{UPN: fmt.Sprintf("u%d@contoso.example", n%300), DeviceID: fmt.Sprintf("%08x-aaaa-4bbb-8ccc-dddddddddddd", n%500),
						Managed: n%3 != 0, At: at.Add(time.Duration(n) * time.Second)}.Record())
					continue
				}
				recs = append(recs, fixture.SignIn{UPN: fmt.Sprintf("u%d@contoso.example", n%300), AppID: "00000003-0000-0000-c000-000000000000",
					Time: at.Add(time.Duration(n) * time.Second), ID: fmt.Sprint("plain-", n)}.Record())
			}
			bodies = append(bodies, fixture.Records(recs...))
		}
		return bodies
	}
	st := &countingStore{Store: memstore.New()}
	b := newBed(t, st)
	for i := range 20 {
		b.mustBatch(traffic(i))
	}
	loads, commits := st.calls()
	require.Equal(t, 1, loads, "the watch list, read once (the bed's clock stands still)")
	require.Zero(t, commits)
	b.advance(11 * time.Second)
	b.mustBatch(traffic(21))
	loads, _ = st.calls()
	require.Equal(t, 2, loads, "read again after WatchRefresh")

	// An attack among the same traffic.
	reg := fixture.Registration{UPN: "victim@contoso.example", At: time.Date(2026, 11, 3, 9, 35, 0, 0, time.UTC)}
	var attack [][]byte
	for _, s := range fixture.Phish("victim@contoso.example", "s1", time.Date(2026, 11, 3, 9, 31, 0, 0, time.UTC)) {
		attack = append(attack, fixture.Records(s.Record()))
	}
	attack = append(attack, fixture.Records(reg.Records()...))
	b.mustBatch(append(traffic(22), attack...))
	l1, c1 := st.calls()
	for k := range 3 {
		b.mustBatch(append(traffic(23+k), fixture.Records(fixture.PRT{ID: fmt.Sprint("prt-", k), UPN: "victim@contoso.example",
			DeviceID: reg.DeviceIDOrDefault(), At: reg.At.Add(time.Duration(10+k) * time.Minute)}.Record())))
	}
	l2, c2 := st.calls()
	t.Logf("attack batch: %d loads, %d commits; three PRT batches: %d loads, %d commits", l1-2, c1, l2-l1, c2-c1)
	require.LessOrEqual(t, l1-2, 12, "the attack's batch: its group, session, device, chain and watch list")
	require.LessOrEqual(t, c1, 8)
	require.LessOrEqual(t, l2-l1, 3*4, "each PRT sign-in: the chain, the alert's group, the watch list")
	require.LessOrEqual(t, c2-c1, 3*2, "each PRT sign-in: the chain and the alert's revision")
	final := b.sink.final(t)
	require.Len(t, final, 1)
	for _, row := range final {
		var a detect.Alert
		require.NoError(t, json.Unmarshal([]byte(row), &a))
		require.Equal(t, "prt-used", a.Stage)
		require.Len(t, a.PrtSignIns, 3)
	}
}

// TestChainHostileAuditRecords: audit records of every hostile shape in the
// batch of a valid attack are skipped and counted by reason; the attack
// still alerts, at its stage.
func TestChainHostileAuditRecords(t *testing.T) {
	reg := fixture.Registration{UPN: "victim@contoso.example", At: time.Date(2026, 11, 3, 9, 35, 0, 0, time.UTC)}
	good := reg.Records()
	mutate := func(f func(m map[string]any)) map[string]any {
		var m map[string]any
		b, _ := json.Marshal(good[1]) // Add device
		require.NoError(t, json.Unmarshal(b, &m))
		f(m)
		return m
	}
	props := func(m map[string]any) map[string]any { return m["properties"].(map[string]any) }
	many := func(n int, v any) []any {
		out := make([]any, n)
		for i := range out {
			out[i] = v
		}
		return out
	}
	hostile := []map[string]any{
		mutate(func(m map[string]any) { m["operationName"] = []any{"Add device"} }),
		mutate(func(m map[string]any) { props(m)["targetResources"] = "Device" }),
		mutate(func(m map[string]any) {
			props(m)["targetResources"] = many(20000, map[string]any{"type": "Device", "id": "x", "modifiedProperties": []any{}})
		}),
		mutate(func(m map[string]any) {
			tr := props(m)["targetResources"].([]any)[0].(map[string]any)
			tr["id"] = nil
			tr["modifiedProperties"] = many(3000, map[string]any{"displayName": "X", "newValue": "[1]"})
		}),
		mutate(func(m map[string]any) {
			props(m)["targetResources"].([]any)[0].(map[string]any)["displayName"] = strings.Repeat("D", 100000)
		}),
		mutate(func(m map[string]any) { m["time"] = 17 }),
		mutate(func(m map[string]any) { props(m)["result"] = "failure" }),
	}
	var bodies [][]byte
	for _, s := range fixture.Phish("victim@contoso.example", "s1", time.Date(2026, 11, 3, 9, 31, 0, 0, time.UTC)) {
		bodies = append(bodies, fixture.Records(s.Record()))
	}
	bodies = append(bodies, fixture.Records(append(hostile, good...)...), []byte(`{"records":[{"category":"AuditLogs","operationName":"Add device","properties":`))
	for _, sk := range stores {
		t.Run(sk.name, func(t *testing.T) {
			b := newBed(t, sk.open(t))
			b.mustBatch(bodies)
			final := b.sink.final(t)
			require.Len(t, final, 1)
			for _, row := range final {
				var a detect.Alert
				require.NoError(t, json.Unmarshal([]byte(row), &a))
				require.Equal(t, "device-registered", a.Stage)
				require.Equal(t, reg.DeviceIDOrDefault(), a.RegisteredDevices[0].DeviceID)
			}
			lines := b.logs.Lines(t, "batch processed")
			require.Len(t, lines, 1)
			audit := lines[0]["chain"].(map[string]any)["audit"].(map[string]any)
			require.Equal(t, map[string]any{
				// The four of the burst, and the one whose 100 KB name was cut.
				"audit_used": 5.0, "audit_wrong_type": 1.0, "audit_no_device": 2.0, "audit_oversize": 1.0,
				"audit_bad_time": 1.0, "audit_failed": 1.0, "audit_not_json": 1.0,
			}, audit, "hostile audit records, counted by reason")
		})
	}
}
