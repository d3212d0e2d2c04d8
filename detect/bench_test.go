package detect_test

import (
	"encoding/json"
	"testing"

	"github.com/drswatch/drswatch/detect"
	"github.com/drswatch/drswatch/gen"
)

// benchBodies returns generated Event Hub bodies (fixed seed) and their size.
func benchBodies(b *testing.B, matchShare float64) ([][]byte, int64) {
	b.Helper()
	cfg := gen.Config{Seed: 1, Bodies: 400, MatchShare: matchShare}
	if matchShare < 0 {
		cfg.Attacks = -1
	}
	g := gen.New(cfg)
	var out [][]byte
	var n int64
	for {
		body, ok := g.Next()
		if !ok {
			return out, n
		}
		out = append(out, body)
		n += int64(len(body))
	}
}

// BenchmarkScanBody measures decode-and-filter: the byte prefilter, the
// structural scan and, for candidates only, the full decode and the rule.
func BenchmarkScanBody(b *testing.B) {
	for _, tc := range []struct {
		name  string
		share float64
	}{{"match0.1pct", 0}, {"nomatch", -1}} {
		b.Run(tc.name, func(b *testing.B) {
			bodies, size := benchBodies(b, tc.share)
			rule := detect.DefaultRule()
			pf := rule.Prefilter()
			b.SetBytes(size)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				for _, body := range bodies {
					detect.ScanBody(body, pf, func(raw []byte) {
						if rec, skip := detect.DecodeRecord(raw); skip == detect.SkipNone {
							rule.Select(rec)
						}
					})
				}
			}
		})
	}
}

// BenchmarkSplitBodyDecode is the reference the tests hold ScanBody and
// DecodeRecord to: every record split and decoded with encoding/json
// (detect.ReferenceSplitBody, detect.ReferenceDecodeRecord), the baseline
// for BenchmarkScanBody.
func BenchmarkSplitBodyDecode(b *testing.B) {
	bodies, size := benchBodies(b, 0)
	bodies = bodies[:40]
	size = 0
	for _, body := range bodies {
		size += int64(len(body))
	}
	rule := detect.DefaultRule()
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		for _, body := range bodies {
			detect.ReferenceSplitBody(body, func(raw []byte) {
				if rec, skip := detect.ReferenceDecodeRecord(raw); skip == detect.SkipNone {
					rule.Select(rec)
				}
			})
		}
	}
}

// BenchmarkJSONValid is the cost of validating a body, paid by bodies that
// hold a candidate record.
func BenchmarkJSONValid(b *testing.B) {
	bodies, size := benchBodies(b, 0)
	b.SetBytes(size)
	for b.Loop() {
		for _, body := range bodies {
			json.Valid(body)
		}
	}
}
