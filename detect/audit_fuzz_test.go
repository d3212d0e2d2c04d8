package detect

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

// FuzzDecodeDeviceAudit: no input panics the audit and device sign-in
// decoders or the device filter, and what they keep is bounded and clean.
func FuzzDecodeDeviceAudit(f *testing.F) {
	for _, tc := range loadAuditCases(f) {
		f.Add(compact(f, tc.Record))
	}
	b, _ := json.Marshal(prtSignIn("si-1", roadtxDevice, "2026-03-02T10:20:00Z"))
	f.Add(b)
	filter := NewDeviceFilter([]string{roadtxDevice})
	f.Fuzz(func(t *testing.T, raw []byte) {
		filter.Classify(raw)
		if a, skip := DecodeDeviceAudit(raw); skip == AuditUsed {
			if a.ObjectID == "" && a.DeviceID == "" {
				t.Fatalf("used without a device id: %+v", a)
			}
			for _, v := range []string{a.DisplayName, a.UserAgent, a.Address, a.OperatingSystem, a.OperatingSystemVersion, a.TrustType} {
				if len(v) > MaxChainValueBytes || !utf8.ValidString(v) {
					t.Fatalf("value not bounded or not clean: %q", v)
				}
			}
			var r Registration
			r.Merge(a)
			r.Fingerprints()
		}
		if s, skip := DecodeDeviceSignIn(raw); skip == SkipNone && lowerGUID(s.DeviceID) != s.DeviceID {
			t.Fatalf("device id not a lower-case GUID: %q", s.DeviceID)
		}
	})
}
