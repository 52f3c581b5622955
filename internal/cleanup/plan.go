package cleanup

import (
	"context"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/internal/family"
	"github.com/rotor-project/rotor/internal/refs"
	"github.com/rotor-project/rotor/internal/retention"
)

var secretsGVR = schema.GroupVersionResource{Version: "v1", Resource: "secrets"}

// listed is a version as the metadata list shows it.
type listed struct {
	item   Item
	policy retention.Version
}

// Plan decides the outcome of every version of the family without changing anything.
func (c *Cleaner) Plan(ctx context.Context, req Request) (*Plan, error) {
	if err := family.ValidateFamily(req.Family); err != nil {
		return nil, err
	}
	if req.Policy.Keep < 0 {
		return nil, fmt.Errorf("--keep is %d: give 0 or more newest versions to always keep", req.Policy.Keep)
	}
	now := c.Clock.Now()
	versions, err := c.listVersions(ctx, req)
	if err != nil {
		return nil, err
	}
	records, err := c.records(ctx, req)
	if err != nil {
		return nil, err
	}
	replaced := replacedAt(records)
	byKey := map[string]*listed{}
	var pv []retention.Version
	for i := range versions {
		v := &versions[i]
		if t, ok := replaced[key(v.item.Namespace, v.item.Name)]; ok {
			v.policy.ReplacedAt = &t
		}
		byKey[key(v.item.Namespace, v.item.Name)] = v
		pv = append(pv, v.policy)
	}
	plan := &Plan{Request: req, Now: now}
	var candidates []int
	for _, s := range retention.Select(req.Policy, now, pv) {
		it := byKey[key(s.Version.Namespace, s.Version.Name)].item
		it.ClockStart, it.ClockSource, it.EligibleAt = s.ClockStart, s.ClockSource, s.EligibleAt
		it.Outcome = s.Outcome
		if s.Candidate {
			candidates = append(candidates, len(plan.Items))
		}
		plan.Items = append(plan.Items, it)
	}
	if len(candidates) == 0 {
		return plan, nil
	}
	res, err := c.scan(ctx, req, plan, candidates)
	if err != nil {
		return nil, err
	}
	plan.NotChecked = res.NotChecked
	d := decider{c: c, req: req, now: now, records: records, inProgress: inProgress(records), cronJobs: map[string]*cronJobInfo{}}
	for _, i := range candidates {
		if err := d.decide(ctx, &plan.Items[i], res); err != nil {
			return nil, err
		}
	}
	return plan, nil
}

// scan runs one reference scan for the given items.
func (c *Cleaner) scan(ctx context.Context, req Request, plan *Plan, idx []int) (*refs.Result, error) {
	q := refs.Query{Namespace: req.Namespace, Paths: req.Paths}
	seen := map[string]bool{}
	for _, i := range idx {
		if n := plan.Items[i].Name; !seen[n] {
			seen[n] = true
			q.Names = append(q.Names, n)
		}
	}
	plan.Scans++
	res, err := c.Finder.Find(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("searching for references: %w", err)
	}
	return res, nil
}

// listVersions lists the family's versions (metadata only: no values cross the wire).
// The unversioned Secret and names that are not versions of the family are skipped:
// cleanup never touches them.
func (c *Cleaner) listVersions(ctx context.Context, req Request) ([]listed, error) {
	var out []listed
	opts := metav1.ListOptions{Limit: c.pageSize()}
	for {
		page, err := c.Metadata.Resource(secretsGVR).Namespace(req.Namespace).List(ctx, opts)
		if err != nil {
			where := fmt.Sprintf("in namespace %q", req.Namespace)
			if req.Namespace == "" {
				where = "across all namespaces"
			}
			return nil, fmt.Errorf("cannot list secrets %s: %w", where, err)
		}
		for _, s := range page.Items {
			v, ok := family.ParseIn(req.Family, s.Name)
			if !ok {
				continue
			}
			it := Item{Namespace: s.Namespace, Name: s.Name, Version: v, UID: s.UID, ResourceVersion: s.ResourceVersion}
			for _, o := range s.OwnerReferences {
				if o.Kind == "ExternalSecret" && strings.HasPrefix(o.APIVersion, "external-secrets.io/") {
					it.ExternalSecret = &Owner{APIVersion: o.APIVersion, Kind: o.Kind, Name: o.Name, UID: o.UID}
				}
			}
			out = append(out, listed{item: it, policy: retention.Version{
				Namespace: s.Namespace, Name: s.Name, Time: v.Time, CreationTimestamp: s.CreationTimestamp.UTC(),
			}})
		}
		if page.Continue == "" {
			return out, nil
		}
		opts.Continue = page.Continue
	}
}

func (c *Cleaner) records(ctx context.Context, req Request) ([]*v1alpha1.SecretRotation, error) {
	if c.Journal == nil {
		return nil, nil
	}
	return c.Journal.List(ctx, req.Namespace, req.Family)
}

func key(ns, name string) string { return ns + "/" + name }

// replacedAt is, per namespace and version, when a finished rotation last moved
// consumers away from it: the start of its retention clock. A rotation speaks only for
// the versions of its own namespace.
func replacedAt(rots []*v1alpha1.SecretRotation) map[string]time.Time {
	out := map[string]time.Time{}
	for _, r := range rots {
		if r.Status.Phase != v1alpha1.Succeeded || r.Status.Finished == nil {
			continue
		}
		fin := r.Status.Finished.Time
		for _, c := range r.Status.Consumers {
			if c.Skip || c.From == "" || c.From == c.To {
				continue
			}
			k := key(r.Namespace, c.From)
			if t, ok := out[k]; !ok || fin.After(t) {
				out[k] = fin
			}
		}
	}
	return out
}

// inProgress names, per namespace and version, the rotation that is not final and
// may still move consumers to it or back to it: every version it names (from, to,
// and its green copies' version).
func inProgress(rots []*v1alpha1.SecretRotation) map[string]string {
	out := map[string]string{}
	for _, r := range rots {
		if r.Status.Phase.Final() {
			continue
		}
		add := func(v string) {
			if v != "" {
				out[key(r.Namespace, v)] = r.Name
			}
		}
		add(r.Status.TargetVersion)
		for _, c := range r.Status.Consumers {
			add(c.From)
			add(c.To)
		}
	}
	return out
}

// ignorable is a part of the scan whose absence cannot hide a reference: a kind the
// cluster does not serve has no objects.
func ignorable(n refs.NotChecked) bool {
	return n.File == "" && n.Reason == "not served by this cluster"
}

func isNotFound(err error) bool { return apierrors.IsNotFound(err) }
