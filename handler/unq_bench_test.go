package handler

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/drswatch/drswatch/gen"
	"github.com/drswatch/drswatch/internal/jsonbytes"
)

// benchEnvelope is an invocation of 100 generated event bodies, with
// dataType string: about 17 MB.
func benchEnvelope() []byte {
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
	return env
}

func BenchmarkDecodeEnvelope(b *testing.B) {
	env := benchEnvelope()
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

// BenchmarkDecodeEnvelopeTwoPass decodes the events binding of the same
// envelope the way bindings splitEvents gives up on are: unescaped, then
// each element unescaped.
func BenchmarkDecodeEnvelopeTwoPass(b *testing.B) {
	env := benchEnvelope()
	i := len(`{"Data":{"events":`)
	b.SetBytes(int64(len(env)))
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		var bufs buffers
		dec, _, err := jsonbytes.AppendString(bufs.get(len(env)-i), env, i)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := decodeEvents(binding{decoded: dec, str: true}, &bufs); err != nil {
			b.Fatal(err)
		}
		bufs.release()
	}
}
