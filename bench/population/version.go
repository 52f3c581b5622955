package population

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/rotor-project/rotor/internal/family"
	"github.com/rotor-project/rotor/internal/versions"
)

// VersionSecret is version name of fam as rotor create makes it, with the given data:
// labels and annotations included, so rotor trusts it as a version it made.
func VersionSecret(ns, fam, name string, data map[string][]byte) (*corev1.Secret, error) {
	v, ok := family.ParseIn(fam, name)
	if !ok {
		return nil, fmt.Errorf("%s is not a version of %s", name, fam)
	}
	return (&versions.Creator{}).Object(versions.CreateRequest{Namespace: ns, Family: fam, Data: data}, v), nil
}
