package detect

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/drswatch/drswatch/internal/jsonbytes"
)

// DeviceOp is the operation of an Entra ID audit record about a device, as
// named in operationName (= properties.activityDisplayName) of the records
// the diagnostic setting streams (device-registration-facts.md §2).
type DeviceOp uint8

// The device operations drswatch reads. A cloud registration produces one
// Register device record (logged by the Device Registration Service,
// initiated by the registering user) and a burst of Core Directory records
// (Add device, Add registered users to device, Add registered owner to
// device, Update device) initiated by the service (facts §2).
const (
	OpNone DeviceOp = iota
	OpRegisterDevice
	OpAddDevice
	OpAddRegisteredOwner
	OpAddRegisteredUsers
	OpUpdateDevice
	numDeviceOps
)

var deviceOpNames = [...]string{"", "Register device", "Add device", "Add registered owner to device", "Add registered users to device", "Update device"}

func (o DeviceOp) String() string {
	if int(o) < len(deviceOpNames) {
		return deviceOpNames[o]
	}
	return "op(" + strconv.Itoa(int(o)) + ")"
}

// Creates reports whether the operation creates or assigns a device (and so
// can start a registration). Update device only enriches one: Entra writes
// it for every device all the time (compliance, renames, OS updates).
func (o DeviceOp) Creates() bool {
	return o == OpRegisterDevice || o == OpAddDevice || o == OpAddRegisteredOwner || o == OpAddRegisteredUsers
}

func deviceOpNamed(s string) DeviceOp {
	for o := OpRegisterDevice; o < numDeviceOps; o++ {
		if deviceOpNames[o] == s {
			return o
		}
	}
	return OpNone
}

// DeviceAudit is what one audit record of a device operation says about the
// device and who registered it. An empty string means the record does not
// say. Identifiers are lower-cased GUIDs; anything else in an id field is
// treated as absent.
type DeviceAudit struct {
	// ID is properties.id; when absent, a hash of the raw record, so that a
	// redelivered record is recognised.
	ID            string
	Op            DeviceOp
	Time          time.Time // top-level time, else properties.activityDateTime
	CorrelationID string
	// ObjectID is the device's directory object id: it links the records of
	// one registration to each other, never to sign-ins (facts §4).
	ObjectID string
	// DeviceID is the deviceId that sign-ins carry in deviceDetail.deviceId
	// (facts §4): Register device additionalDetails "Device Id", Add device
	// modifiedProperties "DeviceId", Update device additionalDetails
	// "DeviceId" or modifiedProperties "TargetId.DeviceId".
	DeviceID               string
	DisplayName            string
	OperatingSystem        string
	OperatingSystemVersion string
	TrustType              string
	// Address is the registering client's address: initiatedBy.user.ipAddress,
	// else the envelope's callerIpAddress, only on records a user initiated
	// (on service-initiated records it would be the service's).
	Address string
	// UserAgent is properties.userAgent, else additionalDetails "User-Agent".
	UserAgent string
	// UserID and UPN name the registering user: initiatedBy.user on Register
	// device, the User target on Add registered owner/users to device.
	UserID string
	UPN    string
	// Initiator is initiatedBy.app.displayName, or "user" when a user
	// initiated the record.
	Initiator string
}

// AuditSkip says why an audit record gave no DeviceAudit. The zero value
// means it gave one.
type AuditSkip uint8

// Reasons an audit record is not used. Their names share the "audit_"
// prefix so that they can be counted beside the sign-in Skip reasons.
const (
	AuditUsed         AuditSkip = iota
	AuditNotJSON                // not a JSON object
	AuditTooDeep                // nested deeper than the decoder allows
	AuditOversize               // larger than MaxAuditBytes: no device record is that big
	AuditWrongType              // a field the decoder decides on has the wrong JSON type
	AuditNotAudit               // category is not AuditLogs
	AuditNotDevice              // not one of the device operations
	AuditFailed                 // result is not success: no device was written
	AuditBadTime                // time missing or unparsable
	AuditNoDevice               // neither a device object id nor a deviceId
	AuditDuplicate              // already merged (same record id)
	AuditUnregistered           // enriches a device no registration within the horizon created
	numAuditSkips
)

var auditSkipNames = [...]string{"audit_used", "audit_not_json", "audit_too_deep", "audit_oversize", "audit_wrong_type", "audit_not_audit", "audit_not_device", "audit_failed", "audit_bad_time", "audit_no_device", "audit_duplicate", "audit_unregistered"}

func (s AuditSkip) String() string {
	if int(s) < len(auditSkipNames) {
		return auditSkipNames[s]
	}
	return "audit_skip(" + strconv.Itoa(int(s)) + ")"
}

// AuditSkips lists every reason, for summaries.
func AuditSkips() []AuditSkip {
	out := make([]AuditSkip, 0, numAuditSkips-1)
	for s := AuditUsed + 1; s < numAuditSkips; s++ {
		out = append(out, s)
	}
	return out
}

// Bounds on what one audit record is read for. A device record has one or
// two target resources, a few dozen modified properties and a handful of
// additional details (facts §3); the rest of a larger array is not read.
const (
	MaxAuditBytes         = 128 << 10
	maxTargetResources    = 8
	maxModifiedProperties = 128
	maxAdditionalDetails  = 64
	maxPropertyValueBytes = 4096 // longer JSON-in-string values are not unwrapped
)

// DecodeDeviceAudit maps one raw audit record (a JSON object as the
// diagnostic setting streams it) of a device operation to a DeviceAudit.
// Any other record, or one that cannot be used, gives a non-zero AuditSkip.
// Values are cleaned and cut to MaxChainValueBytes.
func DecodeDeviceAudit(raw []byte) (DeviceAudit, AuditSkip) {
	if len(raw) > MaxAuditBytes {
		return DeviceAudit{}, AuditOversize
	}
	// Only the members read are built (auditMembers); the rest is validated.
	i := jsonbytes.Space(raw, 0)
	k := keepAuditRoot
	if i < len(raw) && raw[i] != '{' {
		k = keepNone
	}
	root, err := parseWhole(raw, i, k)
	if err != nil {
		if err == errTooDeep {
			return DeviceAudit{}, AuditTooDeep
		}
		return DeviceAudit{}, AuditNotJSON
	}
	if root.kind != kindObject {
		return DeviceAudit{}, AuditNotJSON
	}
	bad := false
	str := func(n node) string {
		switch n.kind {
		case kindString:
			return n.str
		case kindNull:
			return ""
		}
		bad = true
		return ""
	}
	if cat := root.get("category"); cat.kind != kindString {
		if cat.kind == kindNull {
			return DeviceAudit{}, AuditNotAudit
		}
		return DeviceAudit{}, AuditWrongType
	} else if cat.str != "AuditLogs" {
		return DeviceAudit{}, AuditNotAudit
	}
	p := root.get("properties")
	if p.kind != kindObject {
		if p.kind == kindNull {
			return DeviceAudit{}, AuditNotDevice
		}
		return DeviceAudit{}, AuditWrongType
	}
	name := str(root.get("operation_name"))
	if name == "" {
		name = str(p.get("activity_display_name"))
	}
	if bad {
		return DeviceAudit{}, AuditWrongType
	}
	a := DeviceAudit{Op: deviceOpNamed(name)}
	if a.Op == OpNone {
		return DeviceAudit{}, AuditNotDevice
	}
	if res := str(p.get("result")); bad || res != "" && !strings.EqualFold(res, "success") {
		if bad {
			return DeviceAudit{}, AuditWrongType
		}
		return DeviceAudit{}, AuditFailed
	}

	a.ID = str(p.get("id"))
	a.CorrelationID = lowerGUID(str(p.get("correlation_id")))
	if a.CorrelationID == "" {
		a.CorrelationID = lowerGUID(str(root.get("correlation_id")))
	}
	a.UserAgent = str(p.get("user_agent"))
	if bad {
		return DeviceAudit{}, AuditWrongType
	}

	ts, ok := eventTime(root.get("time"), p, "activity_date_time")
	if !ok {
		return DeviceAudit{}, AuditBadTime
	}
	a.Time = ts

	// Who initiated it.
	by := p.get("initiated_by")
	if u := by.get("user"); u.kind == kindObject {
		a.Initiator = "user"
		if a.Op == OpRegisterDevice {
			a.UserID = lowerGUID(text(u.get("id")))
			a.UPN = text(u.get("user_principal_name"))
		}
		a.Address = text(u.get("ip_address"))
		if a.Address == "" {
			a.Address = text(root.get("caller_ip_address"))
		}
	} else if app := by.get("app"); app.kind == kindObject {
		a.Initiator = text(app.get("display_name"))
	}
	if a.Initiator == "" {
		a.Initiator = text(root.get("identity"))
	}

	// Target resources: the device (object id, name, written attributes)
	// and, on owner/users assignments, the user.
	for i, t := range arrayHead(p.get("target_resources"), maxTargetResources) {
		if t.kind != kindObject {
			continue
		}
		typ := text(t.get("type"))
		switch {
		case strings.EqualFold(typ, "Device"):
			if a.ObjectID == "" {
				a.ObjectID = lowerGUID(text(t.get("id")))
			}
			if a.DisplayName == "" {
				a.DisplayName = text(t.get("display_name"))
			}
		case strings.EqualFold(typ, "User") && (a.Op == OpAddRegisteredOwner || a.Op == OpAddRegisteredUsers):
			if a.UPN == "" {
				a.UserID = lowerGUID(text(t.get("id")))
				a.UPN = text(t.get("user_principal_name"))
			}
		}
		_ = i
		for _, mp := range arrayHead(t.get("modified_properties"), maxModifiedProperties) {
			if mp.kind != kindObject {
				continue
			}
			if name := text(mp.get("display_name")); readProperty[name] {
				a.setProperty(name, propertyValue(mp.get("new_value")))
			}
		}
	}
	for _, d := range arrayHead(p.get("additional_details"), maxAdditionalDetails) {
		if d.kind != kindObject {
			continue
		}
		a.setDetail(text(d.get("key")), text(d.get("value")))
	}

	if a.ObjectID == "" && a.DeviceID == "" {
		return DeviceAudit{}, AuditNoDevice
	}
	for _, f := range []*string{&a.DisplayName, &a.OperatingSystem, &a.OperatingSystemVersion, &a.TrustType, &a.Address, &a.UserAgent, &a.Initiator} {
		*f = clean(*f, MaxChainValueBytes)
	}
	a.UPN = clean(a.UPN, MaxKeyBytes)
	a.ID = clean(a.ID, MaxChainValueBytes)
	if a.ID == "" {
		sum := sha256.Sum256(raw)
		a.ID = "sha256:" + hex.EncodeToString(sum[:16])
	}
	return a, AuditUsed
}

// readProperty names the modified properties setProperty reads; the
// others' values are not unwrapped.
var readProperty = map[string]bool{
	"DeviceId": true, "TargetId.DeviceId": true, "Device.ObjectID": true,
	"CloudDisplayName": true, "DisplayName": true, "Device.DisplayName": true,
	"CloudDeviceOSType": true, "DeviceOSType": true, "TargetId.DeviceOSType": true,
	"CloudDeviceOSVersion": true, "DeviceOSVersion": true,
	"DeviceTrustType": true, "TargetId.DeviceTrustType": true,
}

// setProperty reads one modified property (its new value, unwrapped).
func (a *DeviceAudit) setProperty(name, v string) {
	if v == "" {
		return
	}
	switch name {
	case "DeviceId", "TargetId.DeviceId":
		setOnce(&a.DeviceID, lowerGUID(v))
	case "Device.ObjectID":
		setOnce(&a.ObjectID, lowerGUID(v))
	case "CloudDisplayName", "DisplayName", "Device.DisplayName":
		setOnce(&a.DisplayName, v)
	case "CloudDeviceOSType", "DeviceOSType", "TargetId.DeviceOSType":
		setOnce(&a.OperatingSystem, v)
	case "CloudDeviceOSVersion", "DeviceOSVersion":
		setOnce(&a.OperatingSystemVersion, v)
	case "DeviceTrustType", "TargetId.DeviceTrustType":
		setOnce(&a.TrustType, v)
	}
}

// setDetail reads one additional detail. Keys are as seen in records
// (facts §3a, §3d): "Device Id" on Register device, "DeviceId" on Update
// device.
func (a *DeviceAudit) setDetail(key, v string) {
	if v == "" {
		return
	}
	switch key {
	case "Device Id", "DeviceId":
		setOnce(&a.DeviceID, lowerGUID(v))
	case "Device OS", "DeviceOSType":
		setOnce(&a.OperatingSystem, v)
	case "Device OS Version", "DeviceOSVersion":
		setOnce(&a.OperatingSystemVersion, v)
	case "Device Trust Type", "DeviceTrustType":
		setOnce(&a.TrustType, v)
	case "User-Agent":
		setOnce(&a.UserAgent, v)
	}
}

func setOnce(f *string, v string) {
	if *f == "" {
		*f = v
	}
}

// text reads a scalar leniently: strings as they are, numbers and booleans
// as their text; objects, arrays and null as absent.
func text(n node) string {
	switch n.kind {
	case kindString, kindNumber:
		return n.str
	case kindBool:
		return strconv.FormatBool(n.truth)
	}
	return ""
}

// arrayHead returns at most max elements of an array node; anything else
// gives none.
func arrayHead(n node, max int) []node {
	if n.kind != kindArray {
		return nil
	}
	if len(n.arr) > max {
		return n.arr[:max]
	}
	return n.arr
}

// propertyValue unwraps a modified property's value, which Entra writes as
// JSON inside a string (facts §1): `["Windows"]` gives Windows, `"DESKTOP-1"`
// gives DESKTOP-1, `[true]` gives true, `[]` gives "". Multi-valued arrays
// give their first value. Anything else is taken as it is.
func propertyValue(n node) string {
	s := text(n)
	if s == "" || len(s) > maxPropertyValueBytes || (s[0] != '[' && s[0] != '"') {
		return strings.TrimSpace(s)
	}
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return strings.TrimSpace(s)
	}
	if arr, ok := v.([]any); ok {
		if len(arr) == 0 {
			return ""
		}
		v = arr[0]
	}
	switch x := v.(type) {
	case string:
		return strings.TrimSpace(x)
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return ""
}

// lowerGUID returns s lower-cased when it is a GUID in its 8-4-4-4-12 form
// (optionally in braces), and "" otherwise: the ids drswatch keys on are
// GUIDs, and anything else in their place is not trusted as a key.
func lowerGUID(s string) string {
	s = strings.TrimSpace(s)
	if len(s) == 38 && s[0] == '{' && s[37] == '}' {
		s = s[1:37]
	}
	if len(s) != 36 {
		return ""
	}
	b := []byte(s)
	for i, c := range b {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return ""
			}
			continue
		}
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f':
		case c >= 'A' && c <= 'F':
			b[i] = c + ('a' - 'A')
		default:
			return ""
		}
	}
	return string(b)
}

// NumAuditSkips is the number of AuditSkip values, AuditUsed included.
const NumAuditSkips = int(numAuditSkips)
