// Package refindex is the controller's one shared reference index: which objects name
// which versions of which Secret families, and which versions exist, kept current by
// informers. The rotation engine asks it for a family's consumers and newest version
// (instead of listing every kind of a namespace per rotation), the controller asks it
// which rotations a change concerns, and the metrics read it.
//
// It keeps little: each object is reduced as it arrives (the informers' transform) to
// its identity, whether it is live, and the versions it names, found by secretref's
// walker, the same one `rotor refs` uses; Secrets are watched as metadata only, so no
// value ever reaches the process. Informers list by streaming (client-go's watch-list),
// so even the first sync of a large cluster holds one object at a time. Only the kinds
// that can be consumers are watched, as the kinds registry lists them (see Kinds); CRD
// kinds only when the cluster serves them.
//
// The package never prints, reads flags or exits.
package refindex

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/tools/cache"

	"github.com/rotor-project/rotor/internal/kinds"
	"github.com/rotor-project/rotor/internal/repoint"
	"github.com/rotor-project/rotor/internal/rollout"
)

// Options say what to watch.
type Options struct {
	// Client reads the built-in kinds (protobuf is best); Metadata the Secrets.
	Client   kubernetes.Interface
	Metadata metadata.Interface
	// Dynamic and Discovery add Argo Rollouts when the cluster serves them.
	Dynamic   dynamic.Interface
	Discovery discovery.DiscoveryInterface
	// Namespaces limits the index; empty is every namespace.
	Namespaces []string
}

// Change says that an object in Namespace that names (or named) versions of Families
// changed; Kind is "Secret" for a version itself.
type Change struct {
	Namespace string
	Kind      string
	Families  []string
}

// Index is the reference index. Start it, then wait for WaitForSync.
type Index struct {
	in         *interner
	namespaces []string // "" alone for every namespace
	kinds      []*kindInformer
	secrets    map[string]cache.SharedIndexInformer
	started    []func(stop <-chan struct{})

	mu        sync.RWMutex
	listeners []func(Change)
}

// kindInformer is one kind's informers, one per watched namespace.
type kindInformer struct {
	kind      string
	informers map[string]cache.SharedIndexInformer
	mu        sync.Mutex
	lastErr   error
}

var secretsGVR = schema.GroupVersionResource{Version: "v1", Resource: "secrets"}

// New builds the index's informers; nothing is read before Start.
func New(o Options) (*Index, error) {
	if o.Client == nil || o.Metadata == nil {
		return nil, errors.New("refindex: a typed and a metadata client are required")
	}
	x := &Index{in: &interner{}, secrets: map[string]cache.SharedIndexInformer{}}
	x.namespaces = append([]string(nil), o.Namespaces...)
	if len(x.namespaces) == 0 {
		x.namespaces = []string{metav1.NamespaceAll}
	}
	byKind := map[string]*kindInformer{}
	add := func(kind, ns string, inf cache.SharedIndexInformer) {
		ki := byKind[kind]
		if ki == nil {
			ki = &kindInformer{kind: kind, informers: map[string]cache.SharedIndexInformer{}}
			byKind[kind] = ki
			x.kinds = append(x.kinds, ki)
		}
		ki.informers[ns] = inf
		_ = inf.SetWatchErrorHandler(func(_ *cache.Reflector, err error) { ki.setErr(err) })
		_, _ = inf.AddEventHandler(x.handler(kind))
	}
	indexed := Kinds()
	var custom []*kinds.Kind
	var customGVR []schema.GroupVersionResource
	for _, k := range indexed {
		if k.Typed() || o.Dynamic == nil || o.Discovery == nil {
			continue
		}
		for _, gvr := range k.GVRs() {
			if served(o.Discovery, gvr) {
				custom, customGVR = append(custom, k), append(customGVR, gvr)
				break
			}
		}
	}
	for _, ns := range x.namespaces {
		for _, k := range indexed {
			if !k.Typed() {
				continue
			}
			f := informers.NewSharedInformerFactoryWithOptions(o.Client, 0, informers.WithNamespace(ns), informers.WithTransform(x.in.transformer(k)))
			gi, err := f.ForResource(k.GVR())
			if err != nil {
				return nil, fmt.Errorf("refindex: no informer for %s: %w", k.Kind, err)
			}
			add(k.Kind, ns, gi.Informer())
			x.started = append(x.started, f.Start)
		}
		for i, k := range custom {
			df := dynamicinformer.NewFilteredDynamicSharedInformerFactory(o.Dynamic, 0, ns, nil)
			inf := df.ForResource(customGVR[i]).Informer()
			_ = inf.SetTransform(x.in.transformer(k))
			add(k.Kind, ns, inf)
			x.started = append(x.started, df.Start)
		}
		mf := metadatainformer.NewFilteredSharedInformerFactory(o.Metadata, 0, ns, nil)
		sec := mf.ForResource(secretsGVR).Informer()
		_ = sec.SetTransform(x.in.transformSecret)
		add(secretKind, ns, sec)
		x.secrets[ns] = sec
		x.started = append(x.started, mf.Start)
	}
	return x, nil
}

// secretKind names the index's Secrets (versions), which are not a registered kind.
const secretKind = "Secret"

// Kinds are the registered kinds the index watches: the namespaced kinds that can be
// consumers of their own (re-pointed or reported), plus every kind whose objects take
// their template from another (so the other is judged through them). Revision history
// (ReplicaSets, ControllerRevisions) follows its owner and is not watched; nor are
// cluster-scoped kinds (PersistentVolumes, StorageClasses, ClusterAnalysisTemplates),
// which the controller does not move.
func Kinds() []*kinds.Kind {
	var out []*kinds.Kind
	for _, k := range kinds.All() {
		if k.Namespaced && (k.Consumer() || k.TemplateFrom != nil) {
			out = append(out, k)
		}
	}
	return out
}

func served(d discovery.DiscoveryInterface, gvr schema.GroupVersionResource) bool {
	list, err := d.ServerResourcesForGroupVersion(gvr.GroupVersion().String())
	if err != nil || list == nil {
		return false
	}
	for _, r := range list.APIResources {
		if r.Name == gvr.Resource {
			return true
		}
	}
	return false
}

func (k *kindInformer) setErr(err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.lastErr = err
}

func (k *kindInformer) err() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.lastErr
}

// Start runs the informers until ctx ends. It returns at once.
func (x *Index) Start(ctx context.Context) {
	for _, start := range x.started {
		start(ctx.Done())
	}
}

// Synced reports whether every informer has listed its objects.
func (x *Index) Synced() bool {
	for _, k := range x.kinds {
		for _, inf := range k.informers {
			if !inf.HasSynced() {
				return false
			}
		}
	}
	return true
}

// WaitForSync waits until every informer has listed its objects. When ctx ends first,
// the error names the kinds not read and why (often a missing permission).
func (x *Index) WaitForSync(ctx context.Context) error {
	var synced []cache.InformerSynced
	for _, k := range x.kinds {
		for _, inf := range k.informers {
			synced = append(synced, inf.HasSynced)
		}
	}
	if cache.WaitForCacheSync(ctx.Done(), synced...) {
		return nil
	}
	var missing []string
	for _, k := range x.kinds {
		for ns, inf := range k.informers {
			if inf.HasSynced() {
				continue
			}
			where := "every namespace"
			if ns != "" {
				where = fmt.Sprintf("namespace %q", ns)
			}
			msg := fmt.Sprintf("%s in %s", k.kind, where)
			if err := k.err(); err != nil {
				msg += ": " + err.Error()
			}
			missing = append(missing, msg)
		}
	}
	sort.Strings(missing)
	return fmt.Errorf("the reference index could not read %s; grant the controller list and watch on these kinds (the Helm chart's RBAC does), or narrow the namespaces", strings.Join(missing, "; "))
}

// Subscribe calls fn after every change of a watched object once the initial listing
// is done. fn must not block.
func (x *Index) Subscribe(fn func(Change)) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.listeners = append(x.listeners, fn)
}

func (x *Index) notify(c Change) {
	x.mu.RLock()
	ls := x.listeners
	x.mu.RUnlock()
	for _, fn := range ls {
		fn(c)
	}
}

// handler reports changes of one kind.
func (x *Index) handler(kind string) cache.ResourceEventHandler {
	report := func(objs ...any) {
		var ns string
		var fams []string
		for _, o := range objs {
			if t, ok := o.(cache.DeletedFinalStateUnknown); ok {
				o = t.Obj
			}
			switch e := o.(type) {
			case *Entry:
				ns = e.Namespace
				for _, v := range e.Versions {
					if !slices.Contains(fams, v.Family) {
						fams = append(fams, v.Family)
					}
				}
			case *VersionEntry:
				ns = e.Namespace
				if e.Version.Family != "" && !slices.Contains(fams, e.Version.Family) {
					fams = append(fams, e.Version.Family)
				}
			}
		}
		if len(fams) > 0 {
			x.notify(Change{Namespace: ns, Kind: kind, Families: fams})
		}
	}
	return cache.ResourceEventHandlerDetailedFuncs{
		AddFunc: func(obj any, initial bool) {
			if !initial {
				report(obj)
			}
		},
		UpdateFunc: func(old, obj any) { report(old, obj) },
		DeleteFunc: func(obj any) { report(obj) },
	}
}

// informersFor are a kind's informers that hold namespace ns ("" for all).
func (k *kindInformer) informersFor(ns string) ([]cache.SharedIndexInformer, error) {
	if inf, ok := k.informers[metav1.NamespaceAll]; ok {
		return []cache.SharedIndexInformer{inf}, nil
	}
	if ns == metav1.NamespaceAll {
		var out []cache.SharedIndexInformer
		for _, inf := range k.informers {
			out = append(out, inf)
		}
		return out, nil
	}
	if inf, ok := k.informers[ns]; ok {
		return []cache.SharedIndexInformer{inf}, nil
	}
	return nil, &NotWatchedError{Namespace: ns}
}

// NotWatchedError is a namespace outside the index's namespaces.
type NotWatchedError struct{ Namespace string }

func (e *NotWatchedError) Error() string {
	return fmt.Sprintf("namespace %q is not among the namespaces this controller watches", e.Namespace)
}

// each calls fn for every entry of kind in ns ("" for all).
func (x *Index) each(kind, ns string, fn func(obj any)) error {
	for _, k := range x.kinds {
		if k.kind != kind {
			continue
		}
		infs, err := k.informersFor(ns)
		if err != nil {
			return err
		}
		for _, inf := range infs {
			var objs []any
			if ns == metav1.NamespaceAll {
				objs = inf.GetStore().List()
			} else {
				objs, err = inf.GetIndexer().ByIndex(cache.NamespaceIndex, ns)
				if err != nil {
					return err
				}
			}
			for _, o := range objs {
				fn(o)
			}
		}
	}
	return nil
}

// Consumers implements rollout.ConsumerFinder from the index, as the reference engine
// resolves live references: the objects of namespace that name a version of fam and
// are consumers of their own by the kinds registry; immutable ones (a running Job, a
// Pod no controller owns) are reported with what to do; a Pod made by a controller is
// found through its workload's own template; a Deployment an Argo Rollout takes its
// template from is judged through the Rollout.
func (x *Index) Consumers(_ context.Context, namespace, fam string) ([]rollout.Consumer, error) {
	if !x.Synced() {
		return nil, errors.New("the reference index has not finished reading the cluster yet; the rotation starts once it has")
	}
	var out []rollout.Consumer
	judges := map[string]repoint.Target{} // "Kind/name" of a template source → the object judged
	for _, k := range x.kinds {
		kind := kinds.Lookup(k.kind)
		if kind == nil {
			continue
		}
		err := x.each(k.kind, namespace, func(obj any) {
			e, ok := obj.(*Entry)
			if !ok || !e.Live {
				return
			}
			if e.TemplateFrom != "" {
				judges[e.TemplateFrom] = repoint.Target{Kind: e.Kind, Namespace: e.Namespace, Name: e.Name}
			}
			if !kind.Consumer() || !e.Names(fam) || (kind.FromOwner && e.Controlled) {
				return
			}
			c := rollout.Consumer{Target: repoint.Target{Kind: e.Kind, Namespace: e.Namespace, Name: e.Name}, Labels: e.Labels}
			if kind.Repoint == kinds.Immutable {
				c.Immutable, c.Note = true, kind.Effect
			}
			if c.Labels == nil {
				c.Labels = map[string]string{}
			}
			out = append(out, c)
		})
		if err != nil {
			return nil, err
		}
	}
	kept := out[:0]
	for _, c := range out {
		if j, ok := judges[c.Kind+"/"+c.Name]; ok {
			c.Judged = &j
		}
		if _, judged := judgedBy(judges, c.Target); judged {
			continue
		}
		kept = append(kept, c)
	}
	sort.Slice(kept, func(i, j int) bool {
		if kept[i].Kind != kept[j].Kind {
			return kept[i].Kind < kept[j].Kind
		}
		return kept[i].Namespace+"/"+kept[i].Name < kept[j].Namespace+"/"+kept[j].Name
	})
	return kept, nil
}

// judgedBy reports whether t is an object through which another is judged (a Rollout
// whose workloadRef names a Deployment): the Deployment is the consumer.
func judgedBy(judges map[string]repoint.Target, t repoint.Target) (string, bool) {
	for src, j := range judges {
		if j == t {
			return src, true
		}
	}
	return "", false
}

// Versions are the versions of fam in namespace, oldest first.
func (x *Index) Versions(namespace, fam string) ([]*VersionEntry, error) {
	var out []*VersionEntry
	err := x.each(secretKind, namespace, func(obj any) {
		if v, ok := obj.(*VersionEntry); ok && v.Version.Family == fam {
			out = append(out, v)
		}
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Version.Time.Before(out[j].Version.Time) })
	return out, err
}

// Latest is the newest version of fam in namespace ("" when there is none).
func (x *Index) Latest(_ context.Context, namespace, fam string) (string, error) {
	vs, err := x.Versions(namespace, fam)
	if err != nil || len(vs) == 0 {
		return "", err
	}
	return vs[len(vs)-1].Name, nil
}

// EachVersion calls fn for every version in the index.
func (x *Index) EachVersion(fn func(*VersionEntry)) {
	_ = x.each(secretKind, metav1.NamespaceAll, func(obj any) {
		if v, ok := obj.(*VersionEntry); ok && v.Version.Family != "" {
			fn(v)
		}
	})
}

// VersionKey names one version.
type VersionKey struct {
	Namespace, Family, Version string
}

// ConsumerCounts are, per existing version, how many live objects use it right now:
// running Pods (so a rolling update shows both versions at once), and consumers without
// a pod template, which use a Secret themselves (ServiceAccounts, Ingresses, Gateways).
// Workload templates and CronJobs are counted through their Pods. Versions that no
// Secret has are left out, so the counts name only versions that exist.
func (x *Index) ConsumerCounts() map[VersionKey]int {
	exists := map[VersionKey]bool{}
	x.EachVersion(func(v *VersionEntry) {
		exists[VersionKey{Namespace: v.Namespace, Family: v.Version.Family, Version: v.Name}] = true
	})
	out := map[VersionKey]int{}
	for _, k := range x.kinds {
		kind := kinds.Lookup(k.kind)
		if kind == nil || !usesDirectly(kind) {
			continue
		}
		_ = x.each(k.kind, metav1.NamespaceAll, func(obj any) {
			e, ok := obj.(*Entry)
			if !ok || !e.Live {
				return
			}
			for _, v := range e.Versions {
				key := VersionKey{Namespace: e.Namespace, Family: v.Family, Version: v.Name()}
				if exists[key] {
					out[key]++
				}
			}
		})
	}
	return out
}

// usesDirectly reports whether objects of kind use the Secrets they name themselves:
// Pods, and consumers without a pod template.
func usesDirectly(k *kinds.Kind) bool {
	return k.FromOwner || (k.PodSpec == "" && k.Consumer())
}
