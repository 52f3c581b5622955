// Package refs finds every reference to given Secrets: in a cluster (every pod-spec
// kind, ServiceAccounts, Ingresses, and the Argo Rollouts and External Secrets kinds when
// their CRDs are installed) and in a directory of manifests. It is the engine under
// `rotor refs`, rollout (who must be re-pointed), rollback, status and cleanup (whether
// anything still needs a version).
//
// Where a Secret can be named is secretref's knowledge; this package decides which
// objects to read and what each reference means:
//
//   - its Role: live (a running Pod, the current template of a workload or CronJob),
//     rollback-target (a ReplicaSet or ControllerRevision kept in revision history that
//     `rollout undo` would restore), or finished (a completed Job or Pod);
//   - its owner chain, nearest first (Pod → ReplicaSet → Deployment; Job → CronJob);
//   - whether the Secret it names exists in its namespace.
//
// A cluster scan lists each kind in its own goroutine, page by page, visits each object
// as the page arrives and keeps only the references and a small owner index, never the
// objects: memory grows with the matches, not with the objects. The strings references
// repeat (paths, Secrets, namespaces, owners) are stored once, and references with the
// same owner share one owner chain. Typed clients should use
// protobuf (the caller's rest.Config decides). A kind the caller may not list is
// reported in Result.NotChecked, never skipped silently. Names are matched exactly, in
// reference fields only: a name inside an annotation, an env value or a ConfigMap is
// not a reference.
//
// The package never prints, reads flags or exits.
package refs

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"

	"github.com/rotor-project/rotor/internal/family"
	"github.com/rotor-project/rotor/internal/managedby"
	"github.com/rotor-project/rotor/internal/secretref"
)

// Role is what a reference means for the Secret it names.
type Role string

// The roles, in the order output groups them.
const (
	// RoleLive is a running (or about to run) Pod, or the current template of a workload,
	// CronJob, ServiceAccount, Ingress or ExternalSecret. Manifests are live: they are
	// what a GitOps tool will apply.
	RoleLive Role = "live"
	// RoleRollbackTarget is a ReplicaSet or ControllerRevision kept in revision history,
	// which `kubectl rollout undo` would restore.
	RoleRollbackTarget Role = "rollback-target"
	// RoleFinished is a completed Job or a Pod that succeeded or failed: it will not run
	// again.
	RoleFinished Role = "finished"
)

// roleOrder ranks roles for sorting.
var roleOrder = map[Role]int{RoleLive: 0, RoleRollbackTarget: 1, RoleFinished: 2}

// ObjectRef names an object.
type ObjectRef struct {
	Kind       string
	APIVersion string
	Namespace  string
	Name       string
	UID        types.UID
}

// String is "Kind/namespace/name" (or "Kind/name" without a namespace).
func (o ObjectRef) String() string {
	if o.Namespace == "" {
		return o.Kind + "/" + o.Name
	}
	return o.Kind + "/" + o.Namespace + "/" + o.Name
}

// Reference is one place where one of the queried Secrets is named.
type Reference struct {
	// Object is the referencing object.
	Object ObjectRef
	// Owners is the owner chain, nearest first: a Pod's ReplicaSet, then its Deployment.
	// References with the same owner share one slice: read it, do not modify it.
	Owners []ObjectRef
	// Path is the exact field path, e.g.
	// spec.template.spec.containers[name=app].envFrom[0].secretRef.
	Path string
	// Pointer is the JSON pointer (RFC 6901) of the name's field, for a patch.
	Pointer string
	// Secret is the Secret named there.
	Secret string
	// SecretNamespace is the namespace of that Secret: the object's own, the one the
	// reference names (a PersistentVolume's secretRef, a Gateway's cross-namespace
	// certificateRef), or "" when it resolves in any namespace (a
	// ClusterAnalysisTemplate's argument; a manifest without a namespace).
	SecretNamespace string
	Style           secretref.Style
	Optional        bool
	Keys            []string
	Container       string
	Role            Role
	// Revision is a rollback target's (or a revisioned object's) revision:
	// deployment.kubernetes.io/revision of a ReplicaSet, .revision of a
	// ControllerRevision.
	Revision string
	// Dangling is true when the Secret does not exist in the object's namespace (cluster
	// references only, and only when Finder.Metadata is set).
	Dangling bool
	// File and Line locate a reference found in a manifest; empty for cluster objects.
	File string
	Line int
	// ManagedBy is the tool that owns the object's desired state (Argo CD, Flux, Helm)
	// as its labels and annotations say; nil when none, and for objects a controller
	// owns (a Pod is its ReplicaSet's). A live re-point of it would be reverted.
	ManagedBy *managedby.Owner
}

// Query says which Secrets to look for, and where.
type Query struct {
	// Namespace limits the cluster scan; "" is every namespace. Manifests that name
	// another namespace are skipped; manifests without one are read.
	Namespace string
	// Names are Secret names, matched exactly.
	Names []string
	// Family adds every version of the family (FAMILY-YYYYMMDDHHMMSS) and the
	// unversioned Secret named FAMILY.
	Family string
	// Paths are files or directories of manifests, read recursively.
	Paths []string
}

// NotChecked is a part of the search that could not be done, so the result may be
// incomplete.
type NotChecked struct {
	Kind      string
	Namespace string // "" for every namespace
	// File is set for a manifest that could not be read.
	File   string
	Reason string
}

// Result is what Find found.
type Result struct {
	// References are ordered by role (live, rollback-target, finished), then namespace,
	// kind, name, path and Secret; manifest references after cluster ones, by file
	// and line.
	References []Reference
	NotChecked []NotChecked
	// Missing are the queried names, and for a family the referenced versions, that no
	// Secret has in the scanned namespace(s). Their references are still reported.
	Missing []string
}

// Finder searches a cluster and manifests. Client is required for a cluster scan;
// Dynamic and Discovery enable the CRD kinds (Argo Rollouts, External Secrets);
// Metadata enables the existence check of the named Secrets (metadata only: no
// values cross the wire). With no Client, only Query.Paths are searched.
type Finder struct {
	Client    kubernetes.Interface
	Dynamic   dynamic.Interface
	Discovery discovery.DiscoveryInterface
	Metadata  metadata.Interface
	// PageSize bounds each list call; 500 when zero.
	PageSize int64
	// Helm also reads the release history Helm stores in Secrets
	// (sh.helm.release.v1.*): a Secret its stored manifests name is a rollback target
	// of that release. Only references are kept; nothing else of a release is.
	Helm bool
}

// Validate says what is wrong with q, or returns nil.
func (q Query) Validate() error {
	if len(q.Names) == 0 && q.Family == "" {
		return fmt.Errorf("no Secret to look for: give one or more Secret names, or a family")
	}
	for _, n := range q.Names {
		if errs := validation.IsDNS1123Subdomain(n); len(errs) > 0 {
			return fmt.Errorf("%q is not a valid Secret name: %s", n, strings.Join(errs, "; "))
		}
	}
	if q.Family != "" {
		if err := family.ValidateFamily(q.Family); err != nil {
			return err
		}
	}
	if q.Namespace != "" {
		if errs := validation.IsDNS1123Label(q.Namespace); len(errs) > 0 {
			return fmt.Errorf("%q is not a valid namespace: %s", q.Namespace, strings.Join(errs, "; "))
		}
	}
	return nil
}

// matcher reports whether a Secret name is one the query asks about.
type matcher struct {
	names  map[string]bool
	family string
}

func newMatcher(q Query) matcher {
	m := matcher{names: map[string]bool{}, family: q.Family}
	for _, n := range q.Names {
		m.names[n] = true
	}
	return m
}

func (m matcher) match(name string) bool {
	if m.names[name] {
		return true
	}
	if m.family == "" {
		return false
	}
	if name == m.family {
		return true
	}
	_, ok := family.ParseIn(m.family, name)
	return ok
}

// Find returns every reference to the queried Secrets. Kinds the caller may not list
// and unreadable manifests are in Result.NotChecked; other failures (an unreachable
// cluster, a missing path) are errors.
func (f *Finder) Find(ctx context.Context, q Query) (*Result, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	m := newMatcher(q)
	res := &Result{}
	if f.Client != nil {
		if err := f.scanCluster(ctx, q, m, res); err != nil {
			return nil, err
		}
	}
	for _, p := range q.Paths {
		if err := scanPath(p, q.Namespace, m, res); err != nil {
			return nil, err
		}
	}
	sortResult(res)
	return res, nil
}

func sortResult(res *Result) {
	sort.SliceStable(res.References, func(i, j int) bool {
		a, b := &res.References[i], &res.References[j]
		if (a.File == "") != (b.File == "") {
			return a.File == ""
		}
		if a.File != b.File {
			return a.File < b.File
		}
		if a.File != "" {
			return a.Line < b.Line
		}
		if roleOrder[a.Role] != roleOrder[b.Role] {
			return roleOrder[a.Role] < roleOrder[b.Role]
		}
		for _, c := range [][2]string{{a.Object.Namespace, b.Object.Namespace}, {a.Object.Kind, b.Object.Kind},
			{a.Object.Name, b.Object.Name}, {a.Path, b.Path}, {a.Secret, b.Secret}} {
			if c[0] != c[1] {
				return c[0] < c[1]
			}
		}
		return false
	})
	sort.Slice(res.NotChecked, func(i, j int) bool {
		a, b := res.NotChecked[i], res.NotChecked[j]
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.File < b.File
	})
	sort.Strings(res.Missing)
}
