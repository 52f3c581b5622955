// Package cleanup deletes old versions of a Secret family that nothing needs any more.
// It plans first and deletes second:
//
//   - Plan lists the family's versions (metadata only, no values), starts each one's
//     retention clock from rotor's rotation records or its creation, picks the
//     candidates with the retention policy, and runs ONE reference scan for all of them
//     (cluster and manifest directories). Each candidate gets an outcome with evidence:
//     deleted, or kept because it is referenced, a rollback target, held by a CronJob's
//     schedule, or named in a manifest.
//   - Execute checks delete permission for every namespace first (nothing half-done),
//     runs one more scan for the versions about to go (references may have appeared
//     while the user read the plan), and deletes each Secret with preconditions on the
//     UID and resourceVersion it was listed with (a Secret changed or re-created since
//     is refused by the API server, not deleted), then the ExternalSecret that
//     created it.
//
// The window that remains: a reference created after the re-check scan read its kind
// and before the delete reaches the API server is not seen. The API server has no
// referential integrity for Secret names, so only an admission policy could close it;
// the window is the length of the delete loop (milliseconds per version), not the time
// the user spent reading the plan.
//
// The package takes clients and a clock, and never prints, reads flags or exits.
package cleanup

import (
	"context"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/utils/clock"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/internal/family"
	"github.com/rotor-project/rotor/internal/refs"
	"github.com/rotor-project/rotor/internal/retention"
)

// Journal lists and deletes rotation journals: journal.Store satisfies it.
type Journal interface {
	List(ctx context.Context, namespace, family string) ([]*v1alpha1.SecretRotation, error)
	Delete(ctx context.Context, rot *v1alpha1.SecretRotation) error
}

// Finder is the reference engine: refs.Finder satisfies it.
type Finder interface {
	Find(ctx context.Context, q refs.Query) (*refs.Result, error)
}

// Cleaner plans and executes cleanups.
type Cleaner struct {
	Client   kubernetes.Interface
	Metadata metadata.Interface
	// Dynamic deletes the ExternalSecrets that created versions; without it such
	// versions are kept.
	Dynamic dynamic.Interface
	Finder  Finder
	Clock   clock.PassiveClock
	// Journal holds the family's rotations: their finished ones start versions'
	// retention clocks, their unfinished ones keep every version they name. Nil: none.
	Journal Journal
	// PageSize bounds each list call; 500 when zero.
	PageSize int64
}

// Request is one cleanup.
type Request struct {
	Family string
	// Namespace is the one namespace to clean, or "" for every namespace.
	Namespace string
	Policy    retention.Policy
	// Paths are manifest files or directories (GitOps repositories) to search too.
	Paths []string
}

// Item is one version and what happens to it.
type Item struct {
	Namespace string
	Name      string
	Version   family.Version
	// UID and ResourceVersion are the Secret as listed: the delete preconditions.
	UID             types.UID
	ResourceVersion string
	// ClockStart, ClockSource and EligibleAt are its retention clock.
	ClockStart  time.Time
	ClockSource retention.ClockSource
	EligibleAt  time.Time
	Outcome     retention.Outcome
	// Decision is the evidence for a candidate's outcome; zero for non-candidates.
	Decision retention.Decision
	// ExternalSecret is the ExternalSecret that created the version, deleted with it.
	ExternalSecret *Owner
	// Notes are what happened beyond the outcome (a reference that appeared after the
	// plan, a failed delete, the --on-delete hook's result).
	Notes []string
}

// Owner is an owning object, named as in an ownerReference.
type Owner struct {
	APIVersion string    `json:"apiVersion"`
	Kind       string    `json:"kind"`
	Name       string    `json:"name"`
	UID        types.UID `json:"uid"`
}

// Plan is the outcome of every version of the family, before anything is deleted.
type Plan struct {
	Request Request
	Now     time.Time
	Items   []Item
	// NotChecked are the parts of the scan that could not be done; when any matters,
	// every candidate is kept.
	NotChecked []refs.NotChecked
	// Scans counts reference scans: one per plan, one more per execute.
	Scans int
	// JournalsPruned are the rotation journals the journal retention deleted (or would).
	JournalsPruned []*v1alpha1.SecretRotation
}

// ToDelete returns the indexes of items planned for deletion.
func (p *Plan) ToDelete() []int {
	var out []int
	for i, it := range p.Items {
		if it.Outcome == retention.Delete {
			out = append(out, i)
		}
	}
	return out
}

func (c *Cleaner) pageSize() int64 {
	if c.PageSize > 0 {
		return c.PageSize
	}
	return 500
}
