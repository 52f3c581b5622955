package versions

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/metadata"

	"github.com/rotor-project/rotor/internal/due"
	"github.com/rotor-project/rotor/internal/family"
)

// PolicyAnnotations are the annotations of a new version that carry the family's
// policy: when its value expires (expiresIn after now, 0 for none) and its rotation
// period (rotateAfter, "" for none).
func PolicyAnnotations(now time.Time, expiresIn time.Duration, rotateAfter string) map[string]string {
	out := map[string]string{}
	if expiresIn > 0 {
		out[due.AnnotationExpiresAt] = now.Add(expiresIn).UTC().Format(time.RFC3339)
	}
	if rotateAfter != "" {
		out[due.AnnotationRotateAfter] = rotateAfter
	}
	return out
}

// InheritedRotateAfter is the rotation period of the newest version of fam in
// namespace that carries one ("" when none does), so a period set once follows the
// family from version to version. Only metadata is read.
func InheritedRotateAfter(ctx context.Context, meta metadata.Interface, namespace, fam string) (string, error) {
	sel := labels.Set{family.LabelFamily: family.LabelValue(fam)}.AsSelector().String()
	list, err := meta.Resource(secretsGVR).Namespace(namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return "", fmt.Errorf("reading the rotation period of the versions of %q in namespace %q: %w", fam, namespace, err)
	}
	var newest time.Time
	period := ""
	for _, m := range list.Items {
		v, ok := family.ParseIn(fam, m.Name)
		p := m.Annotations[due.AnnotationRotateAfter]
		if ok && p != "" && v.Time.After(newest) {
			newest, period = v.Time, p
		}
	}
	return period, nil
}
