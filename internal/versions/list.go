package versions

import (
	"context"
	"fmt"
	"sort"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/utils/clock"

	"github.com/rotor-project/rotor/internal/due"
	"github.com/rotor-project/rotor/internal/family"
	"github.com/rotor-project/rotor/internal/retention"
	"github.com/rotor-project/rotor/internal/secretdata"
)

// State is where a Secret stands in its family.
type State string

// States, newest first.
const (
	StateLatest      State = "latest"
	StatePrevious    State = "previous"
	StateOlder       State = "older"
	StateUnversioned State = "unversioned"
	// StateUntrusted is a Secret named like a version that rotor neither created nor
	// adopted: never chosen as latest, never deleted by cleanup.
	StateUntrusted State = "untrusted"
	// StateFuture is a version whose name lies in the future (beyond MaxSkew of now or
	// of its creation): never chosen as latest.
	StateFuture State = "future"
)

// Info describes one Secret of a family. It never carries values: only key names.
type Info struct {
	Namespace string
	Name      string
	// Version is the parsed name; zero for the unversioned Secret.
	Version family.Version
	State   State
	Trust   Trust
	// Created is the version's own time, from its name; for the unversioned Secret, its
	// creation timestamp.
	Created time.Time
	// CreationTimestamp is when the API server stored the Secret.
	CreationTimestamp time.Time
	CreatedBy         string
	// Keys, Immutable and Type come from rotor's annotations, or from reading the
	// Secret; DetailsUnknown is set when neither was possible.
	Keys           []string
	Immutable      bool
	Type           string
	DetailsUnknown bool
	// UID and ResourceVersion are the Secret as listed.
	UID             string
	ResourceVersion string
	Labels          map[string]string
	Annotations     map[string]string
	// ExpiresAt is when the value stops working (rotor.dev/expires-at), zero if unset.
	ExpiresAt time.Time
	// RotateAfter is the family's rotation period recorded on this version
	// (rotor.dev/rotate-after), zero if unset.
	RotateAfter time.Duration
}

var secretsGVR = schema.GroupVersionResource{Version: "v1", Resource: "secrets"}

// Lister finds the Secrets of a family. It lists metadata only: no values cross the
// wire, and no permission to read Secrets is needed for versions rotor made or
// adopted, whose keys and type are in annotations. Other Secrets of the family are
// read one by one for their key names when Client is set and the caller may read them.
type Lister struct {
	// Client reads the details of Secrets without rotor's annotations; nil reads none.
	Client   kubernetes.Interface
	Metadata metadata.Interface
	// Clock decides which versions are future-dated; the real clock when nil.
	Clock clock.PassiveClock
	// PageSize bounds each list call; 500 when zero.
	PageSize int64
}

// List returns every version of fam in namespace ("" for all namespaces), plus the
// unversioned Secret named fam where one exists. Per namespace, trusted versions newest
// first, then untrusted and future-dated ones, then the unversioned one; namespaces in
// name order.
func (l *Lister) List(ctx context.Context, namespace, fam string) ([]Info, error) {
	return l.list(ctx, namespace, fam, metav1.ListOptions{}, true)
}

// Latest returns the newest trusted, not future-dated version of fam in namespace, or
// "" when there is none. It reads metadata only.
func (l *Lister) Latest(ctx context.Context, namespace, fam string) (string, error) {
	infos, err := l.list(ctx, namespace, fam, metav1.ListOptions{}, false)
	if err != nil {
		return "", err
	}
	for _, i := range infos {
		if i.State == StateLatest {
			return i.Name, nil
		}
	}
	return "", nil
}

// Find returns the Secret name of fam in namespace as a version, or nil when no such
// Secret exists. Its state tells untrusted and future-dated versions apart; for a
// trusted one it says nothing about its rank among the others. It lists by field
// selector, so it needs no permission to read Secrets for a version rotor made or
// adopted.
func (l *Lister) Find(ctx context.Context, namespace, fam, name string) (*Info, error) {
	if _, ok := family.ParseIn(fam, name); !ok && name != fam {
		return nil, fmt.Errorf("%q is not a version of %q", name, fam)
	}
	infos, err := l.list(ctx, namespace, fam, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", name).String()}, true)
	if err != nil {
		return nil, err
	}
	for i := range infos {
		if infos[i].Name == name {
			return &infos[i], nil
		}
	}
	return nil, nil
}

func (l *Lister) list(ctx context.Context, namespace, fam string, opts metav1.ListOptions, details bool) ([]Info, error) {
	if err := family.ValidateFamily(fam); err != nil {
		return nil, err
	}
	opts.Limit = l.PageSize
	if opts.Limit == 0 {
		opts.Limit = 500
	}
	var infos []Info
	for {
		page, err := l.Metadata.Resource(secretsGVR).Namespace(namespace).List(ctx, opts)
		if err != nil {
			return nil, listError(namespace, err)
		}
		for _, item := range page.Items {
			info := Info{
				Namespace: item.Namespace, Name: item.Name,
				CreationTimestamp: item.CreationTimestamp.UTC(),
				CreatedBy:         item.Annotations[family.AnnotationCreatedBy],
				UID:               string(item.UID), ResourceVersion: item.ResourceVersion,
				Labels: item.Labels, Annotations: item.Annotations,
			}
			if item.Name == fam {
				info.State, info.Trust, info.Created = StateUnversioned, TrustNone, info.CreationTimestamp
			} else if v, ok := family.ParseIn(fam, item.Name); ok {
				info.Version, info.Created = v, v.Time
				info.Trust = TrustOf(v, item.Labels, item.Annotations)
			} else {
				continue
			}
			if keys, ok := parseKeys(item.Annotations); ok && info.Trust.Trusted() {
				info.Keys, info.Type, info.Immutable = keys, item.Annotations[AnnotationType], true
			} else {
				info.DetailsUnknown = true
			}
			if t, err := time.Parse(time.RFC3339, item.Annotations[due.AnnotationExpiresAt]); err == nil {
				info.ExpiresAt = t
			}
			if d, err := retention.ParseDuration(item.Annotations[due.AnnotationRotateAfter]); err == nil && d > 0 {
				info.RotateAfter = d
			}
			infos = append(infos, info)
		}
		if page.Continue == "" {
			break
		}
		opts.Continue = page.Continue
	}
	if details && l.Client != nil {
		for i := range infos {
			if infos[i].DetailsUnknown {
				if err := l.readDetails(ctx, &infos[i]); err != nil {
					return nil, err
				}
			}
		}
	}
	var now time.Time
	if l.Clock != nil {
		now = l.Clock.Now()
	} else {
		now = time.Now()
	}
	sortAndClassify(infos, now)
	return infos, nil
}

// readDetails reads a Secret for its key names, type and immutability. A caller who
// may not read Secrets gets DetailsUnknown instead of an error.
func (l *Lister) readDetails(ctx context.Context, info *Info) error {
	s, err := l.Client.CoreV1().Secrets(info.Namespace).Get(ctx, info.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsForbidden(err) || apierrors.IsNotFound(err):
		return nil
	case err != nil:
		return fmt.Errorf("reading secret %s/%s: %w", info.Namespace, info.Name, err)
	}
	info.Keys = secretdata.Keys(s.Data)
	info.Immutable = s.Immutable != nil && *s.Immutable
	info.Type = string(s.Type)
	info.DetailsUnknown = false
	return nil
}

// rank orders states within a namespace: chosen versions first, then the rest.
func rank(s State) int {
	switch s {
	case StateUnversioned:
		return 2
	case StateUntrusted, StateFuture:
		return 1
	}
	return 0
}

// sortAndClassify sets the untrusted and future states, orders infos by namespace,
// then trusted versions newest first, then the others newest first, unversioned last,
// and sets latest/previous/older among the trusted ones of each namespace.
func sortAndClassify(infos []Info, now time.Time) {
	for i := range infos {
		switch {
		case infos[i].State == StateUnversioned:
		case !infos[i].Trust.Trusted():
			infos[i].State = StateUntrusted
		case FutureDated(infos[i].Version, infos[i].CreationTimestamp, now):
			infos[i].State = StateFuture
		default:
			infos[i].State = ""
		}
	}
	sort.SliceStable(infos, func(i, j int) bool {
		a, b := infos[i], infos[j]
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		if rank(a.State) != rank(b.State) {
			return rank(a.State) < rank(b.State)
		}
		if !a.Version.Time.Equal(b.Version.Time) {
			return a.Version.Time.After(b.Version.Time)
		}
		return a.Name < b.Name
	})
	n := 0
	for i := range infos {
		if i == 0 || infos[i].Namespace != infos[i-1].Namespace {
			n = 0
		}
		if infos[i].State != "" {
			continue
		}
		switch n {
		case 0:
			infos[i].State = StateLatest
		case 1:
			infos[i].State = StatePrevious
		default:
			infos[i].State = StateOlder
		}
		n++
	}
}

func listError(namespace string, err error) error {
	where := fmt.Sprintf("in namespace %q", namespace)
	if namespace == "" {
		where = "across all namespaces"
	}
	return fmt.Errorf("cannot list secrets %s: %w", where, err)
}

// Due is the rotation status of the family in each namespace of infos that has a
// rotation period, in namespace order. The current version is the newest: the lister
// does not know which versions consumers use.
func Due(infos []Info, now time.Time) []NamespaceDue {
	byNS := map[string][]due.Version{}
	var order []string
	for _, i := range infos {
		if i.State == StateUnversioned {
			continue
		}
		if _, ok := byNS[i.Namespace]; !ok {
			order = append(order, i.Namespace)
		}
		byNS[i.Namespace] = append(byNS[i.Namespace], due.Version{Name: i.Name, Created: i.Created, RotateAfter: i.RotateAfter})
	}
	var out []NamespaceDue
	for _, ns := range order {
		if s := due.Of(byNS[ns], now, 0, false); s.RotateAfter > 0 {
			out = append(out, NamespaceDue{Namespace: ns, Status: s})
		}
	}
	return out
}

// NamespaceDue is a family's rotation status in one namespace.
type NamespaceDue struct {
	Namespace string
	due.Status
}
