package refs

import (
	"context"
	"fmt"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"

	"github.com/rotor-project/rotor/internal/secretref"
)

// page is one list call: its items and the continue token.
type page[T any] struct {
	items []T
	cont  string
}

// listFunc lists one page of a kind in a namespace ("" for all).
type listFunc[T any] func(ctx context.Context, c kubernetes.Interface, ns string, opts metav1.ListOptions) (page[T], error)

// typedKind is a built-in kind rotor reads with the typed (protobuf) client.
type typedKind struct {
	kind, apiVersion string
	scan             func(ctx context.Context, s *scan) error
}

// kindOf builds a typedKind whose objects are visited one page at a time. PT is the
// pointer type the visitor and secretref work with.
func kindOf[T any, PT interface {
	*T
	runtime.Object
	metav1.Object
}](kind, apiVersion string, list listFunc[T], describe func(PT, *objectInfo)) typedKind {
	return typedKind{kind: kind, apiVersion: apiVersion, scan: func(ctx context.Context, s *scan) error {
		opts := metav1.ListOptions{Limit: s.limit}
		for {
			p, err := list(ctx, s.client, s.ns, opts)
			if err != nil {
				return err
			}
			for i := range p.items {
				obj := PT(&p.items[i])
				info := objectInfo{kind: kind, apiVersion: apiVersion, role: RoleLive}
				describe(obj, &info)
				s.visit(obj, obj, info)
			}
			if p.cont == "" {
				return nil
			}
			opts.Continue = p.cont
		}
	}}
}

// typedKinds are the built-in kinds that can name a Secret.
var typedKinds = []typedKind{
	kindOf("Pod", "v1", func(ctx context.Context, c kubernetes.Interface, ns string, o metav1.ListOptions) (page[corev1.Pod], error) {
		l, err := c.CoreV1().Pods(ns).List(ctx, o)
		if err != nil {
			return page[corev1.Pod]{}, err
		}
		return page[corev1.Pod]{l.Items, l.Continue}, nil
	}, describePod),
	kindOf("Deployment", "apps/v1", func(ctx context.Context, c kubernetes.Interface, ns string, o metav1.ListOptions) (page[appsv1.Deployment], error) {
		l, err := c.AppsV1().Deployments(ns).List(ctx, o)
		if err != nil {
			return page[appsv1.Deployment]{}, err
		}
		return page[appsv1.Deployment]{l.Items, l.Continue}, nil
	}, describeDeployment),
	kindOf("ReplicaSet", "apps/v1", func(ctx context.Context, c kubernetes.Interface, ns string, o metav1.ListOptions) (page[appsv1.ReplicaSet], error) {
		l, err := c.AppsV1().ReplicaSets(ns).List(ctx, o)
		if err != nil {
			return page[appsv1.ReplicaSet]{}, err
		}
		return page[appsv1.ReplicaSet]{l.Items, l.Continue}, nil
	}, describeReplicaSet),
	kindOf("StatefulSet", "apps/v1", func(ctx context.Context, c kubernetes.Interface, ns string, o metav1.ListOptions) (page[appsv1.StatefulSet], error) {
		l, err := c.AppsV1().StatefulSets(ns).List(ctx, o)
		if err != nil {
			return page[appsv1.StatefulSet]{}, err
		}
		return page[appsv1.StatefulSet]{l.Items, l.Continue}, nil
	}, describeNothing[*appsv1.StatefulSet]),
	kindOf("DaemonSet", "apps/v1", func(ctx context.Context, c kubernetes.Interface, ns string, o metav1.ListOptions) (page[appsv1.DaemonSet], error) {
		l, err := c.AppsV1().DaemonSets(ns).List(ctx, o)
		if err != nil {
			return page[appsv1.DaemonSet]{}, err
		}
		return page[appsv1.DaemonSet]{l.Items, l.Continue}, nil
	}, describeNothing[*appsv1.DaemonSet]),
	kindOf("ControllerRevision", "apps/v1", func(ctx context.Context, c kubernetes.Interface, ns string, o metav1.ListOptions) (page[appsv1.ControllerRevision], error) {
		l, err := c.AppsV1().ControllerRevisions(ns).List(ctx, o)
		if err != nil {
			return page[appsv1.ControllerRevision]{}, err
		}
		return page[appsv1.ControllerRevision]{l.Items, l.Continue}, nil
	}, describeControllerRevision),
	kindOf("Job", "batch/v1", func(ctx context.Context, c kubernetes.Interface, ns string, o metav1.ListOptions) (page[batchv1.Job], error) {
		l, err := c.BatchV1().Jobs(ns).List(ctx, o)
		if err != nil {
			return page[batchv1.Job]{}, err
		}
		return page[batchv1.Job]{l.Items, l.Continue}, nil
	}, describeJob),
	kindOf("CronJob", "batch/v1", func(ctx context.Context, c kubernetes.Interface, ns string, o metav1.ListOptions) (page[batchv1.CronJob], error) {
		l, err := c.BatchV1().CronJobs(ns).List(ctx, o)
		if err != nil {
			return page[batchv1.CronJob]{}, err
		}
		return page[batchv1.CronJob]{l.Items, l.Continue}, nil
	}, describeNothing[*batchv1.CronJob]),
	kindOf("ReplicationController", "v1", func(ctx context.Context, c kubernetes.Interface, ns string, o metav1.ListOptions) (page[corev1.ReplicationController], error) {
		l, err := c.CoreV1().ReplicationControllers(ns).List(ctx, o)
		if err != nil {
			return page[corev1.ReplicationController]{}, err
		}
		return page[corev1.ReplicationController]{l.Items, l.Continue}, nil
	}, describeNothing[*corev1.ReplicationController]),
	kindOf("ServiceAccount", "v1", func(ctx context.Context, c kubernetes.Interface, ns string, o metav1.ListOptions) (page[corev1.ServiceAccount], error) {
		l, err := c.CoreV1().ServiceAccounts(ns).List(ctx, o)
		if err != nil {
			return page[corev1.ServiceAccount]{}, err
		}
		return page[corev1.ServiceAccount]{l.Items, l.Continue}, nil
	}, describeNothing[*corev1.ServiceAccount]),
	kindOf("Ingress", "networking.k8s.io/v1", func(ctx context.Context, c kubernetes.Interface, ns string, o metav1.ListOptions) (page[networkingv1.Ingress], error) {
		l, err := c.NetworkingV1().Ingresses(ns).List(ctx, o)
		if err != nil {
			return page[networkingv1.Ingress]{}, err
		}
		return page[networkingv1.Ingress]{l.Items, l.Continue}, nil
	}, describeNothing[*networkingv1.Ingress]),
}

// scan is the state of one cluster scan, shared by the kinds' goroutines.
type scan struct {
	client kubernetes.Interface
	ns     string
	limit  int64
	match  matcher

	mu sync.Mutex
	// found are the matching references, their owners and roles not yet settled;
	// pending[i] is what settles found[i].
	found      []Reference
	pending    []pending
	owners     ownerIndex
	strs       interner
	notChecked []NotChecked
}

// visit walks one object and records its matching references. walk is the object
// secretref understands; meta its metadata.
func (s *scan) visit(walk runtime.Object, meta metav1.Object, info objectInfo) {
	var refs []secretref.Ref
	err := secretref.Object(walk, func(r secretref.Ref) bool {
		if s.match.match(r.Name) {
			refs = append(refs, r)
		}
		return true
	})
	s.record(meta, info, refs, err)
}

// record notes the object in the owner index and keeps its references, with their
// repeated strings interned: tens of thousands of references share a few paths,
// Secrets and namespaces.
func (s *scan) record(meta metav1.Object, info objectInfo, refs []secretref.Ref, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	self := ObjectRef{Kind: info.kind, APIVersion: info.apiVersion, Namespace: s.strs.str(meta.GetNamespace()),
		Name: meta.GetName(), UID: meta.GetUID()}
	owner, hasOwner := controllerOf(meta)
	if hasOwner {
		owner = s.strs.objectRef(owner)
	}
	if err != nil {
		s.notChecked = append(s.notChecked, NotChecked{Kind: info.kind, Namespace: self.Namespace,
			Reason: fmt.Sprintf("cannot read %s: %v", self.Name, err)})
	}
	s.owners.note(self, owner, hasOwner, info)
	for _, r := range refs {
		s.found = append(s.found, Reference{
			Object: self, Path: s.strs.str(r.Path), Pointer: s.strs.str(r.Pointer), Secret: s.strs.str(r.Name),
			Style: r.Style, Optional: r.Optional, Keys: s.strs.stringSlice(r.Keys), Container: s.strs.str(r.Container),
			Role: info.role, Revision: s.strs.str(info.revisionString()),
		})
		s.pending = append(s.pending, pending{owner: owner, hasOwner: hasOwner, history: info.history,
			revision: info.revision, active: info.active})
	}
}

// scanCluster lists every kind in parallel and resolves owners, roles and existence.
func (f *Finder) scanCluster(ctx context.Context, q Query, m matcher, res *Result) error {
	limit := f.PageSize
	if limit <= 0 {
		limit = 500
	}
	s := &scan{client: f.Client, ns: q.Namespace, limit: limit, match: m, owners: newOwnerIndex(), strs: newInterner()}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	fail := func(kind string, err error) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case apierrors.IsForbidden(err):
			res.NotChecked = append(res.NotChecked, NotChecked{Kind: kind, Namespace: q.Namespace, Reason: "forbidden"})
		case apierrors.IsNotFound(err):
			res.NotChecked = append(res.NotChecked, NotChecked{Kind: kind, Namespace: q.Namespace, Reason: "not served by this cluster"})
		case firstErr == nil:
			firstErr = fmt.Errorf("listing %s: %w", kind, err)
			cancel()
		}
	}
	run := func(kind string, fn func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(ctx); err != nil {
				fail(kind, err)
			}
		}()
	}
	for _, k := range typedKinds {
		run(k.kind, func(ctx context.Context) error { return k.scan(ctx, s) })
	}
	for _, k := range f.customKinds(ctx) {
		run(k.kind, func(ctx context.Context) error { return f.scanCustom(ctx, s, k) })
	}
	var existing existence
	if f.Metadata != nil {
		run("Secret", func(ctx context.Context) error {
			var err error
			existing, err = f.existingSecrets(ctx, q, m)
			return err
		})
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	if len(res.References) == 0 {
		res.References = s.resolve() // no copy of the largest slice of the scan
	} else {
		res.References = append(res.References, s.resolve()...)
	}
	res.NotChecked = append(res.NotChecked, s.notChecked...)
	if existing != nil {
		res.Missing = existing.mark(res.References, q)
	}
	return nil
}
