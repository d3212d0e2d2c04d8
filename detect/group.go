package detect

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Bounds on what one group keeps, so its state always fits in one Table
// Storage entity (see store.MaxStateBytes) whatever arrives. Counts stay
// exact up to MaxEvents distinct records and MaxAddresses distinct
// addresses; value lists keep the MaxValues smallest values (so they do not
// depend on arrival order), each cut to MaxValueBytes.
const (
	MaxEvents     = 24576
	MaxAddresses  = 12288
	MaxValues     = 16
	MaxValueBytes = 256
	MaxKeyBytes   = 1024 // UPN and session id as shown in alerts
)

// Column indexes the value lists of a group (the ES|QL VALUES() outputs).
type Column uint8

// The value-list columns, in alert order.
const (
	ColUserDisplayNames Column = iota
	ColUserPrincipalNames
	ColSessionIDs
	ColUniqueTokenIdentifiers
	ColSourceCities
	ColSourceCountries
	ColSourceRegions
	ColSourceAddresses
	ColSourceAsOrganizations
	ColAuthenticationProtocols
	ColAuthenticationRequirements
	ColIsInteractive
	ColIncomingTokenTypes
	ColTokenSessionStatuses
	ColAppDisplayNames
	ColAppIDs
	ColResourceIDs
	ColResourceDisplayNames
	ColAppOwnerTenantIDs
	ColResourceOwnerTenantIDs
	ColConditionalAccessStatuses
	ColRiskStates
	ColRiskLevelsAggregated
	ColBrowsers
	ColOperatingSystems
	ColUserAgents
	numColumns
)

// Group is the window state of one (window, UPN, session) group. It is
// updated by Merge and persisted between batches with MarshalBinary.
type Group struct {
	Key Key
	// Events holds the sorted 64-bit hashes of the record ids merged so far;
	// its length is the exact event count (up to MaxEvents).
	Events []uint64
	// Addresses holds the sorted hashes of the distinct source addresses.
	Addresses  []uint64
	BrowserMax int
	FirstSeen  time.Time
	LastSeen   time.Time
	Values     [numColumns][]string
	// Revision is the last alert revision emitted; Emitted is the
	// fingerprint of its figures.
	Revision int
	Emitted  string
	// Saturated is set once a bound was reached and records were left out.
	Saturated bool
}

// NewGroup returns an empty group for key.
func NewGroup(k Key) *Group { return &Group{Key: k} }

func hash64(s string) uint64 {
	sum := sha256.Sum256([]byte(s))
	return binary.BigEndian.Uint64(sum[:8])
}

// insertSorted adds h to a sorted set and reports whether it was new. It
// does not add past limit; full reports that.
func insertSorted(set *[]uint64, h uint64, limit int) (added, full bool) {
	i, found := slices.BinarySearch(*set, h)
	if found {
		return false, false
	}
	if len(*set) >= limit {
		return false, true
	}
	*set = slices.Insert(*set, i, h)
	return true, false
}

// clean makes a value safe to keep and show: invalid UTF-8 and control
// characters become U+FFFD, and it is cut to max bytes on a rune boundary.
func clean(s string, max int) string {
	ok := len(s) <= max && utf8.ValidString(s)
	if ok {
		for i := 0; i < len(s); i++ {
			// 0xC2 0x80-0x9F is a C1 control (U+0080-U+009F) in valid UTF-8.
			if c := s[i]; c < 0x20 || c == 0x7f || c == 0xc2 && i+1 < len(s) && s[i+1] < 0xa0 {
				ok = false
				break
			}
		}
	}
	if ok {
		return s
	}
	var b strings.Builder
	for i, r := range s {
		if r == utf8.RuneError || r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			r = utf8.RuneError
		}
		if b.Len()+utf8.RuneLen(r) > max {
			break
		}
		_ = i
		b.WriteRune(r)
	}
	return b.String()
}

// addValue adds v to a column's sorted list, keeping the MaxValues smallest.
func (g *Group) addValue(c Column, v string) bool {
	if v == "" {
		return false
	}
	v = clean(v, MaxValueBytes)
	list := g.Values[c]
	i, found := slices.BinarySearch(list, v)
	if found {
		return false
	}
	if len(list) >= MaxValues {
		if i >= MaxValues {
			return false
		}
		list = list[:MaxValues-1]
	}
	g.Values[c] = slices.Insert(list, i, v)
	return true
}

// Merge adds a record selected for this group. It returns false, changing
// nothing, when the record was merged before (same id): redelivery is
// harmless. countryName maps an ISO country code to its English name.
func (g *Group) Merge(r Record, countryName func(string) string) bool {
	added, full := insertSorted(&g.Events, hash64(r.ID), MaxEvents)
	if full {
		g.Saturated = true
	}
	if !added {
		return false
	}
	if _, full := insertSorted(&g.Addresses, hash64(r.SourceAddress), MaxAddresses); full {
		g.Saturated = true
	}
	if IsBrowser(r.Browser) {
		g.BrowserMax = 1
	}
	if g.FirstSeen.IsZero() || r.Timestamp.Before(g.FirstSeen) {
		g.FirstSeen = r.Timestamp
	}
	if r.Timestamp.After(g.LastSeen) {
		g.LastSeen = r.Timestamp
	}
	country := r.CountryCode
	if countryName != nil && country != "" {
		country = countryName(country)
	}
	for c, v := range [numColumns]string{
		ColUserDisplayNames:           r.UserDisplayName,
		ColUserPrincipalNames:         r.UPN,
		ColSessionIDs:                 r.SessionID,
		ColUniqueTokenIdentifiers:     r.UniqueTokenIdentifier,
		ColSourceCities:               r.City,
		ColSourceCountries:            country,
		ColSourceRegions:              r.Region,
		ColSourceAddresses:            r.SourceAddress,
		ColAuthenticationProtocols:    r.AuthenticationProtocol,
		ColAuthenticationRequirements: r.AuthenticationRequirement,
		ColIsInteractive:              r.IsInteractive,
		ColIncomingTokenTypes:         r.IncomingTokenType,
		ColTokenSessionStatuses:       r.TokenSessionStatus,
		ColAppDisplayNames:            r.AppDisplayName,
		ColAppIDs:                     r.AppID,
		ColResourceIDs:                r.ResourceID,
		ColResourceDisplayNames:       r.ResourceDisplayName,
		ColAppOwnerTenantIDs:          r.AppOwnerTenantID,
		ColResourceOwnerTenantIDs:     r.ResourceOwnerTenantID,
		ColConditionalAccessStatuses:  r.ConditionalAccessStatus,
		ColRiskStates:                 r.RiskState,
		ColRiskLevelsAggregated:       r.RiskLevelAggregated,
		ColBrowsers:                   r.Browser,
		ColOperatingSystems:           r.OperatingSystem,
		ColUserAgents:                 r.UserAgent,
	} {
		g.addValue(Column(c), v)
	}
	return true
}

// EventCount is the number of distinct records merged.
func (g *Group) EventCount() int { return len(g.Events) }

// AddressCount is the number of distinct source addresses.
func (g *Group) AddressCount() int { return len(g.Addresses) }

// Alerting reports whether the group meets the rule's thresholds (the ES|QL
// WHERE after STATS).
func (r Rule) Alerting(g *Group) bool {
	return g.Key.SessionID != "" &&
		g.AddressCount() >= r.MinAddresses &&
		g.BrowserMax >= 1 &&
		g.EventCount() >= r.MinEvents
}

// Evaluate decides whether the group's current figures need a new alert
// revision. When they do, it advances the group's revision and returns the
// alert, stamped with now as TimeGenerated. A group whose figures did not
// change since the last revision returns ok == false, so a redelivered batch
// emits nothing new.
func (r Rule) Evaluate(g *Group, now time.Time) (Alert, bool) {
	if !r.Alerting(g) {
		return Alert{}, false
	}
	a := r.alert(g)
	fp := a.fingerprint()
	if fp == g.Emitted {
		return Alert{}, false
	}
	g.Revision++
	g.Emitted = fp
	a.Revision = g.Revision
	a.TimeGenerated = Time{now.UTC()}
	return a, true
}

// groupState is the persisted form of a Group.
type groupState struct {
	V         int                 `json:"v"`
	Window    int64               `json:"w"`
	UPN       string              `json:"u"`
	SessionID string              `json:"s"`
	Events    []byte              `json:"e,omitempty"`
	Addresses []byte              `json:"a,omitempty"`
	Browser   int                 `json:"b,omitempty"`
	First     int64               `json:"f,omitempty"`
	Last      int64               `json:"l,omitempty"`
	Values    map[Column][]string `json:"x,omitempty"`
	Revision  int                 `json:"r,omitempty"`
	Emitted   string              `json:"p,omitempty"`
	Saturated bool                `json:"o,omitempty"`
}

func packHashes(hs []uint64) []byte {
	b := make([]byte, 8*len(hs))
	for i, h := range hs {
		binary.BigEndian.PutUint64(b[8*i:], h)
	}
	return b
}

func unpackHashes(b []byte) ([]uint64, error) {
	if len(b)%8 != 0 {
		return nil, errors.New("hash set length not a multiple of 8")
	}
	hs := make([]uint64, len(b)/8)
	for i := range hs {
		hs[i] = binary.BigEndian.Uint64(b[8*i:])
	}
	if !slices.IsSorted(hs) {
		return nil, errors.New("hash set not sorted")
	}
	return hs, nil
}

// MarshalBinary encodes the group's state. The full UPN and session id are
// kept (the key must survive a round trip); stores keep their own display
// copies.
func (g *Group) MarshalBinary() ([]byte, error) {
	st := groupState{
		V: 1, Window: g.Key.Window.UnixMilli(), UPN: g.Key.UPN, SessionID: g.Key.SessionID,
		Events: packHashes(g.Events), Addresses: packHashes(g.Addresses),
		Browser: g.BrowserMax, Revision: g.Revision, Emitted: g.Emitted, Saturated: g.Saturated,
	}
	if !g.FirstSeen.IsZero() {
		st.First, st.Last = g.FirstSeen.UnixMilli(), g.LastSeen.UnixMilli()
	}
	for c, vs := range g.Values {
		if len(vs) > 0 {
			if st.Values == nil {
				st.Values = map[Column][]string{}
			}
			st.Values[Column(c)] = vs
		}
	}
	// No HTML escaping: "<", ">" and "&" would take 6 bytes each and push a
	// worst-case group past store.MaxStateBytes.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(st); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// UnmarshalBinary decodes state written by MarshalBinary.
func (g *Group) UnmarshalBinary(b []byte) error {
	var st groupState
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("decode group state: %w", err)
	}
	if st.V != 1 {
		return fmt.Errorf("decode group state: unknown version %d", st.V)
	}
	events, err := unpackHashes(st.Events)
	if err != nil {
		return fmt.Errorf("decode group state: %w", err)
	}
	addrs, err := unpackHashes(st.Addresses)
	if err != nil {
		return fmt.Errorf("decode group state: %w", err)
	}
	*g = Group{
		Key:        Key{Window: time.UnixMilli(st.Window).UTC(), UPN: st.UPN, SessionID: st.SessionID},
		Events:     events,
		Addresses:  addrs,
		BrowserMax: st.Browser,
		Revision:   st.Revision,
		Emitted:    st.Emitted,
		Saturated:  st.Saturated,
	}
	if st.First != 0 || st.Last != 0 {
		g.FirstSeen, g.LastSeen = time.UnixMilli(st.First).UTC(), time.UnixMilli(st.Last).UTC()
	}
	for c, vs := range st.Values {
		if c < numColumns {
			g.Values[c] = vs
		}
	}
	return nil
}
