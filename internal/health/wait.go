package health

import (
	"context"
	"errors"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"

	"github.com/rotor-project/rotor/internal/secretref"
)

// Workload names an object to wait for.
type Workload struct {
	Kind, Namespace, Name string
}

func (w Workload) String() string { return w.Kind + "/" + w.Name }

// FailedError is a rollout that cannot become healthy.
type FailedError struct {
	Workload Workload
	Reason   string
}

func (e *FailedError) Error() string { return fmt.Sprintf("%s failed: %s", e.Workload, e.Reason) }

// Waiter waits for workloads to become healthy, by watch.
type Waiter struct {
	Client kubernetes.Interface
	// Progress, if set, receives a line whenever a workload's state message changes.
	Progress func(w Workload, message string)
}

// Kinds that roll out pods; other consumers (CronJob, ServiceAccount, Ingress, Job)
// take a new reference at once or at their next run.
func rollsOut(kind string) bool {
	switch kind {
	case "Deployment", "StatefulSet", "DaemonSet":
		return true
	}
	return false
}

// Wait blocks until w is healthy, fails, or ctx ends. Pods selected by the workload
// that name version and are failing fail the wait at once, without waiting for a
// progress deadline.
func (wt *Waiter) Wait(ctx context.Context, w Workload, version string) error {
	if !rollsOut(w.Kind) {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	selector, err := wt.selector(ctx, w)
	if err != nil {
		return err
	}
	podErr := make(chan error, 1)
	go func() { podErr <- wt.watchPods(ctx, w, selector, version) }()
	objErr := make(chan error, 1)
	go func() { objErr <- wt.watchObject(ctx, w) }()
	select {
	case err := <-objErr:
		return err
	case err := <-podErr:
		if err == nil || errors.Is(err, context.Canceled) {
			return <-objErr
		}
		return err
	}
}

func (wt *Waiter) selector(ctx context.Context, w Workload) (labels.Selector, error) {
	var sel *metav1.LabelSelector
	switch w.Kind {
	case "Deployment":
		d, err := wt.Client.AppsV1().Deployments(w.Namespace).Get(ctx, w.Name, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		sel = d.Spec.Selector
	case "StatefulSet":
		s, err := wt.Client.AppsV1().StatefulSets(w.Namespace).Get(ctx, w.Name, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		sel = s.Spec.Selector
	case "DaemonSet":
		d, err := wt.Client.AppsV1().DaemonSets(w.Namespace).Get(ctx, w.Name, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		sel = d.Spec.Selector
	}
	return metav1.LabelSelectorAsSelector(sel)
}

// watchObject waits until the workload is judged done or failed.
func (wt *Waiter) watchObject(ctx context.Context, w Workload) error {
	byName := fields.OneTermEqualSelector("metadata.name", w.Name).String()
	var lw cache.ListerWatcher
	var obj runtime.Object
	apps := wt.Client.AppsV1()
	switch w.Kind {
	case "Deployment":
		obj = &appsv1.Deployment{}
		lw = listWatch(byName,
			func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
				return apps.Deployments(w.Namespace).List(ctx, o)
			},
			func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
				return apps.Deployments(w.Namespace).Watch(ctx, o)
			})
	case "StatefulSet":
		obj = &appsv1.StatefulSet{}
		lw = listWatch(byName,
			func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
				return apps.StatefulSets(w.Namespace).List(ctx, o)
			},
			func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
				return apps.StatefulSets(w.Namespace).Watch(ctx, o)
			})
	case "DaemonSet":
		obj = &appsv1.DaemonSet{}
		lw = listWatch(byName,
			func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
				return apps.DaemonSets(w.Namespace).List(ctx, o)
			},
			func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
				return apps.DaemonSets(w.Namespace).Watch(ctx, o)
			})
	}
	last := ""
	var failed *FailedError
	_, err := watchtools.UntilWithSync(ctx, lw, obj, nil, func(ev watch.Event) (bool, error) {
		if ev.Type == watch.Deleted {
			return false, &FailedError{Workload: w, Reason: "deleted while rolling out"}
		}
		var st State
		switch o := ev.Object.(type) {
		case *appsv1.Deployment:
			st = Deployment(o)
		case *appsv1.StatefulSet:
			st = StatefulSet(o)
		case *appsv1.DaemonSet:
			st = DaemonSet(o)
		default:
			return false, nil
		}
		if st.Message != last && wt.Progress != nil {
			wt.Progress(w, st.Message)
		}
		last = st.Message
		if st.Failed {
			failed = &FailedError{Workload: w, Reason: st.Message}
			return false, failed
		}
		return st.Done, nil
	})
	if failed != nil {
		return failed
	}
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("%s: not healthy before the timeout (last state: %s): %w", w, last, ctx.Err())
	}
	return err
}

// watchPods returns a FailedError as soon as a pod that names version is failing; it
// returns nil when ctx ends.
func (wt *Waiter) watchPods(ctx context.Context, w Workload, selector labels.Selector, version string) error {
	pods := wt.Client.CoreV1().Pods(w.Namespace)
	lw := listWatch("",
		func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.LabelSelector = selector.String()
			return pods.List(ctx, o)
		},
		func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.LabelSelector = selector.String()
			return pods.Watch(ctx, o)
		})
	var failed *FailedError
	_, err := watchtools.UntilWithSync(ctx, lw, &corev1.Pod{}, nil, func(ev watch.Event) (bool, error) {
		p, ok := ev.Object.(*corev1.Pod)
		if !ok || ev.Type == watch.Deleted || p.DeletionTimestamp != nil || !PodNames(p, version) {
			return false, nil
		}
		if problem := PodProblem(p); problem != "" {
			failed = &FailedError{Workload: w, Reason: problem}
			return false, failed
		}
		return false, nil
	})
	if failed != nil {
		return failed
	}
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// PodNames reports whether the pod's spec names the Secret.
func PodNames(p *corev1.Pod, secret string) bool {
	found := false
	secretref.PodSpec("spec", &p.Spec, func(r secretref.Ref) bool {
		found = r.Name == secret
		return !found
	})
	return found
}

type listFunc func(context.Context, metav1.ListOptions) (runtime.Object, error)
type watchFunc func(context.Context, metav1.ListOptions) (watch.Interface, error)

func listWatch(fieldSelector string, list listFunc, w watchFunc) cache.ListerWatcher {
	return &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			if fieldSelector != "" {
				o.FieldSelector = fieldSelector
			}
			return list(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			if fieldSelector != "" {
				o.FieldSelector = fieldSelector
			}
			return w(ctx, o)
		},
	}
}
