package detect

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"time"
)

// Alert is one revision of an alert: the rule's output columns, named for
// the Log Analytics table declared in schema/alerts.json. The JSON encoding
// (MarshalJSON) is the row sent to Log Analytics and printed by replay.
type Alert struct {
	TimeGenerated              Time     `json:"TimeGenerated"`
	AlertID                    string   `json:"AlertId"`
	Revision                   int      `json:"Revision"`
	RuleID                     string   `json:"RuleId"`
	RuleName                   string   `json:"RuleName"`
	Severity                   string   `json:"Severity"`
	RiskScore                  int      `json:"RiskScore"`
	WindowStart                Time     `json:"WindowStart"`
	WindowEnd                  Time     `json:"WindowEnd"`
	UserPrincipalName          string   `json:"UserPrincipalName"`
	SessionID                  string   `json:"SessionId"`
	FirstSeen                  Time     `json:"FirstSeen"`
	LastSeen                   Time     `json:"LastSeen"`
	UserDisplayNames           []string `json:"UserDisplayNames"`
	UserPrincipalNames         []string `json:"UserPrincipalNames"`
	SessionIDs                 []string `json:"SessionIds"`
	UniqueTokenIdentifiers     []string `json:"UniqueTokenIdentifiers"`
	SourceCities               []string `json:"SourceCities"`
	SourceCountries            []string `json:"SourceCountries"`
	SourceRegions              []string `json:"SourceRegions"`
	SourceAddresses            []string `json:"SourceAddresses"`
	SourceAddressCount         int      `json:"SourceAddressCount"`
	SourceAsOrganizations      []string `json:"SourceAsOrganizations"`
	AuthenticationProtocols    []string `json:"AuthenticationProtocols"`
	AuthenticationRequirements []string `json:"AuthenticationRequirements"`
	IsInteractive              []bool   `json:"IsInteractive"`
	IncomingTokenTypes         []string `json:"IncomingTokenTypes"`
	TokenSessionStatuses       []string `json:"TokenSessionStatuses"`
	SessionIDCount             int      `json:"SessionIdCount"`
	AppDisplayNames            []string `json:"AppDisplayNames"`
	AppIDs                     []string `json:"AppIds"`
	ResourceIDs                []string `json:"ResourceIds"`
	ResourceDisplayNames       []string `json:"ResourceDisplayNames"`
	AppOwnerTenantIDs          []string `json:"AppOwnerTenantIds"`
	ResourceOwnerTenantIDs     []string `json:"ResourceOwnerTenantIds"`
	ConditionalAccessStatuses  []string `json:"ConditionalAccessStatuses"`
	RiskStates                 []string `json:"RiskStates"`
	RiskLevelsAggregated       []string `json:"RiskLevelsAggregated"`
	Browsers                   []string `json:"Browsers"`
	OperatingSystems           []string `json:"OperatingSystems"`
	UserAgents                 []string `json:"UserAgents"`
	IsBrowserMax               int      `json:"IsBrowserMax"`
	EventCount                 int      `json:"EventCount"`
	// TruncatedColumns names the value-list columns that left values out
	// or shortened one to fit their byte budget (see ListBudget); empty when
	// every list is complete, as ES|QL VALUES() returns it.
	TruncatedColumns []string `json:"TruncatedColumns"`
	// GeoSource is GeoSourceGeoIP when SourceCities, SourceRegions and
	// SourceCountries come from a GeoIP database as Elastic's pipeline fills
	// source.geo, GeoSourceEntra when they hold Entra's own location.
	GeoSource string `json:"GeoSource"`
	// EntraCities, EntraRegions and EntraCountries hold Entra's own
	// properties.location whatever GeoSource says.
	EntraCities    []string `json:"EntraCities"`
	EntraRegions   []string `json:"EntraRegions"`
	EntraCountries []string `json:"EntraCountries"`
	// Stage, RegisteredDevices and PrtSignIns follow the attack past the
	// phished sign-in (see ApplyChain and LinkChain).
	Stage             string             `json:"Stage"`
	RegisteredDevices []RegisteredDevice `json:"RegisteredDevices"`
	PrtSignIns        []PrtSignIn        `json:"PrtSignIns"`
	// SupersededBy is, on a sliding-rule alert, the AlertId of the seed
	// alert that later records raised on one of its two buckets: that alert
	// replaces it (an attack gives one live alert). Empty otherwise.
	SupersededBy string `json:"SupersededBy"`
}

// alert builds the alert's figures from the group (without revision and
// TimeGenerated).
func (r Rule) alert(g *Group) Alert {
	vals := func(c Column) []string {
		if len(g.Values[c]) == 0 {
			return []string{}
		}
		return slices.Clone(g.Values[c])
	}
	sessions := 0
	if g.Key.SessionID != "" {
		sessions = 1
	}
	inter := []bool{}
	for _, v := range g.Values[ColIsInteractive] {
		switch v {
		case "false":
			inter = append(inter, false)
		case "true":
			inter = append(inter, true)
		}
	}
	// Once the event set is full, later records are left out whole, so
	// every list may lack their values.
	recordsLeftOut := g.Saturated && len(g.Events) >= MaxEvents
	truncated := []string{}
	for c := range numColumns {
		if g.Cut.Has(c) || recordsLeftOut {
			truncated = append(truncated, columnNames[c])
		}
	}
	return Alert{
		AlertID:                    g.Key.ID(),
		RuleID:                     r.ID,
		RuleName:                   r.Name,
		Severity:                   r.Severity,
		RiskScore:                  r.RiskScore,
		WindowStart:                Time{g.Key.Window},
		WindowEnd:                  Time{g.Key.Window.Add(r.Window)},
		UserPrincipalName:          clean(g.Key.UPN, MaxKeyBytes),
		SessionID:                  clean(g.Key.SessionID, MaxKeyBytes),
		FirstSeen:                  Time{g.FirstSeen},
		LastSeen:                   Time{g.LastSeen},
		UserDisplayNames:           vals(ColUserDisplayNames),
		UserPrincipalNames:         vals(ColUserPrincipalNames),
		SessionIDs:                 vals(ColSessionIDs),
		UniqueTokenIdentifiers:     vals(ColUniqueTokenIdentifiers),
		SourceCities:               vals(ColSourceCities),
		SourceCountries:            vals(ColSourceCountries),
		SourceRegions:              vals(ColSourceRegions),
		SourceAddresses:            vals(ColSourceAddresses),
		SourceAddressCount:         g.AddressCount(),
		SourceAsOrganizations:      vals(ColSourceAsOrganizations),
		AuthenticationProtocols:    vals(ColAuthenticationProtocols),
		AuthenticationRequirements: vals(ColAuthenticationRequirements),
		IsInteractive:              inter,
		IncomingTokenTypes:         vals(ColIncomingTokenTypes),
		TokenSessionStatuses:       vals(ColTokenSessionStatuses),
		SessionIDCount:             sessions,
		AppDisplayNames:            vals(ColAppDisplayNames),
		AppIDs:                     vals(ColAppIDs),
		ResourceIDs:                vals(ColResourceIDs),
		ResourceDisplayNames:       vals(ColResourceDisplayNames),
		AppOwnerTenantIDs:          vals(ColAppOwnerTenantIDs),
		ResourceOwnerTenantIDs:     vals(ColResourceOwnerTenantIDs),
		ConditionalAccessStatuses:  vals(ColConditionalAccessStatuses),
		RiskStates:                 vals(ColRiskStates),
		RiskLevelsAggregated:       vals(ColRiskLevelsAggregated),
		Browsers:                   vals(ColBrowsers),
		OperatingSystems:           vals(ColOperatingSystems),
		UserAgents:                 vals(ColUserAgents),
		IsBrowserMax:               g.BrowserMax,
		EventCount:                 g.EventCount(),
		TruncatedColumns:           truncated,
		GeoSource:                  g.GeoSource(),
		EntraCities:                vals(ColEntraCities),
		EntraRegions:               vals(ColEntraRegions),
		EntraCountries:             vals(ColEntraCountries),
		Stage:                      StageCodePhish.String(),
		RegisteredDevices:          []RegisteredDevice{},
		PrtSignIns:                 []PrtSignIn{},
	}
}

// fingerprint hashes the alert's figures, ignoring TimeGenerated and
// Revision, so a revision is emitted only when something an analyst sees
// changed.
func (a Alert) fingerprint() string {
	a.TimeGenerated, a.Revision = Time{}, 0
	b, _ := a.MarshalJSON()
	// An alert that is not superseded hashes as it did before the column
	// existed, so that alerts stored then get no revision (and fire no
	// alert rule again) for it.
	if a.SupersededBy == "" && bytes.HasSuffix(b, noSupersededBy) {
		b = append(b[:len(b)-len(noSupersededBy)], '}')
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:12])
}

var noSupersededBy = []byte(`,"SupersededBy":""}`)

// revise numbers a as the revision after *revision and stamps it now,
// unless its fingerprint is *emitted (nothing an analyst sees changed since
// the last revision); it reports whether a is a new revision.
func (a *Alert) revise(revision *int, emitted *string, now time.Time) bool {
	fp := a.fingerprint()
	if fp == *emitted {
		return false
	}
	*revision++
	*emitted = fp
	a.Revision = *revision
	a.TimeGenerated = Time{now.UTC()}
	return true
}

// timeLayout is RFC 3339 in UTC with milliseconds, as @timestamp is stored.
const timeLayout = "2006-01-02T15:04:05.000Z07:00"

// Time is a UTC instant that encodes as RFC 3339 with milliseconds.
type Time struct{ time.Time }

// MarshalJSON encodes t as "2006-01-02T15:04:05.000Z".
func (t Time) MarshalJSON() ([]byte, error) {
	return []byte(`"` + t.UTC().Format(timeLayout) + `"`), nil
}

// UnmarshalJSON decodes an RFC 3339 time.
func (t *Time) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return err
	}
	t.Time = v.UTC()
	return nil
}

// MarshalJSON encodes the alert as its Log Analytics row: columns in schema
// order, times in RFC 3339 UTC with milliseconds, value lists as arrays
// (never null), no HTML escaping.
func (a Alert) MarshalJSON() ([]byte, error) {
	type plain Alert // without methods, for the default encoding
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(plain(a)); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}
