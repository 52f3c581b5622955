package apiretry

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestTransient(t *testing.T) {
	gr := schema.GroupResource{Resource: "deployments"}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"a 500 is retried", apierrors.NewInternalError(errors.New("boom")), true},
		{"a 503 is retried", apierrors.NewServiceUnavailable("down"), true},
		{"a 429 is retried", apierrors.NewTooManyRequests("slow down", 1), true},
		{"a server timeout is retried", apierrors.NewServerTimeout(gr, "patch", 1), true},
		{"a refused connection is retried", &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, true},
		{"a reset connection is retried", fmt.Errorf("patch: %w", syscall.ECONNRESET), true},
		{"a conflict is not retried", apierrors.NewConflict(gr, "web", errors.New("changed")), false},
		{"not found is not retried", apierrors.NewNotFound(gr, "web"), false},
		{"forbidden is not retried", apierrors.NewForbidden(gr, "web", errors.New("no")), false},
		{"an invalid request is not retried", apierrors.NewBadRequest("bad"), false},
		{"cancellation is not retried", context.Canceled, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Transient(tt.err); got != tt.want {
				t.Fatalf("Transient(%v) = %v", tt.err, got)
			}
		})
	}
}
