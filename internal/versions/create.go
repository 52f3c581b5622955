// Package versions creates and lists the versions of a Secret family in a cluster. A
// version is an immutable Secret named FAMILY-YYYYMMDDHHMMSS; creating one never
// touches another Secret, and an existing name is never overwritten.
package versions

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"

	"github.com/rotor-project/rotor/internal/family"
	"github.com/rotor-project/rotor/internal/secretdata"
)

// FieldManager is the field manager rotor writes with.
const FieldManager = "rotor"

// nameAttempts is how many consecutive seconds Create tries when the version name of
// the current second already exists (two creates in the same second).
const nameAttempts = 3

// Creator creates versions. Clock decides the version name; tests inject a fake one.
type Creator struct {
	Client       kubernetes.Interface
	Clock        clock.Clock
	RotorVersion string
}

// CreateRequest describes one new version.
type CreateRequest struct {
	Namespace string
	Family    string
	Type      corev1.SecretType
	Data      map[string][]byte
	// CreatedBy is recorded in an annotation: who the API server says the caller is.
	CreatedBy string
	// DryRun asks the API server to validate and admit the Secret without storing it.
	DryRun bool
	// Annotations are added to the version's own (policy such as
	// rotor.dev/expires-at and rotor.dev/rotate-after; never values).
	Annotations map[string]string
}

// CreateResult is what Create made.
type CreateResult struct {
	Secret  *corev1.Secret
	Version family.Version
	// Unversioned is true when a plain Secret named like the family exists beside the
	// versions (the dev-environment style): it is left alone.
	Unversioned bool
}

// ErrVersionExists is returned when every name Create tried was already taken.
var ErrVersionExists = errors.New("version already exists")

// Validate checks a request without contacting the cluster.
func (r CreateRequest) Validate() error {
	if err := family.ValidateFamily(r.Family); err != nil {
		return err
	}
	if len(r.Data) == 0 {
		return errors.New("no data: a version needs at least one key")
	}
	if size := secretdata.Size(r.Data); size > secretdata.MaxSize {
		return fmt.Errorf("the data is %d bytes, over the 1 MiB (%d bytes) limit of a Secret", size, secretdata.MaxSize)
	}
	return nil
}

// Object builds the Secret for version v without sending it.
func (c *Creator) Object(r CreateRequest, v family.Version) *corev1.Secret {
	typ := r.Type
	if typ == "" {
		typ = corev1.SecretTypeOpaque
	}
	annotations := map[string]string{
		family.AnnotationFamily:       r.Family,
		family.AnnotationRotorVersion: c.RotorVersion,
		AnnotationKeys:                KeysAnnotation(secretdata.Keys(r.Data)),
		AnnotationType:                string(typ),
	}
	if r.CreatedBy != "" {
		annotations[family.AnnotationCreatedBy] = r.CreatedBy
	}
	for k, v := range r.Annotations {
		annotations[k] = v
	}
	return &corev1.Secret{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{
			Name:        v.Name(),
			Namespace:   r.Namespace,
			Labels:      family.Labels(v),
			Annotations: annotations,
		},
		Immutable: ptr.To(true),
		Type:      typ,
		Data:      r.Data,
	}
}

// Create makes the version for the current second. When that name exists already, it
// waits for the next second and tries again, a few times, then gives up with
// ErrVersionExists: it never overwrites.
func (c *Creator) Create(ctx context.Context, r CreateRequest) (*CreateResult, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	res := &CreateResult{}
	if _, err := c.Client.CoreV1().Secrets(r.Namespace).Get(ctx, r.Family, metav1.GetOptions{}); err == nil {
		res.Unversioned = true
	}
	opts := metav1.CreateOptions{FieldManager: FieldManager}
	if r.DryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	var tried []string
	for attempt := 0; attempt < nameAttempts; attempt++ {
		v := family.NewVersion(r.Family, c.Clock.Now())
		if len(tried) > 0 && tried[len(tried)-1] == v.Name() {
			// Same second as the taken name: wait until the next one begins.
			next := v.Time.Add(time.Second)
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-c.Clock.After(next.Sub(c.Clock.Now())):
			}
			v = family.NewVersion(r.Family, next)
		}
		created, err := c.Client.CoreV1().Secrets(r.Namespace).Create(ctx, c.Object(r, v), opts)
		switch {
		case err == nil:
			res.Secret, res.Version = created, v
			return res, nil
		case apierrors.IsAlreadyExists(err):
			tried = append(tried, v.Name())
			continue
		case isNamespaceNotFound(err):
			return nil, fmt.Errorf("namespace %q does not exist: create it first, or choose another with -n", r.Namespace)
		default:
			return nil, fmt.Errorf("cannot create secrets in namespace %q: %w", r.Namespace, err)
		}
	}
	return nil, fmt.Errorf("%w: %v all exist in namespace %q, and rotor never overwrites a version; retry in a moment",
		ErrVersionExists, tried, r.Namespace)
}

func isNamespaceNotFound(err error) bool {
	var status apierrors.APIStatus
	if !errors.As(err, &status) || !apierrors.IsNotFound(err) {
		return false
	}
	d := status.Status().Details
	return d != nil && d.Kind == "namespaces"
}
