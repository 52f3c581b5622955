package rotation

import (
	"context"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/internal/apiretry"
	"github.com/rotor-project/rotor/internal/health"
)

// lookPods lists the pods one look at a rotation judges. A look at several workloads
// that roll pods out lists the namespace's pods once and picks each workload's by its
// selector: one request instead of one per workload, at every look while a dozen
// consumers roll. A look at one lists that workload's pods by its selector, and so
// does a look in a namespace of more pods than podsPerWorkload for each workload (the
// whole list would cost more than the lists it saves).
type lookPods struct {
	client    kubernetes.Interface
	retry     apiretry.Policy
	namespace string
	workloads int // that roll pods out, in the look

	once   sync.Once
	all    []corev1.Pod
	shared bool // all holds the namespace's pods
	err    error
}

// podsPerWorkload bounds the pods of a namespace a look lists at once, per workload.
const podsPerWorkload = 100

// podsFor is the pod lister of one look at rot.
func (e *Engine) podsFor(rot *v1alpha1.SecretRotation, forward bool) *lookPods {
	rolling := len(rot.Status.Green)
	for _, c := range rot.Status.Consumers {
		if !c.Skip && c.Rolls {
			rolling++
		}
	}
	if !forward {
		rolling = 0 // nothing is judged
	}
	return &lookPods{client: e.Client, retry: e.Retry, namespace: rot.Namespace, workloads: rolling}
}

// list returns the pods sel selects.
func (l *lookPods) list(ctx context.Context, sel labels.Selector) ([]corev1.Pod, error) {
	if l.workloads > 1 {
		l.once.Do(func() {
			var pods *corev1.PodList
			pods, l.err = l.read(ctx, metav1.ListOptions{Limit: int64(podsPerWorkload * l.workloads)})
			if l.err == nil && pods.Continue == "" {
				l.all, l.shared = pods.Items, true
			}
		})
	}
	if l.err != nil {
		return nil, l.err
	}
	if !l.shared {
		pods, err := l.read(ctx, metav1.ListOptions{LabelSelector: sel.String()})
		if err != nil {
			return nil, err
		}
		return pods.Items, nil
	}
	var out []corev1.Pod
	for i := range l.all {
		if sel.Matches(labels.Set(l.all[i].Labels)) {
			out = append(out, l.all[i])
		}
	}
	return out, nil
}

func (l *lookPods) read(ctx context.Context, opts metav1.ListOptions) (*corev1.PodList, error) {
	var pods *corev1.PodList
	err := l.retry.Do(ctx, func(ctx context.Context) error {
		var err error
		pods, err = l.client.CoreV1().Pods(l.namespace).List(ctx, opts)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("listing pods in namespace %q: %w", l.namespace, err)
	}
	return pods, nil
}

// problem is the first failing pod among those sel selects that name version.
func (l *lookPods) problem(ctx context.Context, sel labels.Selector, version string) (string, error) {
	pods, err := l.list(ctx, sel)
	if err != nil {
		return "", err
	}
	for i := range pods {
		p := &pods[i]
		if p.DeletionTimestamp != nil || !health.PodNames(p, version) {
			continue
		}
		if problem := health.PodProblem(p); problem != "" {
			return problem, nil
		}
	}
	return "", nil
}
