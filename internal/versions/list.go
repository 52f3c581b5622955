package versions

import (
	"context"
	"fmt"
	"sort"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"

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
)

// Info describes one Secret of a family. It never carries values: only key names.
type Info struct {
	Namespace string
	Name      string
	// Version is the parsed name; zero for the unversioned Secret.
	Version family.Version
	State   State
	// Created is the version's own time, from its name; for the unversioned Secret, its
	// creation timestamp.
	Created time.Time
	// CreationTimestamp is when the API server stored the Secret.
	CreationTimestamp time.Time
	CreatedBy         string
	Keys              []string
	Immutable         bool
	Type              string
	// ExpiresAt is when the value stops working (rotor.dev/expires-at), zero if unset.
	ExpiresAt time.Time
	// RotateAfter is the family's rotation period recorded on this version
	// (rotor.dev/rotate-after), zero if unset.
	RotateAfter time.Duration
}

var secretsGVR = schema.GroupVersionResource{Version: "v1", Resource: "secrets"}

// Lister finds the Secrets of a family. It lists metadata only (no values cross the
// wire in the list), then reads each match for its key names.
type Lister struct {
	Client   kubernetes.Interface
	Metadata metadata.Interface
	// PageSize bounds each list call; 500 when zero.
	PageSize int64
}

// List returns every version of fam in namespace ("" for all namespaces), plus the
// unversioned Secret named fam where one exists. Per namespace, newest version first,
// then the unversioned one; namespaces in name order.
func (l *Lister) List(ctx context.Context, namespace, fam string) ([]Info, error) {
	if err := family.ValidateFamily(fam); err != nil {
		return nil, err
	}
	limit := l.PageSize
	if limit == 0 {
		limit = 500
	}
	type match struct {
		ns, name string
		v        family.Version
		unver    bool
	}
	var matches []match
	opts := metav1.ListOptions{Limit: limit}
	for {
		page, err := l.Metadata.Resource(secretsGVR).Namespace(namespace).List(ctx, opts)
		if err != nil {
			return nil, listError(namespace, err)
		}
		for _, item := range page.Items {
			if item.Name == fam {
				matches = append(matches, match{ns: item.Namespace, name: item.Name, unver: true})
			} else if v, ok := family.ParseIn(fam, item.Name); ok {
				matches = append(matches, match{ns: item.Namespace, name: item.Name, v: v})
			}
		}
		if page.Continue == "" {
			break
		}
		opts.Continue = page.Continue
	}

	infos := make([]Info, 0, len(matches))
	for _, m := range matches {
		s, err := l.Client.CoreV1().Secrets(m.ns).Get(ctx, m.name, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("reading secret %s/%s: %w", m.ns, m.name, err)
		}
		info := Info{
			Namespace: s.Namespace,
			Name:      s.Name,
			Version:   m.v,
			Created:   m.v.Time,
			// Set below for the unversioned Secret.
			CreationTimestamp: s.CreationTimestamp.UTC(),
			CreatedBy:         s.Annotations[family.AnnotationCreatedBy],
			Keys:              secretdata.Keys(s.Data),
			Immutable:         s.Immutable != nil && *s.Immutable,
			Type:              string(s.Type),
		}
		if t, err := time.Parse(time.RFC3339, s.Annotations[due.AnnotationExpiresAt]); err == nil {
			info.ExpiresAt = t
		}
		if d, err := retention.ParseDuration(s.Annotations[due.AnnotationRotateAfter]); err == nil && d > 0 {
			info.RotateAfter = d
		}
		if m.unver {
			info.State = StateUnversioned
			info.Created = info.CreationTimestamp
		}
		infos = append(infos, info)
	}
	sortAndClassify(infos)
	return infos, nil
}

// sortAndClassify orders infos by namespace, then newest version first, unversioned
// last, and sets the latest/previous/older state within each namespace.
func sortAndClassify(infos []Info) {
	sort.SliceStable(infos, func(i, j int) bool {
		a, b := infos[i], infos[j]
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		if (a.State == StateUnversioned) != (b.State == StateUnversioned) {
			return b.State == StateUnversioned
		}
		return a.Version.Time.After(b.Version.Time)
	})
	rank := 0
	for i := range infos {
		if i == 0 || infos[i].Namespace != infos[i-1].Namespace {
			rank = 0
		}
		if infos[i].State == StateUnversioned {
			continue
		}
		switch rank {
		case 0:
			infos[i].State = StateLatest
		case 1:
			infos[i].State = StatePrevious
		default:
			infos[i].State = StateOlder
		}
		rank++
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
