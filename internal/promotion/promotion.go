// Package promotion decides whether a rotation of a Secret family may start in an
// environment that requires others ("production only after staging ran healthy for a
// day"): policy above the engine, read from the journals of the other environments.
//
// For every environment it requires, in every cluster and namespace of it, the gate
// looks at that environment's latest rotation of the family (or the one of the
// rotation ID asked for) and requires that it succeeded, was not reverted since,
// passed the verification Job and the analysis that environment's policy asks for,
// has soaked (stayed finished and healthy) for that environment's soak, and started
// after the target environment's last successful rotation, so the same staging
// rotation is never promoted twice. Each unmet condition is named in a sentence with
// what to do, and the soak's end is given as a time.
//
// The package is pure: the caller reads the journals (from each environment's own
// clusters) and passes the time.
package promotion

import (
	"fmt"
	"sort"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rotor-project/rotor/api/v1alpha1"
)

// Scope is one cluster (kube context, "" for the current one) and namespace of an
// environment, with the family's rotations recorded there, in any order.
type Scope struct {
	Context   string
	Namespace string
	Rotations []*v1alpha1.SecretRotation
}

// Where is "namespace stg" or "namespace stg of cluster staging-eu".
func (s Scope) Where() string {
	if s.Context == "" {
		return fmt.Sprintf("namespace %s", s.Namespace)
	}
	return fmt.Sprintf("namespace %s of cluster %s", s.Namespace, s.Context)
}

// Requirement is an environment the target requires, with what its policy asks of a
// rotation and where it lives.
type Requirement struct {
	Environment string
	Soak        time.Duration
	// Verify and Analysis: the environment's policy runs a verification Job, an
	// analysis; its rotation must have passed them.
	Verify   bool
	Analysis bool
	Scopes   []Scope
}

// Input is what the gate decides on.
type Input struct {
	Family string
	// Environment is the target; Target its scopes, with their rotations.
	Environment string
	Target      []Scope
	Requires    []Requirement
	// Run, if set, is the rotation ID (spec.run) in the required environments to
	// promote from, instead of their latest rotation.
	Run string
	Now time.Time
}

// Unmet is one condition that is not met.
type Unmet struct {
	Environment string
	Scope       Scope
	// Reason says what is missing and what to do, in a sentence.
	Reason string
	// SoakEnds is set when the missing condition is the soak: when it ends.
	SoakEnds time.Time
}

func (u Unmet) String() string { return u.Reason }

// Decision is the gate's answer.
type Decision struct {
	// Unmet lists every condition not met; empty means the promotion may start.
	Unmet []Unmet
	// SoakEnds is the latest soak end among the required rotations (zero when none).
	SoakEnds time.Time
	// Links are the rotations promoted from, one per scope of each requirement, for
	// spec.environment.promotedFrom.
	Links []v1alpha1.RotationLink
	// Checklist are the milestones of the required environments the promoted
	// rotation's journal records: each environment deployed, verified, the soak
	// complete.
	Checklist []v1alpha1.ChecklistEntry
}

// Allowed reports whether every condition is met.
func (d Decision) Allowed() bool { return len(d.Unmet) == 0 }

// Decide evaluates the gate.
func Decide(in Input) Decision {
	var d Decision
	last := lastSuccess(in.Target)
	for _, r := range in.Requires {
		var deployed, verified, soaked time.Time
		var links []string
		for _, s := range r.Scopes {
			rot, unmet := pick(in, r, s)
			if unmet != "" {
				d.Unmet = append(d.Unmet, Unmet{Environment: r.Environment, Scope: s, Reason: unmet})
				continue
			}
			link := v1alpha1.RotationLink{Environment: r.Environment, Context: s.Context, Namespace: s.Namespace, Name: rot.Name,
				Run: rot.Spec.Run, Version: rot.Status.TargetVersion, Finished: rot.Status.Finished}
			end := rot.Status.Finished.Add(r.Soak)
			link.SoakEnded = &metav1.Time{Time: end}
			links = append(links, fmt.Sprintf("%s in %s", rot.Name, s.Where()))
			if end.After(d.SoakEnds) {
				d.SoakEnds = end
			}
			for _, reason := range conditions(in, r, s, rot, last) {
				d.Unmet = append(d.Unmet, Unmet{Environment: r.Environment, Scope: s, Reason: reason})
			}
			if end.After(in.Now) {
				d.Unmet = append(d.Unmet, Unmet{Environment: r.Environment, Scope: s, SoakEnds: end,
					Reason: fmt.Sprintf("%s's rotation %s in %s finished %s; its soak of %s ends %s (in %s)", r.Environment, rot.Name, s.Where(),
						stamp(rot.Status.Finished.Time), duration(r.Soak), stamp(end), duration(end.Sub(in.Now).Round(time.Second)))})
			}
			d.Links = append(d.Links, link)
			deployed = later(deployed, milestone(rot, "all pods on the new version", rot.Status.Finished.Time))
			if r.Verify {
				verified = later(verified, milestone(rot, "verified", rot.Status.Finished.Time))
			}
			soaked = later(soaked, end)
		}
		if len(links) == len(r.Scopes) && len(links) > 0 {
			detail := strings.Join(links, "; ")
			d.Checklist = append(d.Checklist, v1alpha1.ChecklistEntry{Name: r.Environment + " deployed", At: metav1.NewTime(deployed), Detail: detail})
			if r.Verify {
				d.Checklist = append(d.Checklist, v1alpha1.ChecklistEntry{Name: r.Environment + " verified", At: metav1.NewTime(verified), Detail: detail})
			}
			if !soaked.After(in.Now) {
				d.Checklist = append(d.Checklist, v1alpha1.ChecklistEntry{Name: "soak complete", At: metav1.NewTime(soaked),
					Detail: fmt.Sprintf("%s soaked %s", r.Environment, duration(r.Soak))})
			}
		}
	}
	return d
}

// pick is the requirement's rotation in a scope: the one of the asked rotation ID, or
// the latest rollout; or why there is none to promote from.
func pick(in Input, r Requirement, s Scope) (*v1alpha1.SecretRotation, string) {
	var rollouts []*v1alpha1.SecretRotation
	for _, rot := range s.Rotations {
		if rot.Spec.Action == v1alpha1.ActionRollout || rot.Spec.Action == "" {
			rollouts = append(rollouts, rot)
		}
	}
	sort.SliceStable(rollouts, func(i, j int) bool { return startOf(rollouts[i]).Before(startOf(rollouts[j])) })
	var rot *v1alpha1.SecretRotation
	switch {
	case in.Run != "":
		for _, x := range rollouts {
			if x.Spec.Run == in.Run {
				rot = x
			}
		}
		if rot == nil {
			return nil, fmt.Sprintf("%s has no rotation %s of %s in %s: list its rotations with: rotor history %s --env %s", r.Environment, in.Run, in.Family, s.Where(), in.Family, r.Environment)
		}
	case len(rollouts) == 0:
		return nil, fmt.Sprintf("%s has no rotation of %s in %s: every change goes through %s first: rotor rotate %s --env %s", r.Environment, in.Family, s.Where(), r.Environment, in.Family, r.Environment)
	default:
		rot = rollouts[len(rollouts)-1]
	}
	st := rot.Status
	switch {
	case !st.Phase.Final():
		return nil, fmt.Sprintf("%s's rotation %s in %s has not finished (%s): wait for it, or resume it with the command that started it", r.Environment, rot.Name, s.Where(), orPending(st.Phase))
	case st.Phase != v1alpha1.Succeeded:
		return nil, fmt.Sprintf("%s's rotation %s in %s did not succeed (%s: %s): fix it and rotate %s again", r.Environment, rot.Name, s.Where(), st.Phase, st.Message, r.Environment)
	case st.RevertedBy != "":
		return nil, fmt.Sprintf("%s's rotation %s in %s was reverted by %s: rotate %s again", r.Environment, rot.Name, s.Where(), st.RevertedBy, r.Environment)
	case st.Finished == nil:
		return nil, fmt.Sprintf("%s's rotation %s in %s has no finish time in its journal", r.Environment, rot.Name, s.Where())
	}
	return rot, ""
}

// conditions are the unmet conditions of a succeeded rotation, besides its soak.
func conditions(in Input, r Requirement, s Scope, rot *v1alpha1.SecretRotation, last *v1alpha1.SecretRotation) []string {
	var out []string
	if r.Verify && !passed(rot, "verify") {
		out = append(out, fmt.Sprintf("%s's rotation %s in %s did not pass a verification Job (%s's policy runs one): rotate %s again", r.Environment, rot.Name, s.Where(), r.Environment, r.Environment))
	}
	if r.Analysis && !passed(rot, "analysis") {
		out = append(out, fmt.Sprintf("%s's rotation %s in %s was not analysed (%s's policy has an analysis): rotate %s again", r.Environment, rot.Name, s.Where(), r.Environment, r.Environment))
	}
	if w := rot.Status.Watch; w != nil && w.Phase != "" && w.Phase != "Running" && w.Phase != "Successful" {
		out = append(out, fmt.Sprintf("%s's rotation %s in %s failed its post-rotation watch (%s)", r.Environment, rot.Name, s.Where(), w.Phase))
	}
	if last != nil && !startOf(rot).After(startOf(last)) {
		out = append(out, fmt.Sprintf("%s's rotation %s in %s (started %s) is not newer than %s's last rotation %s (started %s): it was promoted already; rotate %s again first",
			r.Environment, rot.Name, s.Where(), stamp(startOf(rot)), in.Environment, last.Name, stamp(startOf(last)), r.Environment))
	}
	return out
}

// passed reports whether a gate of that kind (analysis, verify) passed.
func passed(rot *v1alpha1.SecretRotation, kind string) bool {
	for _, g := range rot.Status.Gates {
		if g.Phase != "Successful" {
			continue
		}
		for _, name := range strings.Split(g.Gate, "+") {
			if name == kind {
				return true
			}
		}
	}
	return false
}

// lastSuccess is the target environment's latest successful rollout, in any scope.
func lastSuccess(scopes []Scope) *v1alpha1.SecretRotation {
	var last *v1alpha1.SecretRotation
	for _, s := range scopes {
		for _, rot := range s.Rotations {
			if rot.Spec.Action == v1alpha1.ActionRollback || rot.Status.Phase != v1alpha1.Succeeded {
				continue
			}
			if last == nil || startOf(rot).After(startOf(last)) {
				last = rot
			}
		}
	}
	return last
}

func startOf(rot *v1alpha1.SecretRotation) time.Time {
	if rot.Status.Started != nil {
		return rot.Status.Started.Time
	}
	return rot.CreationTimestamp.Time
}

func milestone(rot *v1alpha1.SecretRotation, name string, fallback time.Time) time.Time {
	for _, e := range rot.Status.Checklist {
		if e.Name == name {
			return e.At.Time
		}
	}
	return fallback
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func orPending(p v1alpha1.Phase) v1alpha1.Phase {
	if p == "" {
		return v1alpha1.Pending
	}
	return p
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// duration writes whole days as days (14d), else as Go does without zero units
// (1h15m, 5m).
func duration(d time.Duration) string {
	day := 24 * time.Hour
	if d >= day && d%day == 0 {
		return fmt.Sprintf("%dd", d/day)
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
