package testenv

import (
	"context"
	"errors"
	"io"
	"sync"
	"testing"
)

// DeadLetters is a hand-written dead-letter store in memory for handler
// tests (handler.DeadLetters); Down makes every Put fail.
type DeadLetters struct {
	mu    sync.Mutex
	down  bool
	items map[string][]byte
}

// Put keeps body under name, or fails while the store is down.
func (d *DeadLetters) Put(_ context.Context, name string, body io.Reader) error {
	b, err := io.ReadAll(body)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.down {
		return errors.New("blob service unavailable")
	}
	if d.items == nil {
		d.items = map[string][]byte{}
	}
	d.items[name] = b
	return nil
}

// SetDown makes Put fail (true) or work again.
func (d *DeadLetters) SetDown(down bool) { d.mu.Lock(); d.down = down; d.mu.Unlock() }

// Only returns the one dead letter's name and body, failing the test unless
// there is exactly one.
func (d *DeadLetters) Only(t testing.TB) (string, []byte) {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.items) != 1 {
		t.Fatalf("testenv: %d dead letters, want one", len(d.items))
	}
	for k, v := range d.items {
		return k, v
	}
	return "", nil
}
