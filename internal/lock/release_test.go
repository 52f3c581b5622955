package lock

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"runtime"
	"testing"

	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	clocktesting "k8s.io/utils/clock/testing"
)

// leaseServer answers a Lease's requests in memory, as an API server would, except
// that a renewal (PUT) is held until its request is cancelled or times out: held is
// told when one is, and renewals how it ended.
type leaseServer struct {
	held     chan struct{}
	renewals chan error
}

func (s *leaseServer) RoundTrip(req *http.Request) (*http.Response, error) {
	reply := func(code int, body string) (*http.Response, error) {
		return &http.Response{StatusCode: code, Header: http.Header{"Content-Type": {"application/json"}},
			Body: io.NopCloser(bytes.NewBufferString(body)), Request: req}, nil
	}
	switch req.Method {
	case http.MethodGet:
		return reply(http.StatusNotFound, `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}`)
	case http.MethodPost:
		var lease coordinationv1.Lease
		if err := json.NewDecoder(req.Body).Decode(&lease); err != nil {
			return nil, err
		}
		lease.UID, lease.ResourceVersion = "uid-1", "1"
		body, err := json.Marshal(&lease)
		if err != nil {
			return nil, err
		}
		return reply(http.StatusCreated, string(body))
	case http.MethodPut:
		s.held <- struct{}{}
		<-req.Context().Done()
		s.renewals <- req.Context().Err()
		return nil, req.Context().Err()
	default: // DELETE
		return reply(http.StatusOK, `{"kind":"Status","apiVersion":"v1","status":"Success","code":200}`)
	}
}

func TestReleaseEndsARenewalInFlight(t *testing.T) {
	srv := &leaseServer{held: make(chan struct{}, 1), renewals: make(chan error, 1)}
	c, err := kubernetes.NewForConfig(&rest.Config{Host: "http://lease-server.invalid",
		ContentConfig: rest.ContentConfig{ContentType: "application/json", AcceptContentTypes: "application/json"},
		WrapTransport: func(http.RoundTripper) http.RoundTripper { return srv }})
	if err != nil {
		t.Fatal(err)
	}
	clk := clocktesting.NewFakeClock(t0)
	// The longest Lease: a renewal may take minutes before the lock is given up.
	l := &Locker{Client: c, Clock: clk, Holder: "me", Duration: MaxDuration}
	lk, err := l.Acquire(context.Background(), "ns", "app")
	if err != nil {
		t.Fatal(err)
	}
	for !clk.HasWaiters() {
		runtime.Gosched()
	}
	clk.Step(renewInterval(MaxDuration)) // a renewal starts, and the server holds it
	<-srv.held
	released := make(chan error, 1)
	go func() { released <- lk.Release(context.Background()) }()
	// The renewal ends because the run released the lock, not because it timed out.
	if err := <-srv.renewals; !errors.Is(err, context.Canceled) {
		t.Fatalf("the renewal in flight ended with %v, want it cancelled by Release", err)
	}
	if err := <-released; err != nil {
		t.Fatalf("Release: %v", err)
	}
	if err := lk.Err(); err != nil {
		t.Fatalf("released, yet lost: %v", err)
	}
}
