package bench

import (
	"encoding/json"
	"testing"

	"github.com/drswatch/drswatch/gen"
)

// BenchmarkDecodeFilter runs the decode-and-filter rows of `make bench` as Go
// benchmarks on 16 MB of bodies each: fast is the measured work
// (decodeAndFilter), json the same-run encoding/json baseline. Compare the
// ratio, with GOMAXPROCS=1:
//
//	GOMAXPROCS=1 go test -run XXX -bench DecodeFilter ./internal/bench/
func BenchmarkDecodeFilter(b *testing.B) {
	fast := decodeAndFilter()
	for _, tc := range []struct {
		name string
		gcfg gen.Config
	}{
		{"match", gen.Config{Seed: 1}},
		{"nomatch", gen.Config{Seed: 1, MatchShare: -1, Attacks: -1}},
		{"prt30", gen.Config{Seed: 1, PRTShare: 0.3}},
		{"devops3", deviceStressConfig(1)},
	} {
		bs, size, _ := bodies(tc.gcfg, 16e6)
		b.Run(tc.name+"/fast", func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				fast(bs)
			}
		})
		b.Run(tc.name+"/json", func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				for _, x := range bs {
					var v Body
					if err := json.Unmarshal(x, &v); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
