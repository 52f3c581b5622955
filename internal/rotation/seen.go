package rotation

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/internal/family"
	"github.com/rotor-project/rotor/internal/rollout"
)

// seen is what a step read before its look at the cluster, for the look to take instead
// of reading it again: the consumers as the rotation's plan read them a moment before,
// and the versions of the family found in the namespace. Only what exists is in it;
// anything else the look reads. A consumer changed since it was read is no risk: the
// re-point patches it on condition that it has not (its resourceVersion), and reads it
// again when it has.
type seen struct {
	objects  map[string]*unstructured.Unstructured // by kind/name
	versions map[string]bool                       // Secrets that exist, by name
}

// seenIn is what plan p read (nil: nothing), with the versions found beside it.
func seenIn(p *rollout.Plan, versions map[string]bool) seen {
	s := seen{versions: versions}
	if p == nil {
		return s
	}
	s.objects = make(map[string]*unstructured.Unstructured, len(p.Items))
	for _, it := range p.Items {
		if it.Object != nil {
			s.objects[it.Consumer.Kind+"/"+it.Consumer.Name] = it.Object
		}
	}
	return s
}

// object is consumer c as read already, or nil.
func (s seen) object(c v1alpha1.ConsumerStatus) *unstructured.Unstructured {
	return s.objects[c.Kind+"/"+c.Name]
}

// familyVersions are the Secrets labelled as versions of fam in namespace, by name
// (nil when they cannot be listed: the look then checks each version by name). A
// Secret without rotor's labels (an unversioned Secret being adopted, a version made
// by other means) is not among them, and is checked by name too.
func (e *Engine) familyVersions(ctx context.Context, namespace, fam string) map[string]bool {
	sel := labels.SelectorFromSet(labels.Set{family.LabelFamily: family.LabelValue(fam)})
	l, err := e.Metadata.Resource(secretsGVR).Namespace(namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil
	}
	out := make(map[string]bool, len(l.Items))
	for _, it := range l.Items {
		out[it.Name] = true
	}
	return out
}
