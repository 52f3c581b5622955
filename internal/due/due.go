// Package due decides when a Secret family is due for rotation: its current version —
// the newest one its consumers use, or the newest one when usage is unknown or none is
// used — has been in existence longer than the family's rotate-after period. The
// period comes from configuration when the caller has one (rotor.yaml's
// families[].rotateAfter), else from the rotor.dev/rotate-after annotation of the
// newest version that carries it, so a period set once at `rotor create` follows the
// family. It is pure: the caller passes the versions and the time.
package due

import "time"

// AnnotationRotateAfter is a family's rotation period on a version (30d, 2w, 720h).
const AnnotationRotateAfter = "rotor.dev/rotate-after"

// AnnotationExpiresAt is when a version's value stops working (RFC 3339), set by
// `rotor create --expires-in`.
const AnnotationExpiresAt = "rotor.dev/expires-at"

// Version is one version of a family as the caller knows it.
type Version struct {
	Name    string
	Created time.Time
	// InUse is set when consumers use the version (callers that cannot tell leave it
	// unset for every version).
	InUse bool
	// RotateAfter is its rotor.dev/rotate-after annotation (0: none).
	RotateAfter time.Duration
}

// Status is a family's rotation status.
type Status struct {
	// Current is the version whose age counts; Age its age.
	Current string
	Age     time.Duration
	// RotateAfter is the period (0: none, never due); Source says where it came from.
	RotateAfter time.Duration
	Source      string
	// Due is set once Age passed RotateAfter; DueAt is when it does (or did).
	Due   bool
	DueAt time.Time
}

// Sources of the rotation period.
const (
	SourceConfig     = "config"
	SourceAnnotation = "annotation"
)

// Of is the status of a family with versions at now. configured, when ok, is the
// period from configuration and wins over annotations.
func Of(versions []Version, now time.Time, configured time.Duration, ok bool) Status {
	var s Status
	var newest, inUse, policy *Version
	for i := range versions {
		v := &versions[i]
		if newest == nil || v.Created.After(newest.Created) {
			newest = v
		}
		if v.InUse && (inUse == nil || v.Created.After(inUse.Created)) {
			inUse = v
		}
		if v.RotateAfter > 0 && (policy == nil || v.Created.After(policy.Created)) {
			policy = v
		}
	}
	cur := inUse
	if cur == nil {
		cur = newest
	}
	if cur == nil {
		return s
	}
	s.Current, s.Age = cur.Name, now.Sub(cur.Created)
	switch {
	case ok && configured > 0:
		s.RotateAfter, s.Source = configured, SourceConfig
	case policy != nil:
		s.RotateAfter, s.Source = policy.RotateAfter, SourceAnnotation
	}
	if s.RotateAfter > 0 {
		s.DueAt = cur.Created.Add(s.RotateAfter)
		s.Due = now.After(s.DueAt)
	}
	return s
}
