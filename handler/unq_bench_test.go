package handler

import (
	"testing"
	"time"

	"encoding/json"
	"github.com/drswatch/drswatch/gen"
)

func BenchmarkDecodeEnvelope(b *testing.B) {
	g := gen.New(gen.Config{Seed: 1, Bodies: 100})
	var bodies [][]byte
	for {
		x, ok := g.Next()
		if !ok {
			break
		}
		bodies = append(bodies, x)
	}
	ss := make([]string, len(bodies))
	for i, x := range bodies {
		ss[i] = string(x)
	}
	arr, _ := json.Marshal(ss)
	env, _ := json.Marshal(map[string]any{"Data": map[string]any{"events": string(arr)}, "Metadata": map[string]any{"sys": map[string]any{"UtcNow": time.Now()}}})
	b.SetBytes(int64(len(env)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var bufs buffers
		inv, err := parseInvocation(env, &bufs)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := decodeEvents(inv.Data["events"], &bufs); err != nil {
			b.Fatal(err)
		}
		bufs.release()
	}
}
