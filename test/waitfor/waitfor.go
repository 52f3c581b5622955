// Package waitfor lets tests wait on conditions instead of sleeping, with no
// wall-clock bound of their own: every wait ends when its condition holds, or when the
// test's context ends, which is a margin before the test binary's deadline
// (`go test -timeout`), so that a busy machine never trips a wait that a quiet one
// passes, and a test that really hangs still fails with what it waited for.
//
// Conditions on Kubernetes objects are waited on by watch (see clusterenv.WaitFor);
// this package covers what has no watch: output a running command writes (Buffer) and
// HTTP endpoints such as Prometheus (Poll).
package waitfor

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"
)

// margin is how long before the test binary's deadline waits give up, leaving time to
// report what was waited for and to run cleanups.
const margin = 30 * time.Second

// Context is the test's context (cancelled when the test ends), ending a margin before
// the test binary's deadline.
func Context(t testing.TB) context.Context {
	ctx := t.Context()
	if d, ok := deadline(t); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, d.Add(-margin))
		t.Cleanup(cancel)
	}
	return ctx
}

func deadline(t testing.TB) (time.Time, bool) {
	if dt, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		return dt.Deadline()
	}
	return time.Time{}, false
}

// Poll checks cond until it holds, asking again less often as time goes by (50 ms at
// first, at most every second): for conditions that nothing can watch, such as an HTTP
// endpoint. An error from cond fails the test at once.
func Poll(t testing.TB, what string, cond func(ctx context.Context) (bool, error)) {
	t.Helper()
	if err := PollContext(Context(t), cond); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

// PollContext is Poll for code that has no test at hand: it returns ctx's error when
// ctx ends first.
func PollContext(ctx context.Context, cond func(ctx context.Context) (bool, error)) error {
	interval := 50 * time.Millisecond
	for {
		ok, err := cond(ctx)
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-time.After(interval):
		}
		interval = min(2*interval, time.Second)
	}
}

// Buffer collects what a running command writes; a test can wait until the text
// satisfies a condition, woken by each write (no polling).
type Buffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	changed chan struct{} // closed and replaced at every write
}

func (b *Buffer) init() {
	if b.changed == nil {
		b.changed = make(chan struct{})
	}
}

// Write appends p and wakes the waiters.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.init()
	n, err := b.b.Write(p)
	close(b.changed)
	b.changed = make(chan struct{})
	return n, err
}

// String is everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Wait blocks until cond holds for the text written so far, or the test's context
// ends (the test then fails, showing the text).
func (b *Buffer) Wait(t testing.TB, what string, cond func(text string) bool) {
	t.Helper()
	if err := b.WaitContext(Context(t), cond); err != nil {
		t.Fatalf("waiting for %s: %v; the output so far:\n%s", what, err, b.String())
	}
}

// WaitContext is Wait with a context of the caller's, for waits that must also end
// on something else (a process that exits: cancel the context then).
func (b *Buffer) WaitContext(ctx context.Context, cond func(text string) bool) error {
	for {
		b.mu.Lock()
		b.init()
		text, changed := b.b.String(), b.changed
		b.mu.Unlock()
		if cond(text) {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}
