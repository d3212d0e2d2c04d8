package detect

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"
)

// DeviceSignIn is what a sign-in record says about the device it came
// from: the fields that link it to a registration (deviceDetail.deviceId,
// the user) and those a responder reads in PrtSignIns.
type DeviceSignIn struct {
	ID     string
	Time   time.Time // @timestamp, as for the rule
	UPN    string
	UserID string
	// DeviceID is properties.deviceDetail.deviceId, lower-cased; the
	// registration's deviceId (facts §4).
	DeviceID   string
	DeviceName string
	TrustType  string
	IsManaged  bool
	// TokenType is properties.incomingTokenType (none, refreshToken,
	// primaryRefreshToken).
	TokenType           string
	Address             string
	AppDisplayName      string
	ResourceDisplayName string
	UserAgent           string
	Success             bool
}

// The markers of a primary refresh token in use (facts §5, Elastic rule
// "Entra ID OAuth PRT Issuance to Non-Managed Device Detected"): the
// incoming token is a PRT, the resource is not the Device Registration
// Service, and it is not a managed device's own Windows logon.
const (
	TokenTypePRT           = "primaryRefreshToken"
	windowsSignInApp       = "Windows Sign In"
	windowsSignInUserAgent = "Windows-AzureAD-Authentication-Provider/1.0"
)

// IsPRTUse reports whether the sign-in used a primary refresh token the way
// an attacker's registered device does: a successful sign-in with
// incomingTokenType primaryRefreshToken to a resource other than the Device
// Registration Service, from a device not marked managed, and not the
// Windows logon itself ("Windows Sign In" or the Windows authentication
// provider's user agent), as Elastic's rule excludes.
func (s DeviceSignIn) IsPRTUse() bool {
	return s.Success && s.DeviceID != "" &&
		s.TokenType == TokenTypePRT &&
		s.ResourceDisplayName != "Device Registration Service" &&
		!s.IsManaged &&
		s.AppDisplayName != windowsSignInApp &&
		s.UserAgent != windowsSignInUserAgent
}

// DecodeDeviceSignIn maps a raw sign-in record to a DeviceSignIn. It uses
// the sign-in Skip reasons: a record that is not a sign-in, has no usable
// time, has a wrong type in a field it decides on, or names no device
// (SkipNoMatch) gives no DeviceSignIn.
func DecodeDeviceSignIn(raw []byte) (DeviceSignIn, Skip) {
	root, err := parseNode(raw)
	if err != nil {
		if err == errTooDeep {
			return DeviceSignIn{}, SkipTooDeep
		}
		return DeviceSignIn{}, SkipNotJSON
	}
	if root.kind != kindObject {
		return DeviceSignIn{}, SkipNotJSON
	}
	cat := root.get("category")
	if cat.kind != kindString {
		if cat.kind == kindNull {
			return DeviceSignIn{}, SkipNotSignIn
		}
		return DeviceSignIn{}, SkipWrongType
	}
	if !strings.HasSuffix(cat.str, "SignInLogs") {
		return DeviceSignIn{}, SkipNotSignIn
	}
	p := root.get("properties")
	dd := p.get("device_detail")
	idn := dd.get("device_id")
	if idn.kind != kindString && idn.kind != kindNull {
		return DeviceSignIn{}, SkipWrongType
	}
	s := DeviceSignIn{DeviceID: lowerGUID(idn.str)}
	if s.DeviceID == "" {
		return DeviceSignIn{}, SkipNoMatch
	}
	switch m := dd.get("is_managed"); m.kind {
	case kindBool:
		s.IsManaged = m.truth
	case kindString:
		s.IsManaged = strings.EqualFold(m.str, "true")
	}
	switch code := p.get("status", "error_code"); code.kind {
	case kindNull:
		s.Success = true
	case kindNumber:
		s.Success = code.str == "0"
	}
	ts, ok := eventTime(root.get("time"), root, "created_date_time")
	if !ok {
		return DeviceSignIn{}, SkipBadTime
	}
	s.Time = ts
	s.ID = clean(text(p.get("id")), MaxChainValueBytes)
	s.UPN = clean(text(p.get("user_principal_name")), MaxKeyBytes)
	s.UserID = lowerGUID(text(p.get("user_id")))
	s.DeviceName = clean(text(dd.get("display_name")), MaxChainValueBytes)
	s.TrustType = clean(text(dd.get("trust_type")), MaxChainValueBytes)
	s.TokenType = text(p.get("incoming_token_type"))
	s.Address = text(p.get("ipaddress"))
	if s.Address == "" {
		s.Address = text(p.get("ip_address"))
	}
	s.Address = clean(s.Address, MaxChainValueBytes)
	s.AppDisplayName = clean(text(p.get("app_display_name")), MaxChainValueBytes)
	s.ResourceDisplayName = clean(text(p.get("resource_display_name")), MaxChainValueBytes)
	s.UserAgent = clean(text(p.get("user_agent")), MaxChainValueBytes)
	if s.ID == "" {
		sum := sha256.Sum256(raw)
		s.ID = "sha256:" + hex.EncodeToString(sum[:16])
	}
	return s, SkipNone
}
