package rollout

import (
	"context"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/rotor-project/rotor/internal/family"
	"github.com/rotor-project/rotor/internal/refs"
	"github.com/rotor-project/rotor/internal/repoint"
)

// readResources are the kinds a consumer can be, for reading (re-pointable kinds plus
// bare Pods).
var readResources = func() map[string]schema.GroupVersionResource {
	m := map[string]schema.GroupVersionResource{"Pod": {Version: "v1", Resource: "pods"}}
	for k, v := range repoint.Resources {
		m[k] = v
	}
	return m
}()

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
	seen := map[string]bool{}
	var out []Consumer
	add := func(c Consumer) {
		key := c.Kind + "/" + c.Namespace + "/" + c.Name
		if !seen[key] {
			seen[key] = true
			out = append(out, c)
		}
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
	return out, nil
}

// consumersOf maps a live reference to the objects that own its spec: the workload
// behind a Pod, a Job that is still running (reported, not patched), the object itself.
func consumersOf(r refs.Reference) []Consumer {
	obj := r.Object
	target := func(o refs.ObjectRef) Consumer {
		return Consumer{Target: repoint.Target{Kind: o.Kind, Namespace: o.Namespace, Name: o.Name}}
	}
	switch obj.Kind {
	case "Pod":
		var out []Consumer
		for _, o := range r.Owners {
			switch o.Kind {
			case "Job":
				c := target(o)
				c.Running = true
				out = append(out, c)
			case "Deployment", "StatefulSet", "DaemonSet", "CronJob", "Rollout":
				out = append(out, target(o))
			}
		}
		if len(r.Owners) == 0 {
			c := target(obj)
			c.Bare = true
			out = append(out, c)
		}
		return out
	case "Job":
		c := target(obj)
		c.Running = true
		return []Consumer{c}
	case "ReplicaSet", "ControllerRevision", "ReplicationController":
		// A live ReplicaSet belongs to a Deployment found through its own template.
		return nil
	}
	if _, ok := repoint.Resources[obj.Kind]; ok {
		return []Consumer{target(obj)}
	}
	return nil
}
