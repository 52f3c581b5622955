package rollout

import (
	"context"
	"fmt"
	"strings"

	"github.com/rotor-project/rotor/internal/family"
	"github.com/rotor-project/rotor/internal/kinds"
	"github.com/rotor-project/rotor/internal/refs"
	"github.com/rotor-project/rotor/internal/repoint"
)

// RefsFinder finds consumers with the reference engine: the objects behind every live
// reference to a version of the family, resolved to what can be re-pointed (a Pod's
// Deployment, not the Pod).
type RefsFinder struct {
	Finder *refs.Finder
}

// Consumers implements ConsumerFinder. A kind the caller may not list makes it fail:
// a rotation that cannot see every consumer would leave some on the old version.
func (f RefsFinder) Consumers(ctx context.Context, namespace, fam string) ([]Consumer, error) {
	res, err := f.Finder.Find(ctx, refs.Query{Namespace: namespace, Family: fam})
	if err != nil {
		return nil, err
	}
	if len(res.NotChecked) > 0 {
		var parts []string
		for _, nc := range res.NotChecked {
			parts = append(parts, fmt.Sprintf("%s (%s)", nc.Kind, nc.Reason))
		}
		return nil, fmt.Errorf("cannot see every consumer of %q, so nothing was changed: not checked: %s", fam, strings.Join(parts, ", "))
	}
	seen := map[string]int{}
	var out []Consumer
	add := func(c Consumer) {
		key := c.Kind + "/" + c.Namespace + "/" + c.Name
		if i, ok := seen[key]; ok {
			if out[i].Judged == nil {
				out[i].Judged = c.Judged
			}
			return
		}
		seen[key] = len(out)
		out = append(out, c)
	}
	for _, r := range res.References {
		if r.Role != refs.RoleLive || r.File != "" {
			continue
		}
		if _, ok := family.ParseIn(fam, r.Secret); !ok {
			continue // the unversioned Secret is not rotated
		}
		for _, c := range consumersOf(r) {
			add(c)
		}
	}
	// An object judged through another (a Rollout whose workloadRef names a
	// Deployment) is consumed through that one: the Deployment is re-pointed.
	judged := map[string]bool{}
	for _, c := range out {
		if c.Judged != nil {
			judged[c.Judged.Kind+"/"+c.Judged.Namespace+"/"+c.Judged.Name] = true
		}
	}
	kept := out[:0]
	for _, c := range out {
		if !judged[c.Kind+"/"+c.Namespace+"/"+c.Name] {
			kept = append(kept, c)
		}
	}
	return kept, nil
}

// consumersOf maps a live reference to the objects that own its spec, as the kinds
// registry says: the workload behind a Pod (its owners that are consumers), the object
// itself for every other consumer kind, nothing for revision history. An immutable
// consumer (a running Job, a bare Pod, a StorageClass) is reported, not patched.
func consumersOf(r refs.Reference) []Consumer {
	obj := r.Object
	k := kinds.Lookup(obj.Kind)
	if k == nil || !k.Consumer() {
		return nil
	}
	if k.FromOwner && len(r.Owners) > 0 {
		var out []Consumer
		for _, o := range r.Owners {
			if ok := kinds.Lookup(o.Kind); ok != nil && ok.Consumer() {
				out = append(out, consumer(o, ok, nil))
			}
		}
		return out
	}
	return []Consumer{consumer(obj, k, r.Owners)}
}

// consumer is the Consumer of object o of kind k. An object whose owner takes its
// template from it (a Deployment named by a Rollout's workloadRef) is judged by that
// owner.
func consumer(o refs.ObjectRef, k *kinds.Kind, owners []refs.ObjectRef) Consumer {
	c := Consumer{Target: repoint.Target{Kind: o.Kind, Namespace: o.Namespace, Name: o.Name}}
	if k.Repoint == kinds.Immutable {
		c.Immutable, c.Note = true, k.Effect
	}
	for _, own := range owners {
		if ok := kinds.Lookup(own.Kind); ok != nil && ok.TemplateFrom != nil {
			c.Judged = &repoint.Target{Kind: own.Kind, Namespace: own.Namespace, Name: own.Name}
		}
	}
	return c
}
