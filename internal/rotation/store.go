package rotation

import (
	"context"
	"errors"
	"fmt"

	"github.com/rotor-project/rotor/api/v1alpha1"
)

// Store keeps rotation documents. The CLI's store is a ConfigMap per rotation
// (internal/journal); the controller's is the SecretRotation resource's status.
type Store interface {
	// Get returns the rotation, or an error matching ErrNotFound.
	Get(ctx context.Context, namespace, name string) (*v1alpha1.SecretRotation, error)
	// Create stores a new rotation (its name is chosen when empty) and returns it as
	// stored, with its resourceVersion.
	Create(ctx context.Context, rot *v1alpha1.SecretRotation) (*v1alpha1.SecretRotation, error)
	// Update stores rot if the stored one still has rot's resourceVersion (the fence),
	// and returns it as stored; otherwise a *ConflictError.
	Update(ctx context.Context, rot *v1alpha1.SecretRotation) (*v1alpha1.SecretRotation, error)
	// List returns the rotations of family in namespace ("" for every namespace),
	// oldest first.
	List(ctx context.Context, namespace, family string) ([]*v1alpha1.SecretRotation, error)
}

// ErrNotFound is matched by a Store's error for a rotation that does not exist.
var ErrNotFound = errors.New("rotation not found")

// ConflictError says another writer changed the rotation since it was read: the driver
// that lost the race stops writing.
type ConflictError struct {
	Namespace, Name string
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("rotation %s in namespace %q was changed by another driver since it was read; this run stops writing (the other one continues it)", e.Name, e.Namespace)
}

// IsConflict reports whether err is a *ConflictError.
func IsConflict(err error) bool {
	var c *ConflictError
	return errors.As(err, &c)
}
