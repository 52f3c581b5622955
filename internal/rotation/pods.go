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
// consumers roll. A look at one lists that workload's pods by its selector.
type lookPods struct {
	client    kubernetes.Interface
	retry     apiretry.Policy
	namespace string
	shared    bool

	once sync.Once
	all  []corev1.Pod
	err  error
}

// podsFor is the pod lister of one look at rot.
func (e *Engine) podsFor(rot *v1alpha1.SecretRotation, forward bool) *lookPods {
	rolling := len(rot.Status.Green)
	for _, c := range rot.Status.Consumers {
		if !c.Skip && c.Rolls {
			rolling++
		}
	}
	return &lookPods{client: e.Client, retry: e.Retry, namespace: rot.Namespace, shared: forward && rolling > 1}
}

// list returns the pods sel selects.
func (l *lookPods) list(ctx context.Context, sel labels.Selector) ([]corev1.Pod, error) {
	if !l.shared {
		return l.read(ctx, sel)
	}
	l.once.Do(func() { l.all, l.err = l.read(ctx, labels.Everything()) })
	if l.err != nil {
		return nil, l.err
	}
	var out []corev1.Pod
	for i := range l.all {
		if sel.Matches(labels.Set(l.all[i].Labels)) {
			out = append(out, l.all[i])
		}
	}
	return out, nil
}

func (l *lookPods) read(ctx context.Context, sel labels.Selector) ([]corev1.Pod, error) {
	var pods *corev1.PodList
	err := l.retry.Do(ctx, func(ctx context.Context) error {
		var err error
		pods, err = l.client.CoreV1().Pods(l.namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("listing pods in namespace %q: %w", l.namespace, err)
	}
	return pods.Items, nil
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
