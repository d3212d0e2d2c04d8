package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/drswatch/drswatch/internal/fixture"
	"github.com/drswatch/drswatch/internal/testenv"
	"github.com/drswatch/drswatch/store/memstore"
)

// TestLogsHoldNoRecordData runs attack batches through every logging path
// (alerts, delivery failures, Sweep resends, a store failure, rejected
// envelopes) and checks the log never holds a UPN, display name, user
// agent, session id or record id: only counts, ids of alerts (hashes) and
// error classes. Names appear in alert rows and nowhere else.
func TestLogsHoldNoRecordData(t *testing.T) {
	flaky := &failingStore{Store: memstore.New(), failAt: 4}
	b := newBed(t, flaky)
	b.sink.setDown(true)
	for _, bs := range scenario(9) {
		if b.batch(bs) != http.StatusOK {
			b.mustBatch(bs)
		}
	}
	b.mustBatch([][]byte{fixture.Body(fixture.Phish("mallory@contoso.example", "token-eyJhbGciOiJIUzI1NiJ9.e30.x", time.Date(2026, 11, 3, 9, 41, 0, 0, time.UTC))...)})
	b.advance(2 * time.Minute)
	b.sweep()
	b.sink.setDown(false)
	b.advance(time.Hour)
	b.sweep()
	testenv.Invoke(t, b.h, "SignInLogs", []byte(`{"Data":{"messages":"[]"}}`))
	testenv.Invoke(t, b.h, "SignInLogs", []byte(`{"Data":{"events":"[{\"userPrincipalName\":\"x@contoso.example\"`))
	require.NotEmpty(t, b.sink.final(t))

	logs := b.logs.String()
	require.NotEmpty(t, b.logs.Lines(t, "alert"))
	require.NotEmpty(t, b.logs.Lines(t, "alert delivery deferred to Sweep"))
	require.NotEmpty(t, b.logs.Lines(t, "batch failed; the host will retry it"))
	for _, secret := range []string{
		"@contoso.example", "Dora Nagy", // UPNs, display names
		"Mozilla", "python-requests", "Edg/", // user agents
		"session-", "s-chen", "eyJhbGciOiJIUzI1NiJ9", // session ids, a token
		"victim-", "attacker-", "chen-1", // record ids
		"203.0.113.", "198.51.100.", // addresses
		`"records":[`, `\"records\"`, "operationName", // whole records
	} {
		require.False(t, strings.Contains(logs, secret), "the log holds %q:\n%s", secret, logs)
	}
}
