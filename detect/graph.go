package detect

import (
	"bytes"

	"github.com/drswatch/drswatch/internal/jsonbytes"
)

// Microsoft Graph lists sign-ins (GET /auditLogs/signIns, pages of
// {"value":[...]}) as signIn objects: the members a diagnostic-settings
// record holds under properties (appId, resourceId, userPrincipalName,
// ipAddress, sessionId, status, deviceDetail, location...), at top level
// and under the same names, without the record's envelope (category, time,
// identity). Reference: the signIn resource type, Microsoft Graph beta
// (learn.microsoft.com/graph/api/resources/signin?view=graph-rest-beta).
// v1.0 signIn objects lack userType and sessionId, so they decode but the
// rule never selects them; use the beta endpoint.
//
// GraphRecord rebuilds the diagnostic-settings record Entra would have
// written for such an object, so that DecodeRecord maps it as Elastic maps
// that record:
//   - properties: the signIn object itself, its members unchanged, except
//     userType, which Graph spells member or guest and diagnostic settings
//     Member or Guest (the rule compares it case-sensitively with Member):
//     its first letter is capitalised.
//   - category: from signInEventTypes: nonInteractiveUser ->
//     NonInteractiveUserSignInLogs, servicePrincipal ->
//     ServicePrincipalSignInLogs, managedIdentity -> ManagedIdentitySignInLogs,
//     anything else or none -> SignInLogs (without a filter the API returns
//     interactive sign-ins only).
//   - identity: userDisplayName (in every record of Elastic's fixtures that
//     has both, identity equals properties.userDisplayName; a test checks it).
//   - createdDateTime at top level: the record has no time, so @timestamp
//     comes from it, as Elastic's pipeline takes a top-level CreatedDateTime
//     when time is missing. A diagnostic record's time is when Entra
//     processed the sign-in, typically a minute or two after
//     createdDateTime: a window edge can fall between them.
//
// IsGraphSignIn tells such an object apart from a record or a body: it is
// an object with a createdDateTime member and no category, properties or
// records member.

// IsGraphSignIn reports whether v is a Microsoft Graph signIn object (see
// GraphRecord), judged by its top-level keys.
func IsGraphSignIn(v []byte) bool {
	if len(v) == 0 || v[0] != '{' || bytes.HasPrefix(v, []byte(`{"records"`)) {
		return false
	}
	created, other := false, false
	end, err := jsonbytes.WalkObject(v, 0, func(key []byte, b []byte, i int) (int, error) {
		switch string(key) {
		case `"createdDateTime"`:
			created = true
		case `"category"`, `"properties"`, `"records"`:
			other = true
		}
		e, _, err := jsonbytes.ValueEnd(b, i)
		return e, err
	})
	return err == nil && jsonbytes.Space(v, end) == len(v) && created && !other
}

// GraphRecord appends to dst the diagnostic-settings record for the Graph
// signIn object item (see above); ok is false when item is not an object
// whose members delimit.
func GraphRecord(dst, item []byte) (out []byte, ok bool) {
	var created, display, userType, types []byte
	end, err := jsonbytes.WalkObject(item, 0, func(key []byte, b []byte, i int) (int, error) {
		e, _, err := jsonbytes.ValueEnd(b, i)
		switch string(key) {
		case `"createdDateTime"`:
			created = b[i:e]
		case `"userDisplayName"`:
			display = b[i:e]
		case `"userType"`:
			userType = b[i:e]
		case `"signInEventTypes"`:
			types = b[i:e]
		}
		return e, err
	})
	if err != nil || jsonbytes.Space(item, end) != len(item) {
		return dst, false
	}
	last := end - 1 // the item's closing brace
	dst = append(dst, `{"category":"`...)
	dst = append(dst, graphCategory(types)...)
	dst = append(dst, '"')
	if display != nil {
		dst = append(append(dst, `,"identity":`...), display...)
	}
	if created != nil {
		dst = append(append(dst, `,"createdDateTime":`...), created...)
	}
	dst = append(dst, `,"properties":`...)
	fixed := capitalised(userType)
	if fixed == nil {
		dst = append(dst, item...)
	} else {
		// A later key wins over an earlier one (DecodeRecord, as Elastic's
		// pipeline): the fixed value follows the item's own.
		dst = append(dst, item[:last]...)
		dst = append(append(dst, `,"userType":`...), fixed...)
		dst = append(dst, '}')
	}
	return append(dst, '}'), true
}

// graphCategory maps a signInEventTypes value to the category of the
// diagnostic-settings log that carries such sign-ins.
func graphCategory(types []byte) string {
	cat := "SignInLogs"
	if len(types) == 0 || types[0] != '[' {
		return cat
	}
	_, _ = jsonbytes.WalkArray(types, 0, func(b []byte, i int) (int, error) {
		e, _, err := jsonbytes.ValueEnd(b, i)
		if err != nil || cat != "SignInLogs" {
			return e, err
		}
		switch string(b[i:e]) {
		case `"nonInteractiveUser"`:
			cat = "NonInteractiveUserSignInLogs"
		case `"servicePrincipal"`:
			cat = "ServicePrincipalSignInLogs"
		case `"managedIdentity"`:
			cat = "ManagedIdentitySignInLogs"
		}
		return e, nil
	})
	return cat
}

// capitalised returns the JSON string s with its first letter upper-cased,
// or nil when s is not a string starting with a lower-case ASCII letter.
func capitalised(s []byte) []byte {
	if len(s) < 3 || s[0] != '"' || s[1] < 'a' || s[1] > 'z' {
		return nil
	}
	out := bytes.Clone(s)
	out[1] -= 'a' - 'A'
	return out
}
