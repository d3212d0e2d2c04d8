package detect

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/drswatch/drswatch/internal/jsonbytes"
)

// Record holds the fields of one sign-in record that the rule reads or
// reports, named after the Elastic fields they reproduce. An empty string
// means the field is absent (null in ES|QL).
type Record struct {
	// ID is properties.id (event.id); when absent, a hash of the raw record,
	// so that a redelivered record is still recognised.
	ID string
	// Category is the log category (SignInLogs, NonInteractiveUserSignInLogs...).
	Category string
	// Timestamp is @timestamp: time (or root CreatedDateTime), truncated to
	// milliseconds, UTC.
	Timestamp time.Time
	// Outcome is event.outcome: "success", "failure" or "" (unset).
	Outcome string

	UserType      string // azure.signinlogs.properties.user_type
	Identity      string // azure.signinlogs.identity
	UPN           string // azure.signinlogs.properties.user_principal_name
	SourceAddress string // source.address
	AppID         string // azure.signinlogs.properties.app_id
	ResourceID    string // azure.signinlogs.properties.resource_id
	SessionID     string // azure.signinlogs.properties.session_id
	Browser       string // azure.signinlogs.properties.device_detail.browser

	UserDisplayName           string
	UniqueTokenIdentifier     string
	City                      string // geo.city_name, from properties.location.city
	Region                    string // geo.region_name, from properties.location.state
	CountryCode               string // properties.location.countryOrRegion, else top-level location
	AuthenticationProtocol    string
	AuthenticationRequirement string
	IsInteractive             string // "true", "false" or ""
	IncomingTokenType         string
	TokenSessionStatus        string // token_protection_status_details.sign_in_session_status
	AppDisplayName            string
	ResourceDisplayName       string
	AppOwnerTenantID          string
	ResourceOwnerTenantID     string
	ConditionalAccessStatus   string
	RiskState                 string
	RiskLevelAggregated       string
	OperatingSystem           string
	UserAgent                 string // user_agent.original
}

// Skip says why a record was not used. The zero value means it was used.
type Skip uint8

// Reasons a record is skipped or not selected. The String form is used in
// summaries and logs.
const (
	SkipNone        Skip = iota
	SkipNotJSON          // not a JSON object
	SkipTooDeep          // nested deeper than the decoder allows
	SkipWrongType        // a field the rule decides on has the wrong JSON type
	SkipNotSignIn        // category missing or not ending in SignInLogs
	SkipBadTime          // @timestamp missing or unparsable
	SkipNoMatch          // the rule's filter does not select it
	SkipNoSession        // selected, but without a session id: can never alert
	SkipLate             // older than the allowed lateness
	SkipFuture           // too far in the future
	SkipDuplicate        // already counted (same record id)
	SkipOversize         // UPN or session id longer than MaxKeyBytes
	SkipPrefiltered      // lacks the rule's app or resource id: not decoded (see ScanBody)
	numSkips
)

var skipNames = [...]string{"used", "not_json", "too_deep", "wrong_type", "not_signin", "bad_time", "no_match", "no_session", "late", "future", "duplicate", "oversize", "prefiltered"}

func (s Skip) String() string {
	if int(s) < len(skipNames) {
		return skipNames[s]
	}
	return "skip(" + strconv.Itoa(int(s)) + ")"
}

// NumSkips is the number of Skip values, SkipNone included: the length of
// an array indexed by Skip.
const NumSkips = int(numSkips)

// Skips lists every reason, for summaries.
func Skips() []Skip {
	out := make([]Skip, 0, numSkips-1)
	for s := SkipNone + 1; s < numSkips; s++ {
		out = append(out, s)
	}
	return out
}

// DecodeRecord maps one raw sign-in record (a JSON object, camelCase keys as
// Entra sends them) to a Record, reproducing Elastic's pipeline for every
// field the rule uses. It returns a non-zero Skip when the record cannot be
// used: not JSON, a wrong type in a deciding field, a category the data
// stream drops, or an unparsable time.
//
// Only the members the rule and the alert read are built (see parseRecord);
// the rest of the record is validated and skipped.
func DecodeRecord(raw []byte) (Record, Skip) {
	root, err := parseRecord(raw)
	if err != nil {
		if errors.Is(err, jsonbytes.ErrTooDeep) {
			return Record{}, SkipTooDeep
		}
		return Record{}, SkipNotJSON
	}
	return recordFromNode(root, raw)
}

func recordFromNode(root node, raw []byte) (Record, Skip) {
	if root.kind != kindObject {
		return Record{}, SkipNotJSON
	}
	var r Record
	bad := false
	// str reads a string field; a scalar of another type is a wrong type.
	str := func(n node) string {
		switch n.kind {
		case kindString:
			return n.str
		case kindNull:
			return ""
		case kindObject, kindArray:
			if n.empty() {
				return ""
			}
		}
		bad = true
		return ""
	}
	// text reads an output-only field leniently: scalars become text.
	text := func(n node) string {
		switch n.kind {
		case kindString, kindNumber:
			return n.str
		case kindBool:
			return strconv.FormatBool(n.truth)
		}
		return ""
	}

	cat := root.get("category")
	if cat.kind != kindString {
		if cat.kind == kindNull {
			return Record{}, SkipNotSignIn
		}
		return Record{}, SkipWrongType
	}
	r.Category = cat.str
	if !strings.HasSuffix(r.Category, "SignInLogs") {
		return Record{}, SkipNotSignIn
	}

	p := root.get("properties")
	r.ID = str(p.get("id"))
	r.UserType = str(p.get("user_type"))
	r.Identity = str(root.get("identity"))
	r.UPN = str(p.get("user_principal_name"))
	r.SourceAddress = str(p.get("ipaddress"))
	if r.SourceAddress == "" {
		r.SourceAddress = str(p.get("ip_address"))
	}
	r.AppID = str(p.get("app_id"))
	r.ResourceID = str(p.get("resource_id"))
	r.SessionID = str(p.get("session_id"))
	r.Browser = str(p.get("device_detail", "browser"))

	// A status that is neither null nor an object makes the pipeline's
	// status?.failure_reason script throw: a pipeline error without
	// event.outcome, so the record can never count.
	if st := p.get("status"); st.kind != kindNull && st.kind != kindObject {
		bad = true
	}
	switch code := p.get("status", "error_code"); code.kind {
	case kindNull:
		r.Outcome = "success"
	case kindNumber:
		f, err := strconv.ParseFloat(code.str, 64)
		switch {
		case err != nil:
			bad = true
		case f == 0:
			r.Outcome = "success"
		case f > 0:
			r.Outcome = "failure"
		}
	default:
		bad = true
	}
	if bad {
		return Record{}, SkipWrongType
	}

	r.UserDisplayName = text(p.get("user_display_name"))
	r.UniqueTokenIdentifier = text(p.get("unique_token_identifier"))
	r.City = text(p.get("location", "city"))
	r.Region = text(p.get("location", "state"))
	r.CountryCode = text(p.get("location", "country_or_region"))
	if r.CountryCode == "" {
		r.CountryCode = text(root.get("location"))
	}
	r.AuthenticationProtocol = text(p.get("authentication_protocol"))
	r.AuthenticationRequirement = text(p.get("authentication_requirement"))
	r.IsInteractive = text(p.get("is_interactive"))
	r.IncomingTokenType = text(p.get("incoming_token_type"))
	r.TokenSessionStatus = text(p.get("token_protection_status_details", "sign_in_session_status"))
	r.AppDisplayName = text(p.get("app_display_name"))
	r.ResourceDisplayName = text(p.get("resource_display_name"))
	r.AppOwnerTenantID = text(p.get("app_owner_tenant_id"))
	r.ResourceOwnerTenantID = text(p.get("resource_owner_tenant_id"))
	r.ConditionalAccessStatus = text(p.get("conditional_access_status"))
	r.RiskState = text(p.get("risk_state"))
	r.RiskLevelAggregated = text(p.get("risk_level_aggregated"))
	r.OperatingSystem = text(p.get("device_detail", "operating_system"))
	r.UserAgent = text(p.get("user_agent"))

	// @timestamp: time, or the root created_date_time when time is null.
	ts, ok := eventTime(root.get("time"), root, "created_date_time")
	if !ok {
		return Record{}, SkipBadTime
	}
	r.Timestamp = ts

	if r.ID == "" {
		sum := sha256.Sum256(raw)
		r.ID = "sha256:" + hex.EncodeToString(sum[:16])
	}
	return r, SkipNone
}
