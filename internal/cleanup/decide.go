package cleanup

import (
	"context"
	"fmt"
	"sort"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/internal/refs"
	"github.com/rotor-project/rotor/internal/retention"
)

// Where a CronJob's re-point time comes from.
const (
	repointFromRecord       = "record"
	repointFromLastModified = "last-modified"
)

// cronJobInfo is what the hold of a CronJob depends on.
type cronJobInfo struct {
	found        bool
	schedule, tz string
	// lastModified is the latest write to the CronJob other than its status: an upper
	// bound of when it was re-pointed, used when no rotation record says.
	lastModified time.Time
}

// decider classifies candidates against one scan result.
type decider struct {
	c       *Cleaner
	req     Request
	now     time.Time
	records []*v1alpha1.SecretRotation
	// inProgress names the rotation that still names a version (namespace/version).
	inProgress map[string]string
	cronJobs   map[string]*cronJobInfo
}

// decide sets it.Decision and it.Outcome from the references in res.
func (d *decider) decide(ctx context.Context, it *Item, res *refs.Result) error {
	unchecked := false
	for _, n := range res.NotChecked {
		if !ignorable(n) && (n.File != "" || n.Namespace == "" || n.Namespace == it.Namespace) {
			unchecked = true
		}
	}
	if name, ok := d.inProgress[key(it.Namespace, it.Name)]; ok {
		it.Outcome = retention.KeptRotation
		it.Decision = retention.Decision{Outcome: retention.KeptRotation}
		it.Notes = append(it.Notes, "rotation "+name+" has not finished and may still move consumers to or back to it")
		return nil
	}
	found := referencesTo(it, res.References)
	uses, err := d.cronUses(ctx, it, found)
	if err != nil {
		return err
	}
	it.Decision = retention.Classify(d.req.Policy, d.now, found, uses, unchecked)
	it.Outcome = it.Decision.Outcome
	return nil
}

// referencesTo picks the references to it: cluster references to a Secret of its
// namespace (a pod's own namespace; the one a PersistentVolume or a Gateway names; any
// namespace for a ClusterAnalysisTemplate's argument), manifests of its namespace or
// of none. The
// ExternalSecret that created the version is not a reference: it goes with it.
func referencesTo(it *Item, all []refs.Reference) []retention.Reference {
	var out []retention.Reference
	for _, r := range all {
		if r.Secret != it.Name {
			continue
		}
		if r.File == "" && r.SecretNamespace != "" && r.SecretNamespace != it.Namespace {
			continue // names a Secret of another namespace ("" resolves in any: it counts)
		}
		if r.File != "" && r.Object.Namespace != "" && r.Object.Namespace != it.Namespace {
			continue
		}
		if r.File == "" && it.ExternalSecret != nil && r.Object.Kind == "ExternalSecret" && r.Object.UID == it.ExternalSecret.UID {
			continue
		}
		out = append(out, convert(r))
	}
	return out
}

func convert(r refs.Reference) retention.Reference {
	out := retention.Reference{
		Kind: r.Object.Kind, Namespace: r.Object.Namespace, Name: r.Object.Name, Path: r.Path,
		Role: retention.Role(r.Role), Revision: r.Revision, File: r.File, Line: r.Line,
	}
	if n := len(r.Owners); n > 0 {
		top := r.Owners[n-1]
		out.Owner = &retention.Workload{Kind: top.Kind, Name: top.Name}
	}
	return out
}

// cronUses are the CronJobs of it's namespace that ran with the version and were
// re-pointed away from it: those whose finished Jobs name it, and those a rotation
// record moved away from it. A CronJob that no longer exists holds nothing.
func (d *decider) cronUses(ctx context.Context, it *Item, found []retention.Reference) ([]retention.CronUse, error) {
	repointed := map[string]time.Time{}
	for _, r := range d.records {
		if r.Namespace != it.Namespace || r.Status.Phase != v1alpha1.Succeeded || r.Status.Finished == nil {
			continue
		}
		fin := r.Status.Finished.Time
		for _, c := range r.Status.Consumers {
			if c.Kind == "CronJob" && c.From == it.Name && c.To != it.Name && fin.After(repointed[c.Name]) {
				repointed[c.Name] = fin
			}
		}
	}
	names := map[string]bool{}
	for n := range repointed {
		names[n] = true
	}
	for _, w := range retention.CronJobsUsing(found) {
		names[w.Name] = true
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	var out []retention.CronUse
	for _, n := range sorted {
		info, err := d.cronJob(ctx, it.Namespace, n)
		if err != nil {
			return nil, err
		}
		if !info.found {
			continue
		}
		u := retention.CronUse{CronJob: retention.Workload{Kind: "CronJob", Name: n}, Schedule: info.schedule, TimeZone: info.tz}
		if t, ok := repointed[n]; ok {
			u.RepointedAt, u.RepointSource = t, repointFromRecord
		} else {
			u.RepointedAt, u.RepointSource = info.lastModified, repointFromLastModified
		}
		h, err := retention.HoldForCronJob(info.schedule, info.tz, u.RepointedAt, d.req.Policy.Retain)
		if err != nil {
			u.Problem = err.Error()
		}
		u.Hold = h
		out = append(out, u)
	}
	return out, nil
}

func (d *decider) cronJob(ctx context.Context, ns, name string) (*cronJobInfo, error) {
	k := key(ns, name)
	if info, ok := d.cronJobs[k]; ok {
		return info, nil
	}
	info := &cronJobInfo{}
	cj, err := d.c.Client.BatchV1().CronJobs(ns).Get(ctx, name, metav1.GetOptions{})
	switch {
	case isNotFound(err):
	case err != nil:
		return nil, fmt.Errorf("reading CronJob %s/%s for its schedule: %w", ns, name, err)
	default:
		info.found = true
		info.schedule = cj.Spec.Schedule
		if cj.Spec.TimeZone != nil {
			info.tz = *cj.Spec.TimeZone
		}
		info.lastModified = cj.CreationTimestamp.UTC()
		for _, m := range cj.ManagedFields {
			if m.Subresource == "" && m.Time != nil && m.Time.After(info.lastModified) {
				info.lastModified = m.Time.UTC()
			}
		}
	}
	d.cronJobs[k] = info
	return info, nil
}
