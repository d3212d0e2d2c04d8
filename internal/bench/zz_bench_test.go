package bench

import (
	"encoding/json"
	"testing"

	"github.com/drswatch/drswatch/detect"
	"github.com/drswatch/drswatch/gen"
)

func BenchmarkZZDecodeFilter(b *testing.B) {
	rule := detect.DefaultRule()
	pf := rule.Prefilter()
	for _, tc := range []struct {
		name string
		gcfg gen.Config
	}{{"match0.1pct", gen.Config{Seed: 1}}, {"nomatch", gen.Config{Seed: 1, MatchShare: -1, Attacks: -1}}} {
		bs, size, _ := bodies(tc.gcfg, 64<<20)
		b.Run("fast/"+tc.name, func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				for _, body := range bs {
					detect.ScanBody(body, pf, func(raw []byte) {
						if rec, skip := detect.DecodeRecord(raw); skip == detect.SkipNone {
							rule.Select(rec)
						}
					})
				}
			}
		})
		b.Run("jsonstructs/"+tc.name, func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				for _, body := range bs {
					var v Body
					_ = json.Unmarshal(body, &v)
				}
			}
		})
	}
}

// BenchmarkZZDecodeCandidates decodes the records the prefilter passes.
func BenchmarkZZDecodeCandidates(b *testing.B) {
	pf := detect.DefaultRule().Prefilter()
	bs, _, _ := bodies(gen.Config{Seed: 1, MatchShare: 0.05}, 16<<20)
	var cands [][]byte
	var size int64
	for _, body := range bs {
		detect.ScanBody(body, pf, func(raw []byte) { cands = append(cands, raw); size += int64(len(raw)) })
	}
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		for _, c := range cands {
			detect.DecodeRecord(c)
		}
	}
}
