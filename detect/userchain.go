package detect

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// DefaultChainHorizon is how long registrations, PRT sign-ins and alerts
// are kept per user to be linked (DRSWATCH_CHAIN_HORIZON).
const DefaultChainHorizon = 24 * time.Hour

// Bounds on what one user's chain keeps, so that it fits one entity.
const (
	MaxUserRegistrations = 32 // the newest
	MaxUserSignIns       = 2 * MaxPrtSignIns
	MaxUserAlerts        = 64
)

// AlertRef names an alert of the user whose chain columns follow the chain:
// a seed group (GroupID, Window) or a sliding session (Sliding).
type AlertRef struct {
	ID      string    `json:"i"`
	Window  time.Time `json:"w"`
	Sliding bool      `json:"s,omitempty"`
}

// UserChain is what drswatch keeps per user to follow an attack past the
// phished sign-in: the devices the user registered, the PRT sign-ins of
// those devices, and the user's alerts, all within the horizon. Merges are
// commutative and idempotent, so arrival order and redelivery do not
// matter.
type UserChain struct {
	UPN           string // lower-cased
	Registrations []Registration
	SignIns       []DeviceSignIn
	Alerts        []AlertRef
}

// ChainKey returns the entity id of a user's chain.
func ChainKey(upn string) string {
	sum := sha256.Sum256([]byte("chain\x00" + strings.ToLower(upn)))
	return hex.EncodeToString(sum[:16])
}

// DeviceKey returns the entity id of a device's registration, by the key its
// records share: the object id, else the deviceId.
func DeviceKey(objectID, deviceID string) string {
	k := "object\x00" + objectID
	if objectID == "" {
		k = "device\x00" + deviceID
	}
	sum := sha256.Sum256([]byte(k))
	return hex.EncodeToString(sum[:16])
}

// AddRegistration merges a registration (the device's whole merged state)
// into the chain. It reports whether anything changed.
func (c *UserChain) AddRegistration(r Registration) bool {
	before := c.fingerprint()
	i := slices.IndexFunc(c.Registrations, func(o Registration) bool {
		return o.ObjectID != "" && o.ObjectID == r.ObjectID ||
			o.ObjectID == "" && r.ObjectID == "" && o.Field(RegDeviceID) == r.Field(RegDeviceID)
	})
	if i >= 0 {
		c.Registrations[i].MergeRegistration(&r)
	} else {
		r.Records = slices.Clone(r.Records)
		c.Registrations = append(c.Registrations, r)
	}
	c.normalize()
	return c.fingerprint() != before
}

// RegistrationOf returns the registration of a deviceId, if kept.
func (c *UserChain) RegistrationOf(deviceID string) (Registration, bool) {
	for _, r := range c.Registrations {
		if r.Established() && r.Field(RegDeviceID) == deviceID {
			return r, true
		}
	}
	return Registration{}, false
}

// AddSignIn keeps a PRT sign-in of one of the chain's devices, by the
// chain's user, from ChainSkew before the device's registration on. It
// reports whether it was kept (new).
func (c *UserChain) AddSignIn(s DeviceSignIn, horizon time.Duration) bool {
	if !s.IsPRTUse() || !SameUser(s.UPN, c.UPN) {
		return false
	}
	reg, ok := c.RegistrationOf(s.DeviceID)
	if !ok || s.Time.Before(reg.RegisteredAt.Add(-ChainSkew)) || s.Time.After(reg.RegisteredAt.Add(horizon)) {
		return false
	}
	if slices.ContainsFunc(c.SignIns, func(o DeviceSignIn) bool { return o.ID == s.ID }) {
		return false
	}
	c.SignIns = append(c.SignIns, s)
	c.normalize()
	return slices.ContainsFunc(c.SignIns, func(o DeviceSignIn) bool { return o.ID == s.ID })
}

// AddAlert records one of the user's alerts. It reports whether it is new.
func (c *UserChain) AddAlert(ref AlertRef) bool {
	if slices.Contains(c.Alerts, ref) {
		return false
	}
	c.Alerts = append(c.Alerts, ref)
	c.normalize()
	return slices.Contains(c.Alerts, ref)
}

// Expire drops what is older than the horizon before now: registrations
// and alerts by their time, sign-ins by theirs. It reports whether anything
// was dropped.
func (c *UserChain) Expire(now time.Time, horizon time.Duration) bool {
	cut := now.Add(-horizon - ChainSkew)
	n := len(c.Registrations) + len(c.SignIns) + len(c.Alerts)
	c.Registrations = slices.DeleteFunc(c.Registrations, func(r Registration) bool {
		return r.Established() && r.RegisteredAt.Before(cut)
	})
	c.SignIns = slices.DeleteFunc(c.SignIns, func(s DeviceSignIn) bool { return s.Time.Before(cut) })
	c.Alerts = slices.DeleteFunc(c.Alerts, func(a AlertRef) bool { return a.Window.Before(cut) })
	return len(c.Registrations)+len(c.SignIns)+len(c.Alerts) != n
}

// View returns the chain columns of an alert of the user whose window
// starts at windowStart.
func (c *UserChain) View(windowStart time.Time, horizon time.Duration) ChainView {
	return LinkChain(c.UPN, windowStart, horizon, slices.Clone(c.Registrations), c.SignIns)
}

// Watched returns the deviceIds whose sign-ins the chain wants: those of
// its established registrations that link to one of the user's alerts (see
// LinkChain) or carry a fingerprint (the alert may arrive later).
func (c *UserChain) Watched(horizon time.Duration) []string {
	var out []string
	for i := range c.Registrations {
		r := &c.Registrations[i]
		id := r.Field(RegDeviceID)
		if id == "" || !r.Established() {
			continue
		}
		links := slices.ContainsFunc(c.Alerts, func(a AlertRef) bool {
			return !r.RegisteredAt.Before(a.Window.Add(-ChainSkew)) && !r.RegisteredAt.After(a.Window.Add(horizon))
		})
		if links || len(r.Fingerprints()) > 0 {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// normalize sorts and bounds the chain so its encoding does not depend on
// the order things were added in.
func (c *UserChain) normalize() {
	c.Registrations = newestFirst(c.Registrations, MaxUserRegistrations, func(r Registration) (time.Time, string, string) {
		return r.RegisteredAt, r.ObjectID, r.Field(RegDeviceID)
	})
	c.SignIns = newestFirst(c.SignIns, MaxUserSignIns, func(s DeviceSignIn) (time.Time, string, string) {
		return s.Time, s.ID, ""
	})
	c.Alerts = newestFirst(c.Alerts, MaxUserAlerts, func(a AlertRef) (time.Time, string, string) {
		return a.Window, a.ID, ""
	})
}

// newestFirst sorts s by the time key gives, newest first, ties broken by
// its two ids in order, and keeps at most max.
func newestFirst[T any](s []T, max int, key func(T) (time.Time, string, string)) []T {
	slices.SortFunc(s, func(a, b T) int {
		ta, a1, a2 := key(a)
		tb, b1, b2 := key(b)
		return cmp.Or(tb.Compare(ta), strings.Compare(a1, b1), strings.Compare(a2, b2))
	})
	return s[:min(len(s), max)]
}

func (c *UserChain) fingerprint() string {
	b, _ := c.MarshalBinary()
	sum := sha256.Sum256(b)
	return string(sum[:])
}

// Persisted forms.
type regState struct {
	O string     `json:"o,omitempty"`
	F []regField `json:"f"`
	T int64      `json:"t,omitempty"`
	R []byte     `json:"r,omitempty"`
}

type signInState struct {
	I string `json:"i"`
	T int64  `json:"t"`
	U string `json:"u,omitempty"`
	D string `json:"d"`
	A string `json:"a,omitempty"`
	P string `json:"p,omitempty"`
	R string `json:"r,omitempty"`
	G string `json:"g,omitempty"`
	K string `json:"k,omitempty"`
}

type chainState struct {
	V int           `json:"v"`
	U string        `json:"u"`
	R []regState    `json:"r,omitempty"`
	S []signInState `json:"s,omitempty"`
	A []AlertRef    `json:"a,omitempty"`
}

func encodeState(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

func (r *Registration) state() regState {
	st := regState{O: r.ObjectID, F: r.fields[:], R: packHashes(r.Records)}
	if !r.RegisteredAt.IsZero() {
		st.T = r.RegisteredAt.UnixMilli()
	}
	return st
}

func (r *Registration) fromState(st regState) error {
	if len(st.F) > int(numRegFields) {
		return fmt.Errorf("registration has %d fields", len(st.F))
	}
	recs, err := unpackHashes(st.R)
	if err != nil {
		return err
	}
	*r = Registration{ObjectID: st.O, Records: recs}
	copy(r.fields[:], st.F)
	if st.T != 0 {
		r.RegisteredAt = time.UnixMilli(st.T).UTC()
	}
	return nil
}

// MarshalBinary encodes a registration (a device entity's state).
func (r *Registration) MarshalBinary() ([]byte, error) { return encodeState(r.state()) }

// UnmarshalBinary decodes what MarshalBinary wrote.
func (r *Registration) UnmarshalBinary(b []byte) error {
	var st regState
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("decode registration: %w", err)
	}
	if err := r.fromState(st); err != nil {
		return fmt.Errorf("decode registration: %w", err)
	}
	return nil
}

// MarshalBinary encodes the chain.
func (c *UserChain) MarshalBinary() ([]byte, error) {
	st := chainState{V: 1, U: c.UPN, A: c.Alerts}
	for i := range c.Registrations {
		st.R = append(st.R, c.Registrations[i].state())
	}
	for _, s := range c.SignIns {
		st.S = append(st.S, signInState{I: s.ID, T: s.Time.UnixMilli(), U: s.UPN, D: s.DeviceID, A: s.Address,
			P: s.AppDisplayName, R: s.ResourceDisplayName, G: s.UserAgent, K: s.TokenType})
	}
	return encodeState(st)
}

// UnmarshalBinary decodes what MarshalBinary wrote.
func (c *UserChain) UnmarshalBinary(b []byte) error {
	var st chainState
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("decode chain: %w", err)
	}
	if st.V != 1 {
		return fmt.Errorf("decode chain: unknown version %d", st.V)
	}
	*c = UserChain{UPN: st.U, Alerts: st.A}
	for _, rs := range st.R {
		var r Registration
		if err := r.fromState(rs); err != nil {
			return fmt.Errorf("decode chain: %w", err)
		}
		c.Registrations = append(c.Registrations, r)
	}
	for _, s := range st.S {
		// Only PRT uses are kept (AddSignIn), so the markers are restored.
		c.SignIns = append(c.SignIns, DeviceSignIn{ID: s.I, Time: time.UnixMilli(s.T).UTC(), UPN: s.U, DeviceID: s.D,
			Address: s.A, AppDisplayName: s.P, ResourceDisplayName: s.R, UserAgent: s.G, TokenType: s.K, Success: true})
	}
	c.normalize()
	return nil
}
