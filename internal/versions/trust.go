package versions

import (
	"strings"
	"time"

	"github.com/rotor-project/rotor/internal/family"
)

// MaxSkew is how far in the future a version's name may lie, against the clock of
// whoever reads it and against the Secret's own creationTimestamp: rotor names a
// version after the second it creates it, so only clocks that disagree explain more.
const MaxSkew = 5 * time.Minute

// Annotations rotor writes on versions it creates or adopts, so that a listing of
// metadata alone (no permission to read Secret values) tells their keys and type.
const (
	// AnnotationKeys holds the data keys, sorted, comma-separated.
	AnnotationKeys = "rotor.dev/keys"
	// AnnotationType holds the Secret type.
	AnnotationType = "rotor.dev/type"
	// AnnotationAdoptedBy is who adopted a version made without rotor.
	AnnotationAdoptedBy = "rotor.dev/adopted-by"
	// AnnotationAdoptedAt is when.
	AnnotationAdoptedAt = "rotor.dev/adopted-at"
)

// Trust says whether rotor may choose a Secret as a version of its family.
type Trust string

// Trust levels.
const (
	// TrustCreated: it carries rotor's labels; rotor created it.
	TrustCreated Trust = "created"
	// TrustAdopted: it carries rotor's labels because someone adopted it explicitly
	// (versions --adopt), after rotor checked it.
	TrustAdopted Trust = "adopted"
	// TrustNone: a Secret that merely fits the name pattern. It is listed, never chosen
	// as latest, and never deleted by cleanup.
	TrustNone Trust = "none"
)

// Trusted is true for versions rotor made or adopted.
func (t Trust) Trusted() bool { return t == TrustCreated || t == TrustAdopted }

// TrustOf judges a Secret named as version v by its labels and annotations: rotor's
// managed-by label, the family label of v's family and the version label of v's
// timestamp must all be present; the adoption annotation says how they got there.
func TrustOf(v family.Version, labels, annotations map[string]string) Trust {
	if labels[family.LabelManagedBy] != family.ManagedByValue ||
		labels[family.LabelFamily] != family.LabelValue(v.Family) ||
		labels[family.LabelVersion] != v.Timestamp() {
		return TrustNone
	}
	if af, ok := annotations[family.AnnotationFamily]; ok && af != v.Family {
		return TrustNone // a hashed label shared by another long family
	}
	if annotations[AnnotationAdoptedBy] != "" {
		return TrustAdopted
	}
	return TrustCreated
}

// FutureDated is true when v's name lies more than MaxSkew after now, or after the
// Secret's creationTimestamp: such a version would become "latest" by a clock it does
// not keep, so it is never chosen.
func FutureDated(v family.Version, creation, now time.Time) bool {
	if v.Time.After(now.Add(MaxSkew)) {
		return true
	}
	return !creation.IsZero() && v.Time.After(creation.Add(MaxSkew))
}

// KeysAnnotation is the value of AnnotationKeys for the given keys.
func KeysAnnotation(keys []string) string { return strings.Join(keys, ",") }

// parseKeys reads AnnotationKeys; ok is false when it is absent.
func parseKeys(annotations map[string]string) ([]string, bool) {
	v, ok := annotations[AnnotationKeys]
	if !ok {
		return nil, false
	}
	if v == "" {
		return []string{}, true
	}
	return strings.Split(v, ","), true
}
