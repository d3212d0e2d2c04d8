package gen_test

import (
	"bytes"
	"encoding/json"
	"math"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/drswatch/drswatch/detect"
	"github.com/drswatch/drswatch/gen"
)

func generate(t *testing.T, cfg gen.Config) ([]byte, gen.Stats) {
	t.Helper()
	var buf bytes.Buffer
	st, err := gen.New(cfg).WriteNDJSON(&buf)
	require.NoError(t, err)
	require.Equal(t, int64(buf.Len()), st.Bytes, "Stats.Bytes")
	return buf.Bytes(), st
}

// records splits the output into bodies and their records.
func records(t *testing.T, out []byte) [][]json.RawMessage {
	t.Helper()
	var bodies [][]json.RawMessage
	for i, line := range bytes.Split(bytes.TrimSuffix(out, []byte("\n")), []byte("\n")) {
		var b struct {
			Records []json.RawMessage `json:"records"`
		}
		require.NoError(t, json.Unmarshal(line, &b), "line %d", i+1)
		require.NotEmpty(t, b.Records, "line %d", i+1)
		bodies = append(bodies, b.Records)
	}
	return bodies
}

var configs = []struct {
	name string
	cfg  gen.Config
}{
	{"defaults-small", gen.Config{Seed: 1, Bodies: 100}},
	{"shuffled-redelivered", gen.Config{Seed: 7, Bodies: 150, RecordsPerBody: 30, MatchShare: 0.01, Attacks: 12, Redeliver: 0.2, Shuffle: true}},
	{"one-record-bodies", gen.Config{Seed: 3, Bodies: 500, RecordsPerBody: 1, MatchShare: 0.02, Attacks: 4, Span: 3 * time.Hour}},
	{"unaligned-start", gen.Config{Seed: 11, Bodies: 120, Start: time.Date(2026, 5, 1, 10, 17, 3, 0, time.UTC), Span: 6 * time.Hour, Attacks: 8, MatchShare: 0.01}},
}

func TestDeterministic(t *testing.T) {
	for _, tc := range configs {
		t.Run(tc.name, func(t *testing.T) {
			a, sa := generate(t, tc.cfg)
			b, sb := generate(t, tc.cfg)
			require.True(t, bytes.Equal(a, b), "same config, different bytes")
			require.Equal(t, sa, sb)
			other := tc.cfg
			other.Seed++
			c, _ := generate(t, other)
			require.False(t, bytes.Equal(a, c), "different seed, same bytes")
		})
	}
}

func TestNextMatchesWriteNDJSON(t *testing.T) {
	cfg := configs[1].cfg
	want, _ := generate(t, cfg)
	g := gen.New(cfg)
	var got bytes.Buffer
	for {
		b, ok := g.Next()
		if !ok {
			break
		}
		got.Write(b)
		got.WriteByte('\n')
	}
	require.Equal(t, want, got.Bytes())
	_, ok := g.Next()
	require.False(t, ok, "Next after the end")
}

func TestShapeAndSizes(t *testing.T) {
	for _, tc := range configs {
		t.Run(tc.name, func(t *testing.T) {
			out, st := generate(t, tc.cfg)
			bodies := records(t, out)
			require.Equal(t, st.Bodies, len(bodies))
			cats := map[string]int{}
			var sizes []int
			n := 0
			for _, recs := range bodies {
				for _, r := range recs {
					n++
					sizes = append(sizes, len(r))
					var rec struct {
						Time       string `json:"time"`
						Category   string `json:"category"`
						Properties struct {
							IPAddress *string `json:"ipAddress"`
						} `json:"properties"`
					}
					require.NoError(t, json.Unmarshal(r, &rec))
					require.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$`, rec.Time)
					cats[rec.Category]++
					if rec.Category == "ManagedIdentitySignInLogs" {
						require.Equal(t, "", *rec.Properties.IPAddress)
					}
				}
			}
			require.Equal(t, st.Records, n)
			slices.Sort(sizes)
			require.GreaterOrEqual(t, sizes[0], 1536, "smallest record")
			require.LessOrEqual(t, sizes[len(sizes)-1], 3072, "largest record")
			if n >= 2000 {
				median := sizes[len(sizes)/2]
				require.True(t, median > 2000 && median < 2900, "median record size %d", median)
				// A spread, not one size: the deciles differ.
				require.Greater(t, sizes[len(sizes)*9/10]-sizes[len(sizes)/10], 300, "record size spread")
				for _, c := range []string{"SignInLogs", "NonInteractiveUserSignInLogs", "ServicePrincipalSignInLogs", "ManagedIdentitySignInLogs", "AuditLogs"} {
					require.Positive(t, cats[c], "records of category %s", c)
				}
				require.Greater(t, cats["NonInteractiveUserSignInLogs"], n/2, "non-interactive records are most")
			}
		})
	}
}

func TestMatchShare(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cfg   gen.Config
		share float64
	}{
		{"default", gen.Config{Seed: 5, Bodies: 800, Attacks: 5}, gen.DefaultMatchShare},
		{"one-percent", gen.Config{Seed: 6, Bodies: 400, MatchShare: 0.01, Attacks: 10}, 0.01},
		{"five-percent", gen.Config{Seed: 8, Bodies: 200, MatchShare: 0.05, Attacks: 20}, 0.05},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, st := generate(t, tc.cfg)
			n := 0
			for _, recs := range records(t, out) {
				for _, r := range recs {
					if bytes.Contains(r, []byte(`"appId":"`+detect.DefaultAppID+`"`)) &&
						bytes.Contains(r, []byte(`"resourceId":"`+detect.DefaultResourceID+`"`)) {
						n++
					}
				}
			}
			require.Equal(t, st.Matching, n)
			got := float64(n) / float64(st.Records)
			require.InDelta(t, tc.share, got, tc.share*0.25, "MAB->DRS share = %g, want %g", got, tc.share)
		})
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  gen.Config
		ok   bool
	}{
		{"zero", gen.Config{}, true},
		{"negative bodies", gen.Config{Bodies: -1}, false},
		{"share over one", gen.Config{MatchShare: 1.5}, false},
		{"redeliver over one", gen.Config{Redeliver: 2}, false},
		{"negative span", gen.Config{Span: -time.Hour}, false},
		{"negative share means none", gen.Config{MatchShare: -1}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			require.Equal(t, tc.ok, err == nil, "Validate() = %v", err)
		})
	}
}

// browserRE is the rule's test as ES|QL states it: to_lower(browser) RLIKE
// "(chrome|firefox|edge|safari).*", RLIKE being anchored at both ends.
var browserRE = regexp.MustCompile(`^(chrome|firefox|edge|safari).*$`)

type group struct {
	key     detect.Key
	ips     map[string]bool
	browser bool
	events  int
}

// reference runs a simple, batch version of the ES|QL query over the whole
// output: decode, filter (Rule.Select), deduplicate by record id, group by
// window, UPN and session, and keep groups with >= 2 addresses, >= 2 events
// and a browser.
func reference(t *testing.T, out []byte) (alerts, quiet []*group) {
	t.Helper()
	rule := detect.DefaultRule()
	seen := map[string]bool{}
	groups := map[detect.Key]*group{}
	for _, recs := range records(t, out) {
		for _, raw := range recs {
			rec, skip := detect.DecodeRecord(raw)
			if skip != detect.SkipNone {
				require.Equal(t, detect.SkipNotSignIn, skip, "record %s", raw)
				continue
			}
			if seen[rec.ID] {
				continue
			}
			seen[rec.ID] = true
			key, skip := rule.Select(rec)
			if skip != detect.SkipNone {
				continue
			}
			g := groups[key]
			if g == nil {
				g = &group{key: key, ips: map[string]bool{}}
				groups[key] = g
			}
			g.events++
			g.ips[rec.SourceAddress] = true
			g.browser = g.browser || browserRE.MatchString(strings.ToLower(rec.Browser))
		}
	}
	for _, g := range groups {
		if len(g.ips) >= 2 && g.events >= 2 && g.browser {
			alerts = append(alerts, g)
		} else {
			quiet = append(quiet, g)
		}
	}
	return alerts, quiet
}

func TestEndToEndExpectedAlerts(t *testing.T) {
	for _, tc := range configs {
		t.Run(tc.name, func(t *testing.T) {
			out, st := generate(t, tc.cfg)
			alerts, quiet := reference(t, out)

			type id struct {
				w         int64
				upn, sess string
			}
			var got, want []id
			for _, g := range alerts {
				got = append(got, id{g.key.Window.UnixMilli(), g.key.UPN, g.key.SessionID})
			}
			for _, e := range st.ExpectedAlerts {
				want = append(want, id{e.WindowStart.UnixMilli(), e.UPN, e.SessionID})
				require.Zero(t, e.WindowStart.UnixMilli()%gen.Window.Milliseconds(), "window start on a 30-minute edge")
			}
			cmp := func(a, b id) int {
				if a.w != b.w {
					return int(a.w - b.w)
				}
				return strings.Compare(a.upn+"\x00"+a.sess, b.upn+"\x00"+b.sess)
			}
			slices.SortFunc(got, cmp)
			slices.SortFunc(want, cmp)
			require.Equal(t, want, got, "alert groups")
			require.Len(t, st.ExpectedAlerts, st.Attacks, "one alert group per attack")
			require.Equal(t, st.Attacks, st.Scenarios["attack"])

			// The benign look-alikes are there, and quiet: groups of the
			// MAB -> DRS pair with two addresses but no browser, and with a
			// browser but one address.
			var twoIPs, browserOneIP int
			for _, g := range quiet {
				switch {
				case len(g.ips) >= 2 && !g.browser:
					twoIPs++
				case g.browser && len(g.ips) == 1:
					browserOneIP++
				}
			}
			require.Positive(t, twoIPs, "quiet groups with two addresses and no browser")
			require.Positive(t, browserOneIP, "quiet groups with a browser and one address")
			for _, k := range []string{"benign-one-ip", "benign-no-browser", "benign-single-browser", "benign-failed-leg",
				"benign-guest", "benign-no-session", "benign-split-session", "benign-split-window"} {
				require.Positive(t, st.Scenarios[k], "scenario %s", k)
			}
		})
	}
}

func TestSomeAttacksStraddleAndAreRedelivered(t *testing.T) {
	cfg := gen.Config{Seed: 21, Bodies: 300, Attacks: 16, Redeliver: -1}
	out, st := generate(t, cfg)
	straddles := 0
	for _, e := range st.ExpectedAlerts {
		if e.Straddles {
			straddles++
		}
	}
	require.Positive(t, straddles, "attacks crossing a window edge")
	// With random redelivery off, the only copies are the forced ones of
	// attack legs.
	require.Positive(t, st.Redelivered)
	ids := map[string]int{}
	for _, recs := range records(t, out) {
		for _, raw := range recs {
			rec, skip := detect.DecodeRecord(raw)
			if skip == detect.SkipNone && rec.AppID == detect.DefaultAppID && rec.ResourceID == detect.DefaultResourceID {
				ids[rec.ID]++
			}
		}
	}
	dup := 0
	for _, n := range ids {
		if n > 1 {
			dup++
		}
	}
	require.Positive(t, dup, "MAB->DRS records delivered twice")
}

func TestEstimateBodies(t *testing.T) {
	cfg := gen.Config{Seed: 2}
	n := gen.EstimateBodies(cfg, 20e6)
	cfg.Bodies = n
	_, st := generate(t, cfg)
	require.InDelta(t, 20e6, float64(st.Bytes), 20e6*0.1, "bytes for a 20 MB estimate")
	require.False(t, math.IsNaN(float64(n)))
}

func BenchmarkWriteNDJSON(b *testing.B) {
	var n int64
	for b.Loop() {
		st, err := gen.New(gen.Config{Seed: 1, Bodies: 200}).WriteNDJSON(discard{})
		if err != nil {
			b.Fatal(err)
		}
		n = st.Bytes
	}
	b.SetBytes(n)
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// TestPRTShare: with PRTShare set, that share of the user sign-ins carry a
// primary refresh token from the user's own device; unset, the bytes are
// those of the default mix.
func TestPRTShare(t *testing.T) {
	count := func(cfg gen.Config) (prt, users int, out []byte) {
		g := gen.New(cfg)
		for {
			b, ok := g.Next()
			if !ok {
				return
			}
			out = append(out, b...)
			for _, rec := range bytes.Split(b, []byte(`},{"time"`)) {
				if !bytes.Contains(rec, []byte(`"incomingTokenType":`)) || bytes.Contains(rec, []byte(`PrincipalSignInLogs"`)) ||
					bytes.Contains(rec, []byte(`"ManagedIdentitySignInLogs"`)) {
					continue
				}
				users++
				if bytes.Contains(rec, []byte(`"incomingTokenType":"primaryRefreshToken"`)) &&
					!bytes.Contains(rec, []byte(`"deviceDetail":{"deviceId":""`)) {
					prt++
				}
			}
		}
	}
	prt, users, _ := count(gen.Config{Seed: 5, Bodies: 200, PRTShare: 0.3})
	share := float64(prt) / float64(users)
	require.InDelta(t, 0.3, share, 0.03, "share %.3f of %d user sign-ins with a PRT from a device", share, users)
	_, _, a := count(gen.Config{Seed: 5, Bodies: 50})
	_, _, b := count(gen.Config{Seed: 5, Bodies: 50, PRTShare: 0})
	require.Equal(t, a, b)
	require.Error(t, gen.Config{PRTShare: 1.5}.Validate())
}
