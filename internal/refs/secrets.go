package refs

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var secretsGVR = schema.GroupVersionResource{Version: "v1", Resource: "secrets"}

// existence is the set of queried Secrets that exist, by namespace and name.
type existence map[string]bool

func existenceKey(ns, name string) string { return ns + "/" + name }

// existingSecrets lists the metadata of the Secrets the query names (no values cross
// the wire): by field selector for names, the whole list for a family.
func (f *Finder) existingSecrets(ctx context.Context, q Query, m matcher) (existence, error) {
	out := existence{}
	selectors := []string{""}
	if q.Family == "" {
		selectors = selectors[:0]
		for _, n := range q.Names {
			selectors = append(selectors, fields.OneTermEqualSelector("metadata.name", n).String())
		}
	}
	limit := f.PageSize
	if limit <= 0 {
		limit = 500
	}
	for _, sel := range selectors {
		opts := metav1.ListOptions{FieldSelector: sel, Limit: limit}
		for {
			l, err := f.Metadata.Resource(secretsGVR).Namespace(q.Namespace).List(ctx, opts)
			if err != nil {
				return nil, err
			}
			for _, s := range l.Items {
				if m.match(s.Name) {
					out[existenceKey(s.Namespace, s.Name)] = true
					out[existenceKey("*", s.Name)] = true
				}
			}
			if l.Continue == "" {
				break
			}
			opts.Continue = l.Continue
		}
	}
	return out, nil
}

// mark sets Dangling on cluster references whose Secret does not exist in their
// namespace, and returns the queried or referenced names no Secret has.
func (e existence) mark(refs []Reference, q Query) []string {
	missing := map[string]bool{}
	for _, n := range q.Names {
		if !e[existenceKey("*", n)] {
			missing[n] = true
		}
	}
	for i := range refs {
		r := &refs[i]
		if r.File != "" {
			continue
		}
		ns := r.SecretNamespace
		if ns == "" {
			ns = "*" // resolves in any namespace: dangling only when no namespace has it
		}
		r.Dangling = !e[existenceKey(ns, r.Secret)]
		if !e[existenceKey("*", r.Secret)] {
			missing[r.Secret] = true
		}
	}
	out := make([]string, 0, len(missing))
	for n := range missing {
		out = append(out, n)
	}
	return out
}
