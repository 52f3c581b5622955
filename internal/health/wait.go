package health

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"

	"github.com/rotor-project/rotor/internal/kinds"
	"github.com/rotor-project/rotor/internal/secretref"
)

// State is a judgement of a workload at one moment (the kinds registry's judges).
type State = kinds.State

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
	// Client watches pods.
	Client kubernetes.Interface
	// Dynamic reads and watches the workloads, of any registered kind.
	Dynamic dynamic.Interface
	// Progress, if set, receives a line whenever a workload's state message changes.
	Progress func(w Workload, message string)
}

// Wait blocks until w is healthy, fails, or ctx ends. Kinds that do not roll out pods
// (a CronJob, a ServiceAccount…: kinds.Kind.Rolls) return at once. Pods selected by
// the workload that name version and are failing fail the wait at once, without
// waiting for a progress deadline.
func (wt *Waiter) Wait(ctx context.Context, w Workload, version string) error {
	k := kinds.Lookup(w.Kind)
	if k == nil || !k.Rolls {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	res := wt.Dynamic.Resource(k.GVR()).Namespace(w.Namespace)
	obj, err := res.Get(ctx, w.Name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	opts, err := wt.judgeOptions(ctx, k, obj)
	if err != nil {
		return err
	}
	selector, err := k.Pods(obj)
	if err != nil {
		return err
	}
	podErr := make(chan error, 1)
	go func() { podErr <- wt.watchPods(ctx, w, selector, version) }()
	objErr := make(chan error, 1)
	go func() { objErr <- wt.watchObject(ctx, w, k, res, opts) }()
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

// judgeOptions reads what the judge needs beyond the object: for an object that takes
// its template from another (an Argo Rollout's workloadRef), that object's generation
// now, after the re-point.
func (wt *Waiter) judgeOptions(ctx context.Context, k *kinds.Kind, obj *unstructured.Unstructured) (kinds.JudgeOptions, error) {
	var o kinds.JudgeOptions
	if k.TemplateFrom == nil {
		return o, nil
	}
	kind, name, ok := k.TemplateFrom(obj)
	if !ok {
		return o, nil
	}
	tk := kinds.Lookup(kind)
	if tk == nil {
		return o, fmt.Errorf("%s %s takes its template from a %s, which rotor does not know", k.Kind, obj.GetName(), kind)
	}
	t, err := wt.Dynamic.Resource(tk.GVR()).Namespace(obj.GetNamespace()).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return o, fmt.Errorf("reading %s/%s, the template of %s %s: %w", kind, name, k.Kind, obj.GetName(), err)
	}
	o.TemplateGeneration = t.GetGeneration()
	return o, nil
}

// watchObject waits until the workload is judged done or failed.
func (wt *Waiter) watchObject(ctx context.Context, w Workload, k *kinds.Kind, res dynamic.ResourceInterface, opts kinds.JudgeOptions) error {
	byName := fields.OneTermEqualSelector("metadata.name", w.Name).String()
	lw := listWatch(byName,
		func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) { return res.List(ctx, o) },
		func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) { return res.Watch(ctx, o) })
	last := ""
	var failed *FailedError
	_, err := watchtools.UntilWithSync(ctx, lw, &unstructured.Unstructured{}, nil, func(ev watch.Event) (bool, error) {
		if ev.Type == watch.Deleted {
			return false, &FailedError{Workload: w, Reason: "deleted while rolling out"}
		}
		u, ok := ev.Object.(*unstructured.Unstructured)
		if !ok {
			return false, nil
		}
		st := k.Judge(u, opts)
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
