package detect

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// prtTraffic returns n sign-in records of which share carry a primary
// refresh token of the tenant's own devices (none watched), padded to the
// size of real records.
func prtTraffic(b *testing.B, n int, share float64) [][]byte {
	b.Helper()
	var out [][]byte
	for i := range n {
		rec := prtSignIn(fmt.Sprint("si-", i), fmt.Sprintf("%08x-0c2a-4f7e-9b1d-6a5c4b3a2910", i), "2026-03-02T10:20:00.1234567Z")
		if float64(i%100) >= share*100 {
			rec = with(rec, "properties.incomingTokenType", "none")
			rec = with(rec, "properties.deviceDetail.deviceId", "")
		}
		rec = with(rec, "properties.authenticationDetails", strings.Repeat("x", 1500))
		out = append(out, mustJSON(b, rec))
	}
	return out
}

// BenchmarkDeviceFilter compares the device filter with decoding every
// record with encoding/json, on traffic where 30% of sign-ins carry a PRT.
func BenchmarkDeviceFilter(b *testing.B) {
	recs := prtTraffic(b, 1000, 0.3)
	var size int64
	for _, r := range recs {
		size += int64(len(r))
	}
	watched := []string{roadtxDevice, "11111111-2222-4333-8444-555555555555"}
	b.Run("filter", func(b *testing.B) {
		f := NewDeviceFilter(watched)
		b.SetBytes(size)
		for b.Loop() {
			for _, r := range recs {
				if f.Classify(r) != DeviceNone {
					b.Fatal("a record of an unwatched device passed")
				}
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			for _, r := range recs {
				var v map[string]any
				if err := json.Unmarshal(r, &v); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
