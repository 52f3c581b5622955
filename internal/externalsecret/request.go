// Package externalsecret makes versions of a Secret family from an external store
// (AWS Secrets Manager, Vault, …) through the External Secrets Operator: one
// ExternalSecret per version, named like the version (FAMILY-YYYYMMDDHHMMSS), whose
// target is the Secret of the same name, created and owned by ESO (creationPolicy
// Owner), immutable, never refreshed (refreshInterval "0"), with every remote
// reference pinned to a version of the store. A new remote version is then a new
// ExternalSecret, never an edit of an old one, and the Secret a workload names keeps
// its content for as long as it exists: exactly rotor's pattern of versions.
//
// Create waits, by watch, for ESO to sync the version, and when it cannot, says why
// in plain words from ESO's status and Warning events, and deletes the ExternalSecret
// it made so that nothing is left. rotor never sees a value: the operator reads the
// store and writes the Secret.
//
// The package never prints, reads flags or exits; problems with the request are typed
// (*Problems) for the CLI to name its flags.
package externalsecret

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	"github.com/rotor-project/rotor/internal/family"
)

// Store kinds an ExternalSecret can name.
const (
	KindSecretStore        = "SecretStore"
	KindClusterSecretStore = "ClusterSecretStore"
)

// Ref is one key of the version: a remote key of the store at a pinned version.
type Ref struct {
	// SecretKey is the key in the Secret.
	SecretKey string `json:"secretKey"`
	// RemoteRef is where the store holds it.
	RemoteRef RemoteRef `json:"remoteRef"`
}

// RemoteRef is a remote key at a version (ESO's remoteRef).
type RemoteRef struct {
	Key      string `json:"key"`
	Version  string `json:"version"`
	Property string `json:"property,omitempty"`
}

// Request describes one new version from a store.
type Request struct {
	Namespace string
	Family    string
	Store     string
	// StoreKind is SecretStore (the default) or ClusterSecretStore.
	StoreKind string
	Data      []Ref
	// Type is the Secret's type ("" is Opaque).
	Type corev1.SecretType
	// CreatedBy and RotorVersion are recorded on the ExternalSecret and the Secret.
	CreatedBy    string
	RotorVersion string
}

// Fields of a request a problem can be about.
const (
	FieldStore     = "store"
	FieldStoreKind = "storeKind"
	FieldData      = "data"
	FieldKey       = "remoteRef.key"
	FieldVersion   = "remoteRef.version"
	FieldSecretKey = "secretKey"
	FieldProperty  = "remoteRef.property"
)

// Problem is one thing wrong with a request.
type Problem struct {
	// Entry is the index of the data entry it is about (-1: the request as a whole).
	Entry  int
	Field  string
	Reason string
}

// Problems refuses a request; nothing was created.
type Problems []Problem

func (p Problems) Error() string {
	parts := make([]string, len(p))
	for i, x := range p {
		if x.Entry >= 0 {
			parts[i] = fmt.Sprintf("data[%d].%s: %s", x.Entry, x.Field, x.Reason)
		} else {
			parts[i] = x.Field + ": " + x.Reason
		}
	}
	return strings.Join(parts, "; ")
}

// ErrNoVersion explains why a remote reference must name a version.
const ErrNoVersion = "no remote version: without one ESO fetches whatever the store holds at each sync, so a version's content could change under the same name; pin the store's version (AWS VersionId or a staging label, a Vault KV version number, …)"

var secretKeyPattern = regexp.MustCompile(`^[-._a-zA-Z0-9]+$`)

// DefaultSecretKey is the Secret key of a remote key without one: the property if
// given, else the key's last path segment.
func DefaultSecretKey(r RemoteRef) string {
	if r.Property != "" {
		return r.Property
	}
	k := strings.TrimRight(r.Key, "/")
	if i := strings.LastIndexAny(k, "/:"); i >= 0 {
		k = k[i+1:]
	}
	return k
}

// Validate checks a request without contacting the cluster. It fills default
// Secret keys and the store kind.
func (r *Request) Validate() error {
	if err := family.ValidateFamily(r.Family); err != nil {
		return err
	}
	var p Problems
	if r.StoreKind == "" {
		r.StoreKind = KindSecretStore
	}
	if r.Store == "" {
		p = append(p, Problem{Entry: -1, Field: FieldStore, Reason: "no store: name the SecretStore (or ClusterSecretStore) ESO reads the values from"})
	} else if errs := validation.IsDNS1123Subdomain(r.Store); len(errs) > 0 {
		p = append(p, Problem{Entry: -1, Field: FieldStore, Reason: fmt.Sprintf("%q is not a valid store name: %s", r.Store, strings.Join(errs, "; "))})
	}
	if r.StoreKind != KindSecretStore && r.StoreKind != KindClusterSecretStore {
		p = append(p, Problem{Entry: -1, Field: FieldStoreKind, Reason: fmt.Sprintf("%q is not a store kind: use %s or %s", r.StoreKind, KindSecretStore, KindClusterSecretStore)})
	}
	if len(r.Data) == 0 {
		p = append(p, Problem{Entry: -1, Field: FieldData, Reason: "no remote keys: name at least one key of the store, with its version"})
	}
	seen := map[string]int{}
	for i := range r.Data {
		d := &r.Data[i]
		if strings.TrimSpace(d.RemoteRef.Key) == "" {
			p = append(p, Problem{Entry: i, Field: FieldKey, Reason: "empty: name the key in the store"})
			continue
		}
		if strings.TrimSpace(d.RemoteRef.Version) == "" {
			p = append(p, Problem{Entry: i, Field: FieldVersion, Reason: fmt.Sprintf("key %q has %s", d.RemoteRef.Key, ErrNoVersion)})
		}
		if d.SecretKey == "" {
			d.SecretKey = DefaultSecretKey(d.RemoteRef)
		}
		if !secretKeyPattern.MatchString(d.SecretKey) || len(d.SecretKey) > 253 {
			p = append(p, Problem{Entry: i, Field: FieldSecretKey, Reason: fmt.Sprintf("%q is not a valid Secret key (letters, digits, '-', '_' and '.'): name one", d.SecretKey)})
			continue
		}
		if j, dup := seen[d.SecretKey]; dup {
			p = append(p, Problem{Entry: i, Field: FieldSecretKey, Reason: fmt.Sprintf("%q is also the key of entry %d: each remote key needs a Secret key of its own", d.SecretKey, j)})
		}
		seen[d.SecretKey] = i
	}
	if len(p) > 0 {
		return p
	}
	return nil
}

// ParseFile reads remote keys from a file: a YAML or JSON list of ESO data entries,
// {secretKey, remoteRef: {key, version, property}}.
func ParseFile(data []byte) ([]Ref, error) {
	var refs []Ref
	if err := yaml.UnmarshalStrict(data, &refs); err != nil {
		return nil, fmt.Errorf("%w (the file must be a list of {secretKey, remoteRef: {key, version, property}}, as an ExternalSecret's spec.data)", err)
	}
	if len(refs) == 0 && len(bytes.TrimSpace(data)) > 0 {
		return nil, errors.New("the file holds no entries")
	}
	return refs, nil
}
