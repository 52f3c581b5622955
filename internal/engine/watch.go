package engine

import (
	"context"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"

	"github.com/rotor-project/rotor/internal/rotation"
)

// Watcher tells a driver when workloads or pods in a namespace change, by watch: the
// driver steps again then instead of polling. A watch that ends is opened again (after
// a short backoff when it fails at once, e.g. while the API server is down).
func Watcher(c kubernetes.Interface, clk clock.Clock) rotation.Changes {
	return func(ctx context.Context, namespace string) (<-chan struct{}, func(), error) {
		ctx, cancel := context.WithCancel(ctx)
		ch := make(chan struct{}, 1)
		notify := func() {
			select {
			case ch <- struct{}{}:
			default:
			}
		}
		apps, core := c.AppsV1(), c.CoreV1()
		sources := []func(context.Context, metav1.ListOptions) (watch.Interface, error){
			func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
				return apps.Deployments(namespace).Watch(ctx, o)
			},
			func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
				return apps.StatefulSets(namespace).Watch(ctx, o)
			},
			func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
				return apps.DaemonSets(namespace).Watch(ctx, o)
			},
			func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
				return core.Pods(namespace).Watch(ctx, o)
			},
		}
		for _, open := range sources {
			go follow(ctx, clk, open, notify)
		}
		return ch, cancel, nil
	}
}

func follow(ctx context.Context, clk clock.Clock, open func(context.Context, metav1.ListOptions) (watch.Interface, error), notify func()) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		w, err := open(ctx, metav1.ListOptions{AllowWatchBookmarks: false})
		if err == nil {
			for range w.ResultChan() {
				notify()
			}
			w.Stop()
			backoff = 100 * time.Millisecond
			notify() // something may have changed while no watch was open
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-clk.After(backoff):
		}
		if backoff *= 2; backoff > 5*time.Second {
			backoff = 5 * time.Second
		}
	}
}
