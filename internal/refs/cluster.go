package refs

import (
	"context"
	"fmt"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/rotor-project/rotor/internal/kinds"
	"github.com/rotor-project/rotor/internal/managedby"
	"github.com/rotor-project/rotor/internal/secretref"
)

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
	// templateUsers maps "Kind/namespace/name" of an object another takes its pod
	// template from (a Deployment named by a Rollout's workloadRef) to that object.
	templateUsers map[string]ObjectRef
}

// firstPage is the size of each kind's first list call: one object says whether the
// kind has any (most of the registered kinds have none in a given cluster), and the
// following pages are full size.
const firstPage = 1

// scanTyped lists a built-in kind page by page with the typed client (protobuf, as the
// caller's rest.Config says) and visits each object as its page arrives. The next page
// is requested as soon as a page arrives, so the API server prepares (and the client
// decodes) it while this one is visited: two pages at most are in memory.
func (s *scan) scanTyped(ctx context.Context, k *kinds.Kind) error {
	type fetched struct {
		p   kinds.Page
		err error
	}
	next := make(chan fetched, 1)
	fetch := func(opts metav1.ListOptions) {
		go func() {
			p, err := k.ListTyped(ctx, s.client, s.ns, opts)
			next <- fetched{p, err}
		}()
	}
	fetch(metav1.ListOptions{Limit: firstPage})
	for {
		f := <-next
		if f.err != nil {
			return f.err
		}
		p := f.p
		if p.Continue != "" {
			fetch(metav1.ListOptions{Limit: s.limit, Continue: p.Continue})
		}
		for _, obj := range p.Items {
			var refs []secretref.Ref
			err := k.VisitTyped(obj, func(r secretref.Ref) bool {
				if s.match.match(r.Name) {
					refs = append(refs, r)
				}
				return true
			})
			s.record(k, obj, k.DescribeTyped(obj), refs, err)
		}
		if p.Continue == "" {
			return nil
		}
	}
}

// record notes the object in the owner index and keeps its references, with their
// repeated strings interned: tens of thousands of references share a few paths,
// Secrets and namespaces.
func (s *scan) record(k *kinds.Kind, meta metav1.Object, info kinds.Info, refs []secretref.Ref, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	self := ObjectRef{Kind: k.Kind, APIVersion: k.APIVersion(), Namespace: s.strs.str(meta.GetNamespace()),
		Name: meta.GetName(), UID: meta.GetUID()}
	owner, hasOwner := controllerOf(meta)
	var ownerRef *ObjectRef
	if hasOwner {
		ownerRef = s.strs.owner(owner)
		owner = *ownerRef
	}
	if err != nil {
		s.notChecked = append(s.notChecked, NotChecked{Kind: k.Kind, Namespace: self.Namespace,
			Reason: fmt.Sprintf("cannot read %s: %v", self.Name, err)})
	}
	s.owners.note(k, self, owner, hasOwner, info)
	role := RoleLive
	if info.Finished {
		role = RoleFinished
	}
	var managed *managedby.Owner
	if !hasOwner && len(refs) > 0 {
		managed = managedby.Detect(meta.GetLabels(), meta.GetAnnotations())
	}
	for _, r := range refs {
		secretNS := secretNamespace(r, self.Namespace)
		if s.ns != "" && secretNS != "" && secretNS != s.ns {
			continue // a cluster-scoped object naming a Secret of another namespace
		}
		s.found = append(s.found, Reference{
			Object: self, Path: s.strs.str(r.Path), Pointer: s.strs.str(r.Pointer), Secret: s.strs.str(r.Name),
			SecretNamespace: s.strs.str(secretNS), Style: r.Style, Optional: r.Optional, Keys: s.strs.stringSlice(r.Keys),
			Container: s.strs.str(r.Container), Role: role, Revision: s.strs.str(revisionString(info.Revision)), ManagedBy: managed,
		})
		s.pending = append(s.pending, pending{owner: ownerRef, history: info.History,
			revision: info.Revision, active: info.Active})
	}
}

// secretNamespace is the namespace of the Secret a reference names: the one it names,
// its object's own, or "" for any namespace.
func secretNamespace(r secretref.Ref, objectNS string) string {
	switch {
	case r.AnyNamespace:
		return ""
	case r.Namespace != "":
		return r.Namespace
	}
	return objectNS
}

// scanCluster lists every kind in parallel and resolves owners, roles and existence.
func (f *Finder) scanCluster(ctx context.Context, q Query, m matcher, res *Result) error {
	limit := f.PageSize
	if limit <= 0 {
		limit = 500
	}
	s := &scan{client: f.Client, ns: q.Namespace, limit: limit, match: m, owners: newOwnerIndex(), strs: newInterner(),
		templateUsers: map[string]ObjectRef{}}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	fail := func(kind string, custom bool, err error) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case apierrors.IsNotFound(err):
			// Not served by this cluster (an old one without the API): nothing to miss.
		case apierrors.IsForbidden(err):
			res.NotChecked = append(res.NotChecked, NotChecked{Kind: kind, Namespace: q.Namespace, Reason: "forbidden"})
		case custom && ctx.Err() == nil:
			// Served but not listable (a failing conversion webhook, a broken CRD): a gap
			// in the search, not a reason to give up the rest of it.
			res.NotChecked = append(res.NotChecked, NotChecked{Kind: kind, Namespace: q.Namespace, Reason: "cannot list: " + err.Error()})
		case firstErr == nil:
			firstErr = fmt.Errorf("listing %s: %w", kind, err)
			cancel()
		}
	}
	runKind := func(kind string, custom bool, fn func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(ctx); err != nil {
				fail(kind, custom, err)
			}
		}()
	}
	run := func(kind string, fn func(context.Context) error) { runKind(kind, false, fn) }
	for _, k := range kinds.All() {
		if k.Typed() {
			run(k.Kind, func(ctx context.Context) error { return s.scanTyped(ctx, k) })
		}
	}
	custom, gaps := f.customKinds(ctx)
	res.NotChecked = append(res.NotChecked, gaps...)
	for _, ck := range custom {
		runKind(ck.kind.Kind, true, func(ctx context.Context) error { return f.scanCustom(ctx, s, ck) })
	}
	if f.Helm {
		run("Secret", func(ctx context.Context) error { return s.scanHelmReleases(ctx) })
		run("ConfigMap", func(ctx context.Context) error { return s.scanHelmConfigMaps(ctx) })
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
