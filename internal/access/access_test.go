package access

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// reviewer answers reviews from a table of allowed "verb resource namespace" triples
// and counts them.
func reviewer(allowed ...string) (*fake.Clientset, *int32) {
	c := fake.NewClientset()
	var n int32
	c.PrependReactor("create", "selfsubjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		atomic.AddInt32(&n, 1)
		r := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SelfSubjectAccessReview)
		ra := r.Spec.ResourceAttributes
		what := ra.Resource
		if ra.Group != "" {
			what += "." + ra.Group
		}
		for _, s := range allowed {
			if s == ra.Verb+" "+what+" "+ra.Namespace {
				r.Status.Allowed = true
			}
		}
		return true, r, nil
	})
	return c, &n
}

func TestCheck(t *testing.T) {
	patchAPI := Want{Verb: "patch", Group: "apps", Resource: "deployments", Namespace: "pay", Why: "re-point Deployment/api"}
	patchWeb := Want{Verb: "patch", Group: "apps", Resource: "deployments", Namespace: "pay", Why: "re-point Deployment/web"}
	lease := Want{Verb: "create", Group: "coordination.k8s.io", Resource: "leases", Namespace: "pay"}
	tests := []struct {
		name        string
		allowed     []string
		wants       []Want
		wantErr     []string
		wantReviews int32
	}{
		{"everything allowed is no problem", []string{"patch deployments.apps pay", "create leases.coordination.k8s.io pay"}, []Want{patchAPI, lease}, nil, 2},
		{"one missing verb is one line naming verb, resource and namespace", []string{"create leases.coordination.k8s.io pay"}, []Want{patchAPI, lease},
			[]string{`you may not patch deployments.apps in namespace "pay" (needed to re-point Deployment/api); nothing was changed`}, 2},
		{"the same permission for two objects is asked once and names both", nil, []Want{patchAPI, patchWeb},
			[]string{"re-point Deployment/api, re-point Deployment/web"}, 1},
		{"every missing permission is listed", nil, []Want{patchAPI, lease},
			[]string{"missing permissions", "create leases.coordination.k8s.io", "patch deployments.apps"}, 2},
		{"a cluster-wide permission says so", nil, []Want{{Verb: "list", Resource: "namespaces"}}, []string{"list namespaces (cluster-wide)"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, n := reviewer(tt.allowed...)
			err := Check(context.Background(), c.AuthorizationV1(), tt.wants)
			if *n != tt.wantReviews {
				t.Errorf("%d reviews, want %d", *n, tt.wantReviews)
			}
			if tt.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var p *Problem
			if !errors.As(err, &p) {
				t.Fatalf("error %v is not a *Problem", err)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestCheckWhenTheServerCannotAnswer(t *testing.T) {
	c := fake.NewClientset()
	c.PrependReactor("create", "selfsubjectaccessreviews", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New("connection refused")
	})
	err := Check(context.Background(), c.AuthorizationV1(), []Want{{Verb: "get", Resource: "pods", Namespace: "a"}})
	if err == nil || !strings.Contains(err.Error(), "cannot check your permissions") {
		t.Fatalf("error = %v", err)
	}
	var p *Problem
	if errors.As(err, &p) {
		t.Fatal("an unanswered review is not a missing permission")
	}
}
