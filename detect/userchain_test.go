package detect

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestUserChainAnyOrder: the chain's encoding after a set of registrations,
// PRT sign-ins and alerts does not depend on their order, except that a
// sign-in arriving before its device's registration is not kept.
func TestUserChainAnyOrder(t *testing.T) {
	reg := burstRegistration(t)
	var benign Registration
	benign.Merge(decodeCase(t, "benign windows 11 join"))
	prts := []DeviceSignIn{
		decodedPRT(t, "si-1", roadtxDevice, "2026-03-02T10:20:00Z"),
		decodedPRT(t, "si-2", roadtxDevice, "2026-03-02T10:25:00Z"),
		decodedPRT(t, "si-3", managedDevice, "2026-03-02T10:26:00Z"),
	}
	alerts := []AlertRef{{ID: "a1", Window: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)}}
	rng := rand.New(rand.NewPCG(9, 10))
	var want []byte
	for range 40 {
		c := &UserChain{UPN: "alex@contoso.example"}
		ops := []func(){
			func() { c.AddRegistration(reg) }, func() { c.AddRegistration(benign) }, func() { c.AddAlert(alerts[0]) },
		}
		rng.Shuffle(len(ops), func(i, j int) { ops[i], ops[j] = ops[j], ops[i] })
		for _, op := range ops {
			op()
		}
		for _, k := range rng.Perm(len(prts)) {
			c.AddSignIn(prts[k], DefaultChainHorizon)
		}
		c.AddRegistration(reg) // redelivery
		b, err := c.MarshalBinary()
		require.NoError(t, err)
		if want == nil {
			want = b
		}
		require.Equal(t, string(want), string(b))
	}
	var c UserChain
	require.NoError(t, c.UnmarshalBinary(want))
	require.Len(t, c.Registrations, 2)
	require.Len(t, c.SignIns, 2, "the managed device's sign-in is not one of the chain's devices")
	v := c.View(alerts[0].Window, DefaultChainHorizon)
	require.Equal(t, StagePRTUsed, v.Stage)
	require.Equal(t, []string{roadtxDevice}, c.Watched(DefaultChainHorizon))
	again, err := c.MarshalBinary()
	require.NoError(t, err)
	require.Equal(t, string(want), string(again), "round trip")

	// A sign-in before its registration arrived is not kept.
	early := &UserChain{UPN: "alex@contoso.example"}
	require.False(t, early.AddSignIn(prts[0], DefaultChainHorizon))
}

func TestUserChainWatched(t *testing.T) {
	var benign Registration
	benign.Merge(decodeCase(t, "benign windows 11 join"))
	c := &UserChain{UPN: "alex@contoso.example"}
	c.AddRegistration(benign)
	require.Empty(t, c.Watched(DefaultChainHorizon), "a benign registration of a user without an alert is not watched")
	c.AddRegistration(burstRegistration(t))
	require.Equal(t, []string{roadtxDevice}, c.Watched(DefaultChainHorizon), "a fingerprinted one is")
	c.AddAlert(AlertRef{ID: "a", Window: time.Date(2026, 3, 2, 8, 30, 0, 0, time.UTC)})
	require.Len(t, c.Watched(DefaultChainHorizon), 2, "with an alert, every device of the user it links to is")
}

// TestUserChainWorstCaseSize: a chain at every bound, with every value at
// its longest, fits one entity.
func TestUserChainWorstCaseSize(t *testing.T) {
	long := strings.Repeat("\u00e9", MaxChainValueBytes/2)
	c := &UserChain{UPN: strings.Repeat("u", MaxKeyBytes)}
	base := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	for i := range MaxUserRegistrations + 5 {
		var r Registration
		r.ObjectID = fmt.Sprintf("%08x-0000-4000-8000-000000000000", i)
		for f := range numRegFields {
			r.offer(f, 4, long)
		}
		r.fields[RegDeviceID] = regField{Rank: 4, Value: fmt.Sprintf("%08x-1111-4000-8000-000000000000", i)}
		r.fields[RegUPN] = regField{Rank: 4, Value: c.UPN}
		r.RegisteredAt = base
		for k := range maxRegistrationRecords {
			insertSorted(&r.Records, uint64(k), maxRegistrationRecords)
		}
		c.AddRegistration(r)
	}
	for i := range MaxUserSignIns + 5 {
		c.SignIns = append(c.SignIns, DeviceSignIn{ID: long + fmt.Sprint(i), Time: base, UPN: c.UPN, DeviceID: roadtxDevice,
			Address: long, AppDisplayName: long, ResourceDisplayName: long, UserAgent: long, TokenType: TokenTypePRT})
	}
	for i := range MaxUserAlerts + 5 {
		c.AddAlert(AlertRef{ID: fmt.Sprintf("%032x", i), Window: base})
	}
	b, err := c.MarshalBinary()
	require.NoError(t, err)
	require.Less(t, len(b), 720<<10, "a worst-case chain is %d bytes", len(b))
	require.Len(t, c.Registrations, MaxUserRegistrations)
	require.Len(t, c.SignIns, MaxUserSignIns)
	require.Len(t, c.Alerts, MaxUserAlerts)
}

func TestUserChainExpire(t *testing.T) {
	c := &UserChain{UPN: "alex@contoso.example"}
	c.AddRegistration(burstRegistration(t))
	c.AddAlert(AlertRef{ID: "a", Window: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)})
	require.False(t, c.Expire(time.Date(2026, 3, 3, 10, 0, 0, 0, time.UTC), DefaultChainHorizon))
	require.True(t, c.Expire(time.Date(2026, 3, 3, 10, 30, 0, 0, time.UTC), DefaultChainHorizon))
	require.Empty(t, c.Registrations)
	require.Empty(t, c.Alerts)
}

func TestSessionRoundTrip(t *testing.T) {
	s := &Session{Key: SessionKey{UPN: "alex@contoso.example", SessionID: "s1"}, AlertWindow: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC), Revision: 2, Emitted: "x"}
	s.Add(ev(t, "a", "2026-03-02T09:29:50Z", "192.0.2.1", "Chrome 1"))
	s.Add(ev(t, "b", "2026-03-02T09:30:20Z", "192.0.2.2", ""))
	b, err := s.MarshalBinary()
	require.NoError(t, err)
	var got Session
	require.NoError(t, got.UnmarshalBinary(b))
	require.Equal(t, *s, got)
	require.Error(t, got.UnmarshalBinary([]byte(`{"v":1,"e":"AAA="}`)))
}

func TestRegistrationRoundTrip(t *testing.T) {
	r := burstRegistration(t)
	b, err := r.MarshalBinary()
	require.NoError(t, err)
	var got Registration
	require.NoError(t, got.UnmarshalBinary(b))
	require.Equal(t, r, got)
}
