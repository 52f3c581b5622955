package retention

import (
	"sort"
	"time"
)

// ClockSource says where a version's retention clock starts.
type ClockSource string

// Clock sources.
const (
	// FromReplaced: a finished rotation recorded when consumers moved away from it.
	FromReplaced ClockSource = "replaced"
	// FromCreated: no rotation record names it; the clock starts at creation.
	FromCreated ClockSource = "created"
)

// Version is one version of the family in one namespace, as cleanup sees it.
type Version struct {
	Namespace string
	Name      string
	// Time is the UTC second in the version's name.
	Time time.Time
	// CreationTimestamp is when the API server stored the Secret.
	CreationTimestamp time.Time
	// ReplacedAt is when a finished rotation last moved consumers away from it, if a
	// rotation record says so.
	ReplacedAt *time.Time
	// Untrusted marks a Secret that fits the name pattern but that rotor neither
	// created nor adopted, or whose name lies in the future: never deleted, and not
	// counted among the newest.
	Untrusted bool
}

// Clock returns when v's retention clock started and why: the later of its creation
// (the name's time, or the creationTimestamp when the Secret was stored later, as for a
// re-created or restored version) and the last recorded replacement.
func (v Version) Clock() (time.Time, ClockSource) {
	start, src := v.Time, FromCreated
	if v.CreationTimestamp.After(start) {
		start = v.CreationTimestamp
	}
	if v.ReplacedAt != nil && !v.ReplacedAt.Before(start) {
		start, src = *v.ReplacedAt, FromReplaced
	}
	return start, src
}

// Policy is what the user asked for.
type Policy struct {
	// Retain is how long a version is kept after its clock starts.
	Retain time.Duration
	// Keep is how many of the newest versions per namespace are always kept.
	Keep int
	// AllowBreakingUndo deletes versions that only old ReplicaSets or
	// ControllerRevisions name.
	AllowBreakingUndo bool
}

// Selection is the first decision about one version, before any reference scan.
type Selection struct {
	Version Version
	// Candidate is true when only references can still keep the version.
	Candidate bool
	// Outcome is why a non-candidate is kept (KeptNewest or KeptRetention).
	Outcome Outcome
	// ClockStart and ClockSource are where its retention clock started.
	ClockStart  time.Time
	ClockSource ClockSource
	// EligibleAt is when retention alone stops keeping it.
	EligibleAt time.Time
}

// Select orders versions per namespace, newest first, and says for each whether it is
// a candidate: trusted, not the newest in its namespace nor one of the newest Keep
// (the newest is kept even with Keep 0: it is what "latest" means), and its clock
// started at least Retain before now.
func Select(p Policy, now time.Time, versions []Version) []Selection {
	vs := append([]Version(nil), versions...)
	sort.SliceStable(vs, func(i, j int) bool {
		if vs[i].Namespace != vs[j].Namespace {
			return vs[i].Namespace < vs[j].Namespace
		}
		if !vs[i].Time.Equal(vs[j].Time) {
			return vs[i].Time.After(vs[j].Time)
		}
		return vs[i].Name < vs[j].Name
	})
	out := make([]Selection, 0, len(vs))
	rank := 0
	for i, v := range vs {
		if i == 0 || v.Namespace != vs[i-1].Namespace {
			rank = 0
		}
		start, src := v.Clock()
		s := Selection{Version: v, ClockStart: start, ClockSource: src, EligibleAt: start.Add(p.Retain)}
		if v.Untrusted {
			s.Outcome = KeptUntrusted
			out = append(out, s)
			continue
		}
		switch {
		case rank < p.Keep || rank == 0:
			s.Outcome = KeptNewest
		case now.Before(s.EligibleAt):
			s.Outcome = KeptRetention
		default:
			s.Candidate = true
		}
		out = append(out, s)
		rank++
	}
	return out
}
