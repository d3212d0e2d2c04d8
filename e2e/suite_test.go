package e2e

import (
	"context"
	"fmt"
	"math/rand"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/drswatch/drswatch/detect"
	"github.com/drswatch/drswatch/handler"
	"github.com/drswatch/drswatch/internal/fixture"
	"github.com/drswatch/drswatch/internal/testenv"
	"github.com/drswatch/drswatch/store"
)

func TestSuite(t *testing.T) {
	for _, sk := range stores {
		t.Run(sk.name, func(t *testing.T) {
			t.Run("recorded invocations, both dataType forms", func(t *testing.T) {
				for _, name := range []string{"invocation-datatype-string.json", "invocation-datatype-object.json"} {
					b := newBed(t, sk.open(t))
					code, resp := testenv.Invoke(t, b.h, handler.FunctionSignIns, recordedInvocation(t, name))
					require.Equal(t, http.StatusOK, code, "logs %v", resp.Logs)
					require.Len(t, b.sink.final(t), 1, name)
				}
			})
			t.Run("same batch three times gives one revision", func(t *testing.T) {
				b := newBed(t, sk.open(t))
				bodies := [][]byte{fixture.Body(fixture.Phish("ana@contoso.example", "s1", time.Date(2026, 11, 3, 9, 40, 0, 0, time.UTC))...)}
				for i := 0; i < 3; i++ {
					b.mustBatch(bodies)
				}
				require.Equal(t, map[string]int{keyOf("ana@contoso.example", "s1", 9, 30).ID(): 1}, b.sink.revisions())
			})
			t.Run("batches out of order give the same alerts", func(t *testing.T) {
				batches := scenario(1)
				inOrder := newBed(t, sk.open(t))
				for _, bs := range batches {
					inOrder.mustBatch(bs)
				}
				want := inOrder.sink.final(t)
				require.Len(t, byRule(t, want, detect.RuleID), 5, "five phishing sessions alert; the one straddling a window edge does not (as in ES|QL); look-alikes do not")
				require.Len(t, byRule(t, want, detect.SlidingRuleID), 1, "the one straddling a window edge alerts once, by the sliding rule")
				r := rand.New(rand.NewSource(2))
				for round := 0; round < 3; round++ {
					shuffled := newBed(t, sk.open(t))
					perm := r.Perm(len(batches))
					for _, i := range perm {
						shuffled.mustBatch(batches[i])
						if r.Intn(3) == 0 { // and some redelivered
							shuffled.mustBatch(batches[i])
						}
					}
					require.Equal(t, want, shuffled.sink.final(t), "order %v", perm)
				}
			})
			t.Run("8 concurrent calls lose no update", func(t *testing.T) {
				b := newBed(t, sk.open(t))
				at := time.Date(2026, 11, 3, 9, 35, 0, 0, time.UTC)
				var wg sync.WaitGroup
				codes := make([]int, 8)
				for i := 0; i < 8; i++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						var bodies [][]byte
						for g := 0; g < 3; g++ { // three groups, each touched by every call
							bodies = append(bodies, fixture.Body(fixture.SignIn{
								UPN: fmt.Sprintf("g%d@contoso.example", g), Session: "shared", Time: at,
								IP: fmt.Sprintf("198.51.100.%d", i), ID: fmt.Sprintf("c%d-g%d", i, g),
							}))
						}
						codes[i] = b.batch(bodies)
					}()
				}
				wg.Wait()
				for i, c := range codes {
					require.Equal(t, http.StatusOK, c, "call %d", i)
				}
				for g := 0; g < 3; g++ {
					st, err := b.state(keyOf(fmt.Sprintf("g%d@contoso.example", g), "shared", 9, 30))
					require.NoError(t, err)
					require.Equal(t, 8, st.EventCount(), "group %d events", g)
					require.Equal(t, 8, st.AddressCount(), "group %d addresses", g)
				}
			})
			t.Run("forbidden characters and unicode in keys", func(t *testing.T) {
				b := newBed(t, sk.open(t))
				upn := "o'brien/x\\y#z?\u00e9\u4e2d\U0001F600\x01\t@contoso.example"
				session := "sess/#?\\\x7f'\u0085"
				at := time.Date(2026, 11, 3, 9, 10, 0, 0, time.UTC)
				legs := fixture.Phish(upn, session, at)
				b.mustBatch([][]byte{fixture.Body(legs...)})
				st, err := b.state(detect.Key{Window: at.Truncate(30 * time.Minute), UPN: upn, SessionID: session})
				require.NoError(t, err)
				require.Equal(t, upn, st.Key.UPN)
				require.Equal(t, session, st.Key.SessionID)
				require.Len(t, b.sink.final(t), 1)
			})
			t.Run("store failing mid-batch, then the host's retry", func(t *testing.T) {
				batches := scenario(3)
				clean := newBed(t, sk.open(t))
				for _, bs := range batches {
					clean.mustBatch(bs)
				}
				flaky := &failingStore{Store: sk.open(t), failAt: 3}
				b := newBed(t, flaky)
				failed := 0
				for _, bs := range batches {
					if code := b.batch(bs); code != http.StatusOK {
						require.Equal(t, http.StatusInternalServerError, code)
						failed++
						b.mustBatch(bs) // the function's retry policy sends the whole batch again
					}
				}
				require.Equal(t, 1, failed, "the store failed once")
				require.Equal(t, clean.sink.final(t), b.sink.final(t))
				for id := range clean.sink.final(t) {
					require.Equal(t, clean.sink.revisions()[id], b.sink.revisions()[id], "revisions of %s", id)
				}
			})
			t.Run("Sweep deletes expired state", func(t *testing.T) {
				b := newBed(t, sk.open(t))
				at := time.Date(2026, 11, 3, 9, 40, 0, 0, time.UTC)
				b.mustBatch([][]byte{fixture.Body(fixture.Phish("gus@contoso.example", "s-gus", at)...)})
				k := keyOf("gus@contoso.example", "s-gus", 9, 30)
				_, err := b.state(k)
				require.NoError(t, err)
				b.sweep()
				_, err = b.state(k)
				require.NoError(t, err, "not expired yet")
				b.advance(25 * time.Hour)
				b.sweep()
				_, err = b.state(k)
				require.ErrorIs(t, err, store.ErrNotFound)
				// A record for that window now arrives too late and is skipped.
				b.mustBatch([][]byte{fixture.Body(fixture.SignIn{UPN: "gus@contoso.example", Session: "s-gus", Time: at, ID: "late"})})
				_, err = b.state(k)
				require.ErrorIs(t, err, store.ErrNotFound)
			})
			t.Run("sink down: revisions stay pending, Sweep delivers them", func(t *testing.T) {
				b := newBed(t, sk.open(t))
				b.sink.setDown(true)
				for _, bs := range scenario(4) {
					b.mustBatch(bs) // delivery failures do not fail the batch
				}
				require.Empty(t, b.sink.final(t))
				b.advance(2 * time.Minute)
				b.sweep() // still down
				b.sink.setDown(false)
				b.advance(time.Hour)
				b.sweep()
				ref := newBed(t, sk.open(t))
				for _, bs := range scenario(4) {
					ref.mustBatch(bs)
				}
				require.Equal(t, ref.sink.final(t), b.sink.final(t))
				pending, err := b.store.ListPending(context.Background(), b.clock().Add(1000*time.Hour), 100)
				require.NoError(t, err)
				require.Empty(t, pending)
			})
			t.Run("a group past the size bound saves, counts saturate", func(t *testing.T) {
				if testing.Short() {
					t.Skip("large group")
				}
				b := newBed(t, sk.open(t))
				at := time.Date(2026, 11, 3, 9, 31, 0, 0, time.UTC)
				total := detect.MaxEvents + 500
				for start := 0; start < total; start += 2500 {
					var bodies [][]byte
					for i := start; i < min(start+2500, total); i += 50 {
						var legs []fixture.SignIn
						for j := i; j < min(i+50, total); j++ {
							legs = append(legs, fixture.SignIn{UPN: "big@contoso.example", Session: "s-big", Time: at,
								IP: fmt.Sprintf("10.%d.%d.%d", j>>16&255, j>>8&255, j&255), ID: fmt.Sprintf("big-%d", j),
								UserAgent: fmt.Sprintf("agent %d %0200d", j, j)})
						}
						bodies = append(bodies, fixture.Body(legs...))
					}
					b.mustBatch(bodies)
				}
				st, err := b.state(keyOf("big@contoso.example", "s-big", 9, 30))
				require.NoError(t, err)
				require.Equal(t, detect.MaxEvents, st.EventCount())
				require.Equal(t, detect.MaxAddresses, st.AddressCount())
				require.True(t, st.Saturated)
				final := b.sink.final(t)
				require.Len(t, final, 1)
			})
		})
	}
}
