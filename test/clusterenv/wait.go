package clusterenv

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/rotor-project/rotor/test/waitfor"
)

// Resources to name in WaitFor.
var (
	Pods            = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	Secrets         = schema.GroupVersionResource{Version: "v1", Resource: "secrets"}
	ConfigMaps      = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	ServiceAccounts = schema.GroupVersionResource{Version: "v1", Resource: "serviceaccounts"}
	Events          = schema.GroupVersionResource{Version: "v1", Resource: "events"}
	Deployments     = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	ReplicaSets     = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "replicasets"}
	StatefulSets    = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "statefulsets"}
	DaemonSets      = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "daemonsets"}
	Jobs            = schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "jobs"}
	CronJobs        = schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "cronjobs"}
	Leases          = schema.GroupVersionResource{Group: "coordination.k8s.io", Version: "v1", Resource: "leases"}
)

// WaitFor evaluates cond now and again after every change to the given resources in
// namespace ns ("" for all namespaces), until it holds. It watches; it never sleeps
// between evaluations and has no wall-clock bound of its own: it gives up only when the
// test's context ends (waitfor.Context), failing the test with what it waited for. An
// error from cond fails the test at once.
func (c *Cluster) WaitFor(t testing.TB, ns, what string, cond func(ctx context.Context) (bool, error), resources ...schema.GroupVersionResource) {
	t.Helper()
	if err := Until(waitfor.Context(t), c.RESTConfig(t), ns, cond, resources...); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

// Until is WaitFor for code without a test (benchmark programs): it returns ctx's
// error when ctx ends first.
func Until(ctx context.Context, cfg *rest.Config, ns string, cond func(ctx context.Context) (bool, error), resources ...schema.GroupVersionResource) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	changed := make(chan struct{}, 1)
	notify := func() {
		select {
		case changed <- struct{}{}:
		default: // a wake-up is pending already
		}
	}
	if len(resources) > 0 {
		dyn, err := dynamic.NewForConfig(cfg)
		if err != nil {
			return err
		}
		for _, gvr := range resources {
			go watchChanges(ctx, dyn.Resource(gvr).Namespace(ns), notify)
		}
	}
	for {
		ok, err := cond(ctx)
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}

// watchChanges calls notify at every event of a watch, opening it again when the
// server ends it. A watch opened without a resourceVersion first reports every existing
// object, so no change between an evaluation and the watch's start is missed.
func watchChanges(ctx context.Context, r dynamic.ResourceInterface, notify func()) {
	retry := 50 * time.Millisecond
	for ctx.Err() == nil {
		w, err := r.Watch(ctx, metav1.ListOptions{})
		if err != nil {
			notify() // let the condition speak for itself
			select {
			case <-ctx.Done():
				return
			case <-time.After(retry):
			}
			retry = min(2*retry, time.Second)
			continue
		}
		for range w.ResultChan() {
			notify()
		}
		w.Stop()
	}
}
