// Package family names Secret versions. A family is the stable name a team thinks in
// ("auth-api-secrets"); a version is one immutable Secret of that family, named
// FAMILY-YYYYMMDDHHMMSS after the UTC second it was created. The package is pure: it
// builds, parses and validates names and the labels that mark a version, and never
// talks to a cluster.
package family

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"
)

// TimestampLayout is the UTC timestamp suffix of a version name.
const TimestampLayout = "20060102150405"

// timestampLen is the length of TimestampLayout: 14 digits.
const timestampLen = len(TimestampLayout)

// MaxFamilyLength is the longest family whose version names still fit the 253-character
// limit of a Secret name: FAMILY + "-" + 14 digits.
const MaxFamilyLength = validation.DNS1123SubdomainMaxLength - 1 - timestampLen

// Labels and annotations rotor puts on the versions it creates. A version made by hand
// without them is still a version: membership is decided by the name alone.
const (
	// LabelFamily selects the versions of a family. Its value is the family itself, or
	// LabelValue's hash form when the family is longer than a label value allows.
	LabelFamily = "rotor.dev/family"
	// LabelVersion holds the version's timestamp (the 14 digits).
	LabelVersion = "rotor.dev/version"
	// LabelManagedBy is the well-known managed-by label; rotor sets it to "rotor".
	LabelManagedBy = "app.kubernetes.io/managed-by"
	// ManagedByValue is the value of LabelManagedBy on versions rotor created.
	ManagedByValue = "rotor"

	// AnnotationFamily holds the full family name (labels cannot hold long ones).
	AnnotationFamily = "rotor.dev/family"
	// AnnotationCreatedBy is who created the version, as the API server saw the caller.
	AnnotationCreatedBy = "rotor.dev/created-by"
	// AnnotationRotorVersion is the rotor build that created the version.
	AnnotationRotorVersion = "rotor.dev/rotor-version"
)

// Version is one version of a family.
type Version struct {
	Family string
	// Time is the UTC second encoded in the name.
	Time time.Time
}

// NewVersion returns the version of family for the instant t, truncated to the second
// and converted to UTC.
func NewVersion(family string, t time.Time) Version {
	return Version{Family: family, Time: t.UTC().Truncate(time.Second)}
}

// Name is the Secret name of the version: FAMILY-YYYYMMDDHHMMSS.
func (v Version) Name() string { return v.Family + "-" + v.Timestamp() }

// Timestamp is the 14-digit suffix of the name.
func (v Version) Timestamp() string { return v.Time.UTC().Format(TimestampLayout) }

// String is the version's name.
func (v Version) String() string { return v.Name() }

// ValidateFamily says why family cannot name versions, or returns nil.
func ValidateFamily(family string) error {
	if family == "" {
		return fmt.Errorf("the family name is empty: give the name your workloads know the Secret by, e.g. auth-api-secrets")
	}
	if errs := validation.IsDNS1123Subdomain(family); len(errs) > 0 {
		return fmt.Errorf("%q is not a valid family name: %s", family, strings.Join(errs, "; "))
	}
	if len(family) > MaxFamilyLength {
		return fmt.Errorf("family name %q is %d characters long; at most %d fit, because version names add \"-\" and 14 digits and a Secret name allows 253",
			family, len(family), MaxFamilyLength)
	}
	return nil
}

// ParseTimestamp parses the 14-digit suffix of a version name. It accepts only
// exactly 14 ASCII digits forming a valid UTC date and time.
func ParseTimestamp(s string) (time.Time, bool) {
	if len(s) != timestampLen {
		return time.Time{}, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return time.Time{}, false
		}
	}
	t, err := time.ParseInLocation(TimestampLayout, s, time.UTC)
	if err != nil {
		return time.Time{}, false
	}
	// time.Parse accepts some out-of-range values by normalising them; a version name
	// must round-trip exactly.
	if t.Format(TimestampLayout) != s {
		return time.Time{}, false
	}
	return t, true
}

// Parse splits a Secret name into family and version: the name must end in
// "-" + 14 digits that form a valid UTC timestamp, after a valid family name.
func Parse(name string) (Version, bool) {
	if len(name) < timestampLen+2 || name[len(name)-timestampLen-1] != '-' {
		return Version{}, false
	}
	fam := name[:len(name)-timestampLen-1]
	t, ok := ParseTimestamp(name[len(name)-timestampLen:])
	if !ok || ValidateFamily(fam) != nil {
		return Version{}, false
	}
	return Version{Family: fam, Time: t}, true
}

// ParseIn parses name as a version of exactly family. "FAMILY-foo",
// "FAMILYx-20250723110000" and "FAMILY-20251399999999" are not versions of FAMILY.
func ParseIn(fam, name string) (Version, bool) {
	v, ok := Parse(name)
	if !ok || v.Family != fam {
		return Version{}, false
	}
	return v, true
}

// LabelValue is the value of LabelFamily for family: the family itself when it
// fits a label value (63 characters), otherwise "sha256-" and the first 56 hex digits
// of its SHA-256. The full name is always in AnnotationFamily.
func LabelValue(family string) string {
	if len(family) <= validation.LabelValueMaxLength {
		return family
	}
	sum := sha256.Sum256([]byte(family))
	return "sha256-" + hex.EncodeToString(sum[:])[:validation.LabelValueMaxLength-len("sha256-")]
}

// Labels returns the labels that mark v as a version rotor manages.
func Labels(v Version) map[string]string {
	return map[string]string{
		LabelFamily:    LabelValue(v.Family),
		LabelVersion:   v.Timestamp(),
		LabelManagedBy: ManagedByValue,
	}
}
