package detect

import (
	"slices"
	"strings"
	"time"
)

// Registration is one device registration as the audit records of its
// burst describe it, merged by Merge in any order. Fields that several
// records give are taken from the record that knows best (Register device,
// then Add device, then the owner/users assignments, then Update device),
// ties going to the smaller value, so the result does not depend on the
// order the records arrive in.
type Registration struct {
	// ObjectID is the device's directory object id, the key the records of
	// one registration share; DeviceID is the id sign-ins carry.
	ObjectID string
	fields   [numRegFields]regField
	// RegisteredAt is the earliest time of a record that creates or assigns
	// the device; zero while only Update device records were merged.
	RegisteredAt time.Time
	// Records holds the sorted hashes of the audit record ids merged, for
	// redelivery.
	Records []uint64
}

// RegField names a field of a Registration.
type RegField uint8

// The fields of a Registration.
const (
	RegDeviceID RegField = iota
	RegDisplayName
	RegOperatingSystem
	RegOperatingSystemVersion
	RegTrustType
	RegAddress
	RegUserAgent
	RegUserID
	RegUPN
	RegCorrelationID
	numRegFields
)

type regField struct {
	Rank  uint8
	Value string
}

// maxRegistrationRecords bounds the record hashes a registration keeps; a
// registration burst has a handful.
const maxRegistrationRecords = 64

// opRank orders the records by how well they know the registering client:
// Register device is written by the service the client spoke to.
func opRank(o DeviceOp) uint8 {
	switch o {
	case OpRegisterDevice:
		return 4
	case OpAddDevice:
		return 3
	case OpAddRegisteredOwner, OpAddRegisteredUsers:
		return 2
	case OpUpdateDevice:
		return 1
	}
	return 0
}

// Field returns a field's value.
func (r *Registration) Field(f RegField) string { return r.fields[f].Value }

// Established reports whether a record that creates or assigns the device
// was merged: only then is it a registration rather than a device update.
func (r *Registration) Established() bool { return !r.RegisteredAt.IsZero() }

// Merge adds what an audit record says. It returns false, changing nothing,
// when the record was merged before.
func (r *Registration) Merge(a DeviceAudit) bool {
	// Past the bound a record cannot be told from one merged before; it is
	// merged again, which changes nothing (every field merge is idempotent).
	if added, full := insertSorted(&r.Records, hash64(a.ID), maxRegistrationRecords); !added && !full {
		return false
	}
	r.merge(a)
	return true
}

func (r *Registration) merge(a DeviceAudit) {
	if r.ObjectID == "" || a.ObjectID != "" && a.ObjectID < r.ObjectID {
		r.ObjectID = a.ObjectID
	}
	rank := opRank(a.Op)
	ua := a.UserAgent
	uaRank := rank
	if IsServiceUserAgent(ua) {
		// The service's own write into the directory (facts §6): it says the
		// registration came through DRS, nothing about the client.
		uaRank = 0
	}
	for f, v := range [numRegFields]string{
		RegDeviceID:               a.DeviceID,
		RegDisplayName:            a.DisplayName,
		RegOperatingSystem:        a.OperatingSystem,
		RegOperatingSystemVersion: a.OperatingSystemVersion,
		RegTrustType:              a.TrustType,
		RegAddress:                a.Address,
		RegUserAgent:              ua,
		RegUserID:                 a.UserID,
		RegUPN:                    a.UPN,
		RegCorrelationID:          a.CorrelationID,
	} {
		rk := rank
		if RegField(f) == RegUserAgent {
			rk = uaRank
		}
		r.offer(RegField(f), rk, v)
	}
	if a.Op.Creates() && (r.RegisteredAt.IsZero() || a.Time.Before(r.RegisteredAt)) {
		r.RegisteredAt = a.Time
	}
}

// offer keeps v when it ranks higher than the field's value, or ranks the
// same and sorts first.
func (r *Registration) offer(f RegField, rank uint8, v string) {
	if v == "" {
		return
	}
	cur := &r.fields[f]
	if cur.Value == "" || rank > cur.Rank || rank == cur.Rank && v < cur.Value {
		*cur = regField{Rank: rank, Value: v}
	}
}

// MergeRegistration adds another registration's records (the same device
// seen through two keys, or two stored copies). It is commutative.
func (r *Registration) MergeRegistration(o *Registration) {
	if r.ObjectID == "" || o.ObjectID != "" && o.ObjectID < r.ObjectID {
		r.ObjectID = o.ObjectID
	}
	for f := range o.fields {
		r.offer(RegField(f), o.fields[f].Rank, o.fields[f].Value)
	}
	if !o.RegisteredAt.IsZero() && (r.RegisteredAt.IsZero() || o.RegisteredAt.Before(r.RegisteredAt)) {
		r.RegisteredAt = o.RegisteredAt
	}
	for _, h := range o.Records {
		insertSorted(&r.Records, h, maxRegistrationRecords)
	}
}

// IsServiceUserAgent reports whether ua is the Device Registration
// Service's own client writing into the directory, Microsoft.OData.Client
// (facts §6): seen on benign DRS writes, so it is not a fingerprint.
func IsServiceUserAgent(ua string) bool {
	return strings.HasPrefix(ua, "Microsoft.OData.Client/")
}

// Named fingerprints of a registration made by a tool rather than by a
// device's own client. Each is a sign, not a proof; see Fingerprints.
const (
	FingerprintRoadtoolsOSBuild = "roadtools-default-os-build"
	FingerprintKitOSBuild       = "phishing-kit-default-os-build"
	FingerprintRandomName       = "desktop-random-name"
	FingerprintUAMismatch       = "user-agent-os-mismatch"
	FingerprintScriptedClient   = "scripted-client"
)

// Default values of the tools (device-registration-facts.md §8).
const (
	RoadtoolsOSBuild = "10.0.19041.928"  // roadtx device, deviceauth.py:405-418
	KitOSBuild       = "10.0.19045.2006" // Tycoon2FA / Kali365 per Elastic's rule
)

// scriptedAgents are user-agent prefixes of HTTP libraries and tools rather
// than of a device's registration client: python-requests (roadtx before
// 2024-06 and its token requests, facts §8), axios (kits, facts §8), and
// other common libraries with the same meaning (inference: no record shows
// them at DRS).
var scriptedAgents = []string{"python-requests/", "axios/", "node-fetch/", "go-http-client/", "curl/", "okhttp/", "python-urllib/", "aiohttp/", "httpx/", "kali365-live/", "powershell/"}

// Fingerprints returns the named signs of a tool-made registration, sorted:
//
//   - roadtools-default-os-build: OS version 10.0.19041.928, roadtx's
//     default (ROADtools deviceauth.py:405-418; Elastic rule "Entra ID Device
//     Registration with ROADtools Default OS Build").
//   - phishing-kit-default-os-build: OS version 10.0.19045.2006, the
//     Tycoon2FA/Kali365 default (Elastic rule "Entra ID Device Registration
//     with Phishing Kit Default OS Build").
//   - desktop-random-name: DESKTOP- and 6 or 8 characters from A-Z and 0-9:
//     roadtx draws 8 (deviceauth.py:396), the kits 6 (Elastic, facts §8).
//     Windows setup's own names have 7 (inference from the real renamed
//     device DESKTOP-3OVO59V, facts §3d), so 7 is not flagged.
//   - user-agent-os-mismatch: the registration client's user agent does not
//     fit the claimed OS: Dsreg (the Windows client) for another OS, a Dsreg
//     build that differs from the claimed OS version (a spoofed string,
//     facts §8), or DeviceRegistrationClient/Dalvik for Windows.
//   - scripted-client: the registration came from an HTTP library
//     (python-requests, axios and the like; facts §8).
func (r *Registration) Fingerprints() []string {
	var out []string
	ver := r.Field(RegOperatingSystemVersion)
	switch ver {
	case RoadtoolsOSBuild:
		out = append(out, FingerprintRoadtoolsOSBuild)
	case KitOSBuild:
		out = append(out, FingerprintKitOSBuild)
	}
	if IsRandomDesktopName(r.Field(RegDisplayName)) {
		out = append(out, FingerprintRandomName)
	}
	ua := r.Field(RegUserAgent)
	if isScripted(ua) {
		out = append(out, FingerprintScriptedClient)
	} else if uaMismatch(ua, r.Field(RegOperatingSystem), ver) {
		out = append(out, FingerprintUAMismatch)
	}
	slices.Sort(out)
	return out
}

// IsRandomDesktopName reports whether name is DESKTOP- followed by 6 or 8
// characters from A-Z and 0-9.
func IsRandomDesktopName(name string) bool {
	rest, ok := strings.CutPrefix(name, "DESKTOP-")
	if !ok || len(rest) != 6 && len(rest) != 8 {
		return false
	}
	for i := 0; i < len(rest); i++ {
		if c := rest[i]; !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func isScripted(ua string) bool {
	l := strings.ToLower(ua)
	for _, p := range scriptedAgents {
		if strings.HasPrefix(l, p) {
			return true
		}
	}
	return false
}

// uaMismatch: the registration clients per platform are Dsreg/* on Windows,
// DeviceRegistrationClient on macOS and iOS, Dalvik/* on Android (Elastic's
// rule "Register Device with Unusual User Agent" excludes exactly these;
// facts §3a). An empty or unknown user agent, or the service's own, says
// nothing.
func uaMismatch(ua, osName, osVersion string) bool {
	if ua == "" || osName == "" || IsServiceUserAgent(ua) {
		return false
	}
	windows := strings.HasPrefix(strings.ToLower(osName), "windows")
	if rest, ok := strings.CutPrefix(ua, "Dsreg/"); ok {
		if !windows {
			return true
		}
		// Dsreg/10.0 (Windows 10.0.19045.2006): the build it claims.
		if i := strings.Index(rest, "(Windows "); i >= 0 && osVersion != "" {
			build := rest[i+len("(Windows "):]
			if j := strings.IndexByte(build, ')'); j >= 0 {
				build = build[:j]
			}
			return strings.TrimSpace(build) != osVersion
		}
		return false
	}
	if windows && (ua == "DeviceRegistrationClient" || strings.HasPrefix(ua, "Dalvik/")) {
		return true
	}
	return false
}
