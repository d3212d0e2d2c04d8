package pipeline_test

import (
	"context"
	"testing"

	"github.com/drswatch/drswatch/gen"
	"github.com/drswatch/drswatch/pipeline"
	"github.com/drswatch/drswatch/store/memstore"
)

// BenchmarkProcess runs batches of 100 generated events (0.1% matching)
// through the pipeline with the memory store: what replay does per batch.
func BenchmarkProcess(b *testing.B) {
	for _, full := range []bool{false, true} {
		name := "fast"
		if full {
			name = "fulldecode"
		}
		b.Run(name, func(b *testing.B) {
			g := gen.New(gen.Config{Seed: 1, Bodies: 200})
			var evs []pipeline.Event
			var size int64
			for {
				body, ok := g.Next()
				if !ok {
					break
				}
				evs = append(evs, pipeline.Event{Body: body})
				size += int64(len(body))
			}
			if full {
				evs, size = evs[:20], 0
				for _, e := range evs {
					size += int64(len(e.Body))
				}
			}
			newProcessor := pipeline.New
			if full {
				newProcessor = pipeline.NewFullDecode
			}
			p := newProcessor(memstore.New(), &rowSink{}, pipeline.Options{Now: fixedNow})
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				for i := 0; i < len(evs); i += 100 {
					if _, err := p.Process(context.Background(), pipeline.Batch{Events: evs[i:min(i+100, len(evs))]}); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
