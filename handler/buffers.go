package handler

import "sync"

// Invocations for big batches need a few buffers the size of the request
// (the body, the unescaped events, the unescaped bodies). Reusing them
// between invocations spares allocating and zeroing tens of megabytes per
// batch, and the garbage collector the work of reclaiming them.

// maxPooled is the largest buffer kept for reuse.
const maxPooled = 128 << 20

var bufPool sync.Pool // of *[]byte

// getBuf returns an empty buffer with room for n bytes.
func getBuf(n int) []byte {
	if p, ok := bufPool.Get().(*[]byte); ok && cap(*p) >= n {
		return (*p)[:0]
	} else if ok {
		bufPool.Put(p)
	}
	return make([]byte, 0, n)
}

// putBuf gives a buffer back. Nothing may use it afterwards.
func putBuf(b []byte) {
	if cap(b) == 0 || cap(b) > maxPooled {
		return
	}
	bufPool.Put(&b)
}

// buffers collects the pooled buffers of one invocation.
type buffers struct{ held [][]byte }

func (bs *buffers) get(n int) []byte {
	b := getBuf(n)
	bs.held = append(bs.held, b)
	return b
}

// release returns every buffer; the invocation's bodies must not be used
// after it.
func (bs *buffers) release() {
	for _, b := range bs.held {
		putBuf(b)
	}
	bs.held = nil
}
