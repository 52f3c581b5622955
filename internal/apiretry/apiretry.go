// Package apiretry retries calls to the Kubernetes API that failed for a reason that
// says nothing about the request itself: a 5xx answer, 429 Too Many Requests, a
// timeout, a refused or reset connection. It retries with capped exponential backoff
// until the call succeeds, fails for another reason, or the context (the rotation's
// deadline) ends. Callers make their operations idempotent (re-read and re-plan, merge
// patches of absolute values, create tolerating AlreadyExists), so a request that was
// applied although its answer was lost is harmless when repeated.
package apiretry

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/utils/clock"
)

// Transient reports whether err is worth retrying.
func Transient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		code := status.Status().Code
		return code >= 500 || code == 429 || apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) || apierrors.IsTooManyRequests(err)
	}
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var nerr net.Error
	if errors.As(err, &nerr) {
		return true
	}
	msg := err.Error()
	for _, s := range []string{"connection refused", "connection reset", "http2: server sent GOAWAY", "http2: client connection lost", "TLS handshake timeout", "i/o timeout", "EOF"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// Policy is a backoff.
type Policy struct {
	Clock clock.Clock
	// Initial and Max bound the wait between attempts (100 ms and 5 s when zero).
	Initial, Max time.Duration
	// OnRetry, if set, is told of each transient failure before the wait.
	OnRetry func(err error, attempt int, wait time.Duration)
}

// Do calls op until it succeeds or fails for a non-transient reason, or ctx ends (then
// the last error is returned, wrapped with the context's).
func (p Policy) Do(ctx context.Context, op func(ctx context.Context) error) error {
	clk := p.Clock
	if clk == nil {
		clk = clock.RealClock{}
	}
	wait, max := p.Initial, p.Max
	if wait <= 0 {
		wait = 100 * time.Millisecond
	}
	if max <= 0 {
		max = 5 * time.Second
	}
	for attempt := 1; ; attempt++ {
		err := op(ctx)
		if err == nil || !Transient(err) {
			return err
		}
		if ctx.Err() != nil {
			return errors.Join(err, context.Cause(ctx))
		}
		if p.OnRetry != nil {
			p.OnRetry(err, attempt, wait)
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, context.Cause(ctx))
		case <-clk.After(wait):
		}
		if wait *= 2; wait > max {
			wait = max
		}
	}
}
