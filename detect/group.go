package detect

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Bounds on what one group keeps, so its state always fits in one Table
// Storage entity (see store.MaxStateBytes) and its alert in one Log Analytics
// row (see MaxAlertBytes) whatever arrives. Counts stay exact up to MaxEvents
// distinct records and MaxAddresses distinct addresses. Value lists hold
// every distinct value, as ES|QL VALUES() does, until a list's JSON encoding
// would pass its column's byte budget (ListBudget); past that a list keeps
// its smallest values (so what it keeps does not depend on arrival order)
// and the alert names it in TruncatedColumns. One value is cut to
// MaxValueBytes.
const (
	MaxEvents     = 24576
	MaxAddresses  = 12288
	MaxValueBytes = 1024
	MaxKeyBytes   = 1024 // UPN and session id as shown in alerts

	// Column budgets, in bytes of the list's JSON array as the alert row
	// carries it. The Logs Ingestion API truncates a field value past 64 KB
	// (azure-monitor-limits-custom-logs.md), so even the widest list stays
	// at half of that; together they keep a row under store.MaxRowBytes.
	WideListBytes   = 32 << 10 // SourceAddresses, UniqueTokenIdentifiers
	MediumListBytes = 8 << 10  // the location and AS lists, UserAgents
	ListBytes       = 4 << 10  // every other list
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
	ColEntraCities
	ColEntraRegions
	ColEntraCountries
	numColumns
)

// columnNames are the alert columns (schema/alerts.json) of the lists; the
// state encoding names lists by them too.
var columnNames = [numColumns]string{
	ColUserDisplayNames:           "UserDisplayNames",
	ColUserPrincipalNames:         "UserPrincipalNames",
	ColSessionIDs:                 "SessionIds",
	ColUniqueTokenIdentifiers:     "UniqueTokenIdentifiers",
	ColSourceCities:               "SourceCities",
	ColSourceCountries:            "SourceCountries",
	ColSourceRegions:              "SourceRegions",
	ColSourceAddresses:            "SourceAddresses",
	ColSourceAsOrganizations:      "SourceAsOrganizations",
	ColAuthenticationProtocols:    "AuthenticationProtocols",
	ColAuthenticationRequirements: "AuthenticationRequirements",
	ColIsInteractive:              "IsInteractive",
	ColIncomingTokenTypes:         "IncomingTokenTypes",
	ColTokenSessionStatuses:       "TokenSessionStatuses",
	ColAppDisplayNames:            "AppDisplayNames",
	ColAppIDs:                     "AppIds",
	ColResourceIDs:                "ResourceIds",
	ColResourceDisplayNames:       "ResourceDisplayNames",
	ColAppOwnerTenantIDs:          "AppOwnerTenantIds",
	ColResourceOwnerTenantIDs:     "ResourceOwnerTenantIds",
	ColConditionalAccessStatuses:  "ConditionalAccessStatuses",
	ColRiskStates:                 "RiskStates",
	ColRiskLevelsAggregated:       "RiskLevelsAggregated",
	ColBrowsers:                   "Browsers",
	ColOperatingSystems:           "OperatingSystems",
	ColUserAgents:                 "UserAgents",
	ColEntraCities:                "EntraCities",
	ColEntraRegions:               "EntraRegions",
	ColEntraCountries:             "EntraCountries",
}

// String returns the column's name in the alert.
func (c Column) String() string {
	if c < numColumns {
		return columnNames[c]
	}
	return fmt.Sprintf("Column(%d)", uint8(c))
}

// ListBudget returns the most bytes column c's JSON array may take in an
// alert row.
func ListBudget(c Column) int {
	switch c {
	case ColSourceAddresses, ColUniqueTokenIdentifiers:
		return WideListBytes
	case ColSourceCities, ColSourceRegions, ColSourceCountries, ColSourceAsOrganizations,
		ColEntraCities, ColEntraRegions, ColEntraCountries, ColUserAgents:
		return MediumListBytes
	}
	return ListBytes
}

// ColumnSet is a set of columns.
type ColumnSet uint64

// Has reports whether c is in the set.
func (s ColumnSet) Has(c Column) bool { return s&(1<<c) != 0 }

func (s *ColumnSet) add(c Column) { *s |= 1 << c }

// Geo sources, as the alert's GeoSource column names them.
const (
	GeoSourceGeoIP = "geoip"
	GeoSourceEntra = "entra"
)

// geoBits records which sources filled a group's Source location columns.
const (
	geoEntra uint8 = 1 << iota
	geoIP
)

// Geo tells Merge where the SourceCities, SourceRegions, SourceCountries and
// SourceAsOrganizations columns come from. Lookups are injected so detect
// stays free of I/O; package geoip reads MaxMind DB files for them.
type Geo struct {
	// City, when set, returns what Elastic's geoip processor (city database)
	// stores in source.geo.city_name, region_name and country_name for a
	// source address, "" for what the database lacks. When nil, Entra's own
	// properties.location fills the Source location columns instead
	// (GeoSource "entra").
	City func(addr string) (city, region, country string)
	// ASOrganization, when set, returns what the geoip processor (ASN
	// database) stores in source.as.organization.name. When nil the column
	// stays empty: Entra's record carries no organisation name.
	ASOrganization func(addr string) string
	// CountryName maps Entra's ISO 3166 code to an English name; nil keeps
	// the code.
	CountryName func(code string) string
}

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
	// Values holds each column's distinct values, sorted.
	Values [numColumns][]string
	// Over[c], once set, is the smallest value column c left out for lack of
	// room; values at or above it are left out too, so a list is always the
	// longest run of the smallest values seen that fits its budget.
	Over [numColumns]string
	// Cut holds the columns that left a value out or shortened one.
	Cut ColumnSet
	// GeoSources records which sources filled the Source location columns.
	GeoSources uint8
	// Revision is the last alert revision emitted; Emitted is the
	// fingerprint of its figures.
	Revision int
	Emitted  string
	// Saturated is set once a bound was reached and records were left out.
	Saturated bool

	size [numColumns]int // JSON bytes of each list less one ("[" and the elements each with its "," or "]")
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
	s, _ = cleanCut(s, max)
	return s
}

// cleanCut is clean that also reports whether the value was shortened.
func cleanCut(s string, max int) (string, bool) {
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
		return s, false
	}
	var b strings.Builder
	for _, r := range s {
		if r == utf8.RuneError || r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			r = utf8.RuneError
		}
		if b.Len()+utf8.RuneLen(r) > max {
			return b.String(), true
		}
		b.WriteRune(r)
	}
	return b.String(), false
}

// jsonLen is the length of a cleaned value as a JSON string the way the
// alert row encodes it (no HTML escaping): quotes and backslashes take two
// bytes, U+2028 and U+2029 six; control characters, which clean removed,
// are counted at their longest.
func jsonLen(s string) int {
	n := len(s) + 2
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			n++
		case c < 0x20:
			n += 5
		case c == 0xe2 && i+2 < len(s) && s[i+1] == 0x80 && (s[i+2] == 0xa8 || s[i+2] == 0xa9):
			n += 3 // "\u2028" for 3 bytes
		}
	}
	return n
}

// listBytes is the length of column c's list as a JSON array.
func (g *Group) listBytes(c Column) int {
	if len(g.Values[c]) == 0 {
		return 2
	}
	return 1 + g.size[c]
}

// addValue adds v to a column's sorted list. When the list would pass its
// budget it drops its largest values and remembers the smallest dropped one
// in Over, so the outcome does not depend on the order values arrive in.
func (g *Group) addValue(c Column, v string) bool {
	if v == "" {
		return false
	}
	v, short := cleanCut(v, MaxValueBytes)
	if short {
		g.Cut.add(c)
	}
	if o := g.Over[c]; o != "" && v >= o {
		return false
	}
	list := g.Values[c]
	i, found := slices.BinarySearch(list, v)
	if found {
		return false
	}
	g.Values[c] = slices.Insert(list, i, v)
	g.size[c] += jsonLen(v) + 1
	g.fit(c)
	o := g.Over[c]
	return o == "" || v < o
}

// fit drops column c's largest values until its list is within budget.
func (g *Group) fit(c Column) {
	budget := ListBudget(c)
	list := g.Values[c]
	for len(list) > 0 && 1+g.size[c] > budget {
		last := list[len(list)-1]
		list = list[:len(list)-1]
		g.size[c] -= jsonLen(last) + 1
		g.Over[c] = last
		g.Cut.add(c)
	}
	g.Values[c] = list
}

// Merge adds a record selected for this group. It returns false, changing
// nothing, when the record was merged before (same id): redelivery is
// harmless. geo says where the location columns come from; nil means
// Entra's location with ISO country codes.
func (g *Group) Merge(r Record, geo *Geo) bool {
	added, full := insertSorted(&g.Events, hash64(r.ID), MaxEvents)
	if full {
		g.Saturated = true
	}
	if !added {
		return false
	}
	added, full = insertSorted(&g.Addresses, hash64(r.SourceAddress), MaxAddresses)
	if full {
		g.Saturated = true
	}
	addrKnown := !added && !full
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
	if geo != nil && geo.CountryName != nil && country != "" {
		country = geo.CountryName(country)
	}
	city, region, srcCountry, asOrg := r.City, r.Region, country, ""
	if geo != nil && geo.City != nil {
		g.GeoSources |= geoIP
		city, region, srcCountry = "", "", ""
		if !addrKnown { // an address's lookup was merged when it was first seen
			city, region, srcCountry = geo.City(r.SourceAddress)
		}
	} else {
		g.GeoSources |= geoEntra
	}
	if geo != nil && geo.ASOrganization != nil && !addrKnown {
		asOrg = geo.ASOrganization(r.SourceAddress)
	}
	for c, v := range [numColumns]string{
		ColUserDisplayNames:           r.UserDisplayName,
		ColUserPrincipalNames:         r.UPN,
		ColSessionIDs:                 r.SessionID,
		ColUniqueTokenIdentifiers:     r.UniqueTokenIdentifier,
		ColSourceCities:               city,
		ColSourceCountries:            srcCountry,
		ColSourceRegions:              region,
		ColSourceAddresses:            r.SourceAddress,
		ColSourceAsOrganizations:      asOrg,
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
		ColEntraCities:                r.City,
		ColEntraRegions:               r.Region,
		ColEntraCountries:             country,
	} {
		g.addValue(Column(c), v)
	}
	return true
}

// GeoSource says which source filled the Source location columns:
// GeoSourceGeoIP when every merged record was looked up in a GeoIP city
// database, else GeoSourceEntra (also when the sources were mixed, as after
// a configuration change within a window).
func (g *Group) GeoSource() string {
	if g.GeoSources == geoIP {
		return GeoSourceGeoIP
	}
	return GeoSourceEntra
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
	return r.EvaluateChained(g, now, nil)
}

// EvaluateChained is Evaluate with the chain columns of view (nil: the
// code-phish stage with no devices): a change of stage, device or PRT
// sign-in is a new revision.
func (r Rule) EvaluateChained(g *Group, now time.Time, view *ChainView) (Alert, bool) {
	if !r.Alerting(g) {
		return Alert{}, false
	}
	a := r.alert(g)
	if view != nil {
		a.ApplyChain(*view)
	}
	if !a.revise(&g.Revision, &g.Emitted, now) {
		return Alert{}, false
	}
	return a, true
}

// State encoding versions. Version 1 (before value lists were bounded by
// bytes) named lists by column number and kept at most 16 values of 256
// bytes; it still loads. Version 2 names lists by their alert column and
// carries Over, Cut and GeoSources.
const (
	stateV1 = 1
	stateV2 = 2

	v1MaxValues     = 16
	v1MaxValueBytes = 256
)

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
	Values    map[string][]string `json:"x,omitempty"` // v1: by column number; v2: by column name
	Over      map[string]string   `json:"c,omitempty"` // v2
	Cut       []string            `json:"t,omitempty"` // v2
	Geo       uint8               `json:"g,omitempty"` // v2
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

// MarshalBinary encodes the group's state (version 2). The full UPN and
// session id are kept (the key must survive a round trip); stores keep their
// own display copies.
func (g *Group) MarshalBinary() ([]byte, error) {
	st := groupState{
		V: stateV2, Window: g.Key.Window.UnixMilli(), UPN: g.Key.UPN, SessionID: g.Key.SessionID,
		Events: packHashes(g.Events), Addresses: packHashes(g.Addresses),
		Browser: g.BrowserMax, Geo: g.GeoSources, Revision: g.Revision, Emitted: g.Emitted, Saturated: g.Saturated,
	}
	if !g.FirstSeen.IsZero() {
		st.First, st.Last = g.FirstSeen.UnixMilli(), g.LastSeen.UnixMilli()
	}
	for c := range numColumns {
		name := columnNames[c]
		if vs := g.Values[c]; len(vs) > 0 {
			if st.Values == nil {
				st.Values = map[string][]string{}
			}
			st.Values[name] = vs
		}
		if o := g.Over[c]; o != "" {
			if st.Over == nil {
				st.Over = map[string]string{}
			}
			st.Over[name] = o
		}
		if g.Cut.Has(c) {
			st.Cut = append(st.Cut, name)
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

// columnByName maps alert column names to columns.
var columnByName = func() map[string]Column {
	m := make(map[string]Column, numColumns)
	for c := range numColumns {
		m[columnNames[c]] = c
	}
	return m
}()

// UnmarshalBinary decodes state written by MarshalBinary, in this version's
// encoding or the previous one.
func (g *Group) UnmarshalBinary(b []byte) error {
	var st groupState
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("decode group state: %w", err)
	}
	if st.V != stateV1 && st.V != stateV2 {
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
		GeoSources: st.Geo,
		Revision:   st.Revision,
		Emitted:    st.Emitted,
		Saturated:  st.Saturated,
	}
	if st.First != 0 || st.Last != 0 {
		g.FirstSeen, g.LastSeen = time.UnixMilli(st.First).UTC(), time.UnixMilli(st.Last).UTC()
	}
	if st.V == stateV1 {
		return g.loadV1(st)
	}
	column := func(name string) (Column, error) {
		c, ok := columnByName[name]
		if !ok {
			return 0, fmt.Errorf("decode group state: unknown column %q", name)
		}
		return c, nil
	}
	for name, vs := range st.Values {
		c, err := column(name)
		if err != nil {
			return err
		}
		g.Values[c] = vs
	}
	for name, o := range st.Over {
		c, err := column(name)
		if err != nil {
			return err
		}
		g.Over[c] = o
	}
	for _, name := range st.Cut {
		c, err := column(name)
		if err != nil {
			return err
		}
		g.Cut.add(c)
	}
	return g.settle()
}

// loadV1 fills the value lists from version-1 state. Its location lists
// were Entra's, so they fill the Entra columns too. A list at the old
// 16-value bound may have left values out and a value at the old byte bound
// may have been shortened: such columns count as cut, and nothing above the
// largest kept value is added later (what version 1 would have done).
func (g *Group) loadV1(st groupState) error {
	g.GeoSources = geoEntra
	for key, vs := range st.Values {
		n, err := strconv.Atoi(key)
		if err != nil || n < 0 || n >= int(ColEntraCities) {
			continue // version 1 skipped unknown columns too
		}
		c := Column(n)
		g.Values[c] = vs
		if len(vs) >= v1MaxValues {
			g.Over[c] = vs[len(vs)-1] + "\x00"
			g.Cut.add(c)
		}
		for _, v := range vs {
			if len(v) > v1MaxValueBytes-utf8.UTFMax {
				g.Cut.add(c)
			}
		}
	}
	for from, to := range map[Column]Column{ColSourceCities: ColEntraCities, ColSourceRegions: ColEntraRegions, ColSourceCountries: ColEntraCountries} {
		g.Values[to] = slices.Clone(g.Values[from])
		g.Over[to] = g.Over[from]
		if g.Cut.Has(from) {
			g.Cut.add(to)
		}
	}
	return g.settle()
}

// settle checks decoded lists (sorted, distinct, non-empty, below Over, of
// cleaned values),
// recomputes their sizes and fits them to today's budgets.
func (g *Group) settle() error {
	for c := range numColumns {
		vs := g.Values[c]
		g.size[c] = 0
		for i, v := range vs {
			if v == "" || i > 0 && vs[i-1] >= v || g.Over[c] != "" && v >= g.Over[c] {
				return fmt.Errorf("decode group state: column %s not a sorted set below its bound", columnNames[c])
			}
			if cv, _ := cleanCut(v, MaxValueBytes); cv != v {
				return fmt.Errorf("decode group state: column %s holds a value Merge would not keep", columnNames[c])
			}
			g.size[c] += jsonLen(v) + 1
		}
		if len(vs) == 0 {
			g.Values[c] = nil
		}
		g.fit(c)
	}
	return nil
}
