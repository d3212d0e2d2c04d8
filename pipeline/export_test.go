package pipeline

import "github.com/drswatch/drswatch/detect"

// NewFullDecode returns a Processor without the byte prefilter: every
// record is decoded and put to the rule. The tests hold the prefilter to it:
// it may only rule out records the rule would not select. (The decoder and
// the body scanner are held to encoding/json in detect's tests.)
func NewFullDecode(st Store, sink Sink, o Options) *Processor {
	p := New(st, sink, o)
	p.pf = detect.Prefilter{}
	return p
}
