package retention

import (
	"sort"
	"time"
)

// Role is what a reference means for the version it names.
type Role string

// Roles, as the reference engine reports them.
const (
	// Live: a running or desired object names the version; deleting it breaks pods.
	Live Role = "live"
	// RollbackTarget: an old ReplicaSet or ControllerRevision names it; deleting it
	// breaks `kubectl rollout undo` to that revision.
	RollbackTarget Role = "rollback-target"
	// Finished: a finished Job or Pod named it; nothing will start with it again.
	Finished Role = "finished"
)

// Workload names a top-level object.
type Workload struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
}

// Reference is one place that names a version.
type Reference struct {
	// Kind, Namespace and Name are the referencing object; Path the field in it.
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	Path      string `json:"path,omitempty"`
	Role      Role   `json:"role"`
	// Owner is the workload that owns the referencing object (the Deployment of an old
	// ReplicaSet, the CronJob of a Job), if any.
	Owner *Workload `json:"owner,omitempty"`
	// Revision is the rollout revision of a rollback target.
	Revision string `json:"revision,omitempty"`
	// File and Line locate a reference in a manifest directory.
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
}

// InManifest is true for a reference found in a file rather than in the cluster.
func (r Reference) InManifest() bool { return r.File != "" }

// Outcome is what cleanup does, or did, with a version.
type Outcome string

// Outcomes.
const (
	// Delete is the plan for a version nothing needs; Deleted is the done deed.
	Delete  Outcome = "delete"
	Deleted Outcome = "deleted"

	KeptNewest         Outcome = "kept: newest"
	KeptRetention      Outcome = "kept: retention"
	KeptReferenced     Outcome = "kept: referenced"
	KeptRollbackTarget Outcome = "kept: rollback target"
	KeptCronJob        Outcome = "kept: CronJob retention"
	KeptInManifests    Outcome = "kept: in manifests"
	// KeptRotation: a rotation that has not finished names it (from, to or green): it
	// may still move consumers to it, or back to it.
	KeptRotation Outcome = "kept: rotation in progress"
	// KeptUnverified: the scan could not read everything, so no absence is proven.
	KeptUnverified Outcome = "kept: not fully checked"
	// KeptChanged: the Secret changed, or a reference appeared, after the plan was made.
	KeptChanged Outcome = "kept: changed since scan"
	// Failed: the delete was attempted and refused.
	Failed Outcome = "failed"
)

// Kept is true for every outcome that leaves the version in place.
func (o Outcome) Kept() bool { return o != Delete && o != Deleted }

// CronUse is a CronJob that ran with a version and was re-pointed away from it.
type CronUse struct {
	CronJob     Workload  `json:"cronJob"`
	RepointedAt time.Time `json:"repointedAt"`
	// RepointSource says how RepointedAt is known: "record" (a rotation record) or
	// "last-modified" (the CronJob's last spec write, an upper bound).
	RepointSource string `json:"repointSource"`
	Schedule      string `json:"schedule"`
	TimeZone      string `json:"timeZone,omitempty"`
	// Hold is the computed hold; Problem is set instead when the schedule cannot be
	// read, and the version is then kept.
	Hold    CronHold `json:"hold"`
	Problem string   `json:"problem,omitempty"`
}

// Decision is the outcome for one candidate and the evidence behind it.
type Decision struct {
	Outcome Outcome
	// Live and Manifests are the references that keep the version.
	Live      []Reference
	Manifests []Reference
	// RollbackTargets are the revisions `rollout undo` would break; with
	// AllowBreakingUndo they are broken by the delete.
	RollbackTargets []Reference
	// Cron are the CronJobs that still hold the version.
	Cron []CronUse
	// Finished are references by finished Jobs and Pods: reported, not blocking.
	Finished []Reference
	// Until is when the version's last hold ends (CronJob retention).
	Until time.Time
}

// CronJobsUsing returns the CronJobs whose finished Jobs or Pods named the version.
func CronJobsUsing(refs []Reference) []Workload {
	seen := map[Workload]bool{}
	var out []Workload
	for _, r := range refs {
		if r.Role == Finished && r.Owner != nil && r.Owner.Kind == "CronJob" && !seen[*r.Owner] {
			seen[*r.Owner] = true
			out = append(out, *r.Owner)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Classify decides a candidate's outcome from everything that names it. unchecked
// non-empty means the scan could not read some places: then nothing is proven absent
// and the version is kept. The strongest reason wins: live references, then manifests,
// then CronJob holds, then rollback targets (which AllowBreakingUndo overrides).
func Classify(p Policy, now time.Time, refs []Reference, cron []CronUse, unchecked bool) Decision {
	var d Decision
	for _, r := range refs {
		switch {
		case r.InManifest():
			d.Manifests = append(d.Manifests, r)
		case r.Role == RollbackTarget:
			d.RollbackTargets = append(d.RollbackTargets, r)
		case r.Role == Finished:
			d.Finished = append(d.Finished, r)
		default:
			// Live, and any role this version of rotor does not know: keep.
			d.Live = append(d.Live, r)
		}
	}
	for _, c := range cron {
		if c.Problem != "" || now.Before(c.Hold.Until) {
			d.Cron = append(d.Cron, c)
			if c.Hold.Until.After(d.Until) {
				d.Until = c.Hold.Until
			}
		}
	}
	switch {
	case unchecked:
		d.Outcome = KeptUnverified
	case len(d.Live) > 0:
		d.Outcome = KeptReferenced
	case len(d.Manifests) > 0:
		d.Outcome = KeptInManifests
	case len(d.Cron) > 0:
		d.Outcome = KeptCronJob
	case len(d.RollbackTargets) > 0 && !p.AllowBreakingUndo:
		d.Outcome = KeptRollbackTarget
	default:
		d.Outcome = Delete
	}
	return d
}
