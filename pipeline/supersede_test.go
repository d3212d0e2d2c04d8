package pipeline_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/drswatch/drswatch/detect"
	"github.com/drswatch/drswatch/internal/fixture"
	"github.com/drswatch/drswatch/pipeline"
	"github.com/drswatch/drswatch/store/memstore"
)

// liveFinal returns the latest revision of each alert that is not
// superseded, without its revision number and time.
func liveFinal(t *testing.T, rows []string) map[string]detect.Alert {
	t.Helper()
	latest := map[string]detect.Alert{}
	for _, r := range rows {
		var a detect.Alert
		require.NoError(t, json.Unmarshal([]byte(r), &a))
		if cur, ok := latest[a.AlertID]; !ok || a.Revision > cur.Revision {
			latest[a.AlertID] = a
		}
	}
	out := map[string]detect.Alert{}
	for id, a := range latest {
		if a.SupersededBy == "" {
			a.TimeGenerated, a.Revision = detect.Time{}, 0
			out[id] = a
		}
	}
	return out
}

// TestSupersededAnyOrderAndSplit: the 09:29:50/09:30:20 pair and a late
// third record that completes the 09:30 bucket, in every order and every
// split into batches (each batch also delivered twice): the live alerts are
// the same, one seed alert; where the sliding alert was raised first, its
// latest revision is superseded by that seed alert.
func TestSupersededAnyOrderAndSplit(t *testing.T) {
	upn, sid := "erin@contoso.example", "5a7b2c1d-0000-4000-8000-000000000013"
	recs := []fixture.SignIn{
		{UPN: upn, Session: sid, Time: time.Date(2026, 11, 3, 9, 29, 50, 0, time.UTC), IP: "203.0.113.23", ID: "a"},
		{UPN: upn, Session: sid, Time: time.Date(2026, 11, 3, 9, 30, 20, 0, time.UTC), IP: "198.51.100.77", Browser: "-",
			Category: "NonInteractiveUserSignInLogs", UserAgent: "python-requests/2.32.3", ID: "b"},
		{UPN: upn, Session: sid, Time: time.Date(2026, 11, 3, 9, 31, 0, 0, time.UTC), IP: "203.0.113.23", ID: "c"},
	}
	orders := [][]int{{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}}
	splits := [][]int{{1, 1, 1}, {2, 1}, {1, 2}, {3}}
	var want map[string]detect.Alert
	sawSuperseded := false
	for _, order := range orders {
		for _, split := range splits {
			for _, twice := range []bool{false, true} {
				t.Run(fmt.Sprint(order, split, twice), func(t *testing.T) {
					s := &rowSink{}
					p := pipeline.New(memstore.New(), s, pipeline.Options{Now: fixedNow, Lateness: 24 * time.Hour})
					k := 0
					for _, n := range split {
						var evs []pipeline.Event
						for _, i := range order[k : k+n] {
							evs = append(evs, pipeline.Event{Body: fixture.Body(recs[i])})
						}
						k += n
						for range map[bool]int{false: 1, true: 2}[twice] {
							_, err := p.Process(context.Background(), pipeline.Batch{Events: evs})
							require.NoError(t, err)
						}
					}
					got := liveFinal(t, s.rows)
					require.Len(t, got, 1, "one live alert")
					for id, a := range got {
						require.Equal(t, detect.RuleID, a.RuleID, "the live alert is the seed rule's")
						require.Equal(t, "2026-11-03T09:30:00Z", a.WindowStart.Format(time.RFC3339))
						for _, r := range s.rows {
							var x detect.Alert
							require.NoError(t, json.Unmarshal([]byte(r), &x))
							if x.RuleID == detect.SlidingRuleID {
								sawSuperseded = true
								require.Equal(t, detect.SlidingRuleID, x.RuleID)
								if x.Revision > 1 {
									require.Equal(t, id, x.SupersededBy, "the sliding alert's later revision names the seed alert")
								}
							}
						}
					}
					if want == nil {
						want = got
					}
					require.Equal(t, want, got, "the live alerts do not depend on order or batches")
				})
			}
		}
	}
	require.True(t, sawSuperseded, "some order raises the sliding alert first")
}

// TestSupersedingSeedAlertCarriesTheChain: the sliding alert for the pair
// reaches prt-used (the attacker's device registered at 09:35, its PRT used
// at 09:50); the late record then raises the seed alert, which supersedes
// it and carries the same chain columns: the responder loses nothing.
func TestSupersedingSeedAlertCarriesTheChain(t *testing.T) {
	upn, sid := "dora.nagy@contoso.example", "5a7b2c1d-0000-4000-8000-000000000014"
	pair := []fixture.SignIn{
		{UPN: upn, Session: sid, Time: time.Date(2026, 11, 3, 9, 29, 50, 0, time.UTC), IP: "203.0.113.23", ID: "a"},
		{UPN: upn, Session: sid, Time: time.Date(2026, 11, 3, 9, 30, 20, 0, time.UTC), IP: "198.51.100.77", Browser: "-",
			Category: "NonInteractiveUserSignInLogs", UserAgent: "python-requests/2.32.3", ID: "b"},
	}
	late := fixture.SignIn{UPN: upn, Session: sid, Time: time.Date(2026, 11, 3, 9, 31, 0, 0, time.UTC), IP: "203.0.113.23", ID: "c"}
	reg := fixture.Registration{UPN: upn}
	prt := fixture.PRT{UPN: upn, DeviceID: reg.DeviceIDOrDefault(), At: time.Date(2026, 11, 3, 9, 50, 0, 0, time.UTC)}
	s := &rowSink{}
	p := pipeline.New(memstore.New(), s, pipeline.Options{Now: fixedNow, Lateness: 24 * time.Hour})
	for _, body := range [][]byte{fixture.Body(pair...), fixture.Records(reg.Records()...), fixture.Records(prt.Record()), fixture.Body(late)} {
		_, err := p.Process(context.Background(), pipeline.Batch{Events: []pipeline.Event{{Body: body}}})
		require.NoError(t, err)
	}
	var sliding, seed detect.Alert
	for _, r := range s.rows {
		var a detect.Alert
		require.NoError(t, json.Unmarshal([]byte(r), &a))
		switch {
		case a.RuleID == detect.SlidingRuleID && a.Revision > sliding.Revision:
			sliding = a
		case a.RuleID == detect.RuleID && a.Revision > seed.Revision:
			seed = a
		}
	}
	require.NotZero(t, seed.Revision, "the seed alert is raised")
	require.Equal(t, seed.AlertID, sliding.SupersededBy, "the sliding alert is superseded by it")
	require.Equal(t, "prt-used", sliding.Stage)
	require.Equal(t, sliding.Stage, seed.Stage, "Stage carries over")
	require.Equal(t, sliding.Severity, seed.Severity, "Severity carries over")
	require.Equal(t, sliding.RiskScore, seed.RiskScore, "RiskScore carries over")
	require.Equal(t, sliding.RegisteredDevices, seed.RegisteredDevices, "RegisteredDevices carry over")
	require.Equal(t, sliding.PrtSignIns, seed.PrtSignIns, "PrtSignIns carry over")
	require.Len(t, liveFinal(t, s.rows), 1, "one live alert")
}
