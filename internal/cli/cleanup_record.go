package cli

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/internal/cleanup"
	"github.com/rotor-project/rotor/internal/retention"
	"github.com/rotor-project/rotor/internal/rotation"
)

// recordDeleted ticks "old version deleted" in the journal of every rotation in an
// environment that moved consumers away from a version this cleanup deleted: the last
// item of its checklist (history --env). A journal that cannot be amended is a warning,
// never a failure: the Secret is gone either way.
func recordDeleted(ctx context.Context, r *runner, plan *cleanup.Plan, fam string, warn io.Writer) {
	deleted := map[string]map[string]bool{}
	for _, it := range plan.Items {
		if it.Outcome == retention.Deleted {
			if deleted[it.Namespace] == nil {
				deleted[it.Namespace] = map[string]bool{}
			}
			deleted[it.Namespace][it.Name] = true
		}
	}
	now := r.eng.Clock.Now()
	for _, ns := range sortedKeys(deleted) {
		rots, err := r.eng.Journal.List(ctx, ns, fam)
		if err != nil {
			fmt.Fprintf(warn, "warning: the versions were deleted, but the rotations of %s in %s could not be read to record it: %v\n", fam, ns, err)
			continue
		}
		entries := deletedEntries(rots, deleted[ns], r.eng.By, now)
		for _, rot := range rots {
			e, ok := entries[rot.Name]
			if !ok {
				continue
			}
			if _, err := amendJournal(ctx, r, rot, func(cur *v1alpha1.SecretRotation) { rotation.Check(&cur.Status, e) }); err != nil {
				fmt.Fprintf(warn, "warning: %s was deleted, but recording it in rotation %s in %s failed: %v\n", e.Detail, rot.Name, ns, err)
			}
		}
	}
}

// deletedEntries are the "old version deleted" checklist entries, by rotation name, of
// the rotations whose old versions (the versions they moved consumers from) include one
// deleted now. Only rotations whose checklist says when their old version became
// eligible for cleanup (a rotation in an environment that succeeded) get one, once.
func deletedEntries(rots []*v1alpha1.SecretRotation, deleted map[string]bool, by string, now time.Time) map[string]v1alpha1.ChecklistEntry {
	out := map[string]v1alpha1.ChecklistEntry{}
	for _, rot := range rots {
		if !hasCheck(rot, checkEligible) || hasCheck(rot, checkDeleted) {
			continue
		}
		var gone []string
		for _, v := range fromVersions(rot) {
			if deleted[v] {
				gone = append(gone, v)
			}
		}
		if len(gone) > 0 {
			out[rot.Name] = v1alpha1.ChecklistEntry{Name: checkDeleted, At: metav1.NewTime(now), By: by,
				Detail: strings.Join(gone, ", ") + " deleted by rotor cleanup"}
		}
	}
	return out
}

func hasCheck(rot *v1alpha1.SecretRotation, name string) bool {
	for _, e := range rot.Status.Checklist {
		if e.Name == name {
			return true
		}
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
