package versions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/clock"

	"github.com/rotor-project/rotor/internal/family"
	"github.com/rotor-project/rotor/internal/secretdata"
)

// Adopter makes a Secret that fits a family's name pattern a trusted version: after
// checking it, it adds rotor's labels and annotations (never touching the data).
type Adopter struct {
	Client kubernetes.Interface
	Clock  clock.PassiveClock
}

// AdoptRequest names the Secret to adopt.
type AdoptRequest struct {
	Namespace, Family, Name string
	// By is who adopts it, recorded in an annotation.
	By string
	// DryRun asks the API server to admit the change without storing it.
	DryRun bool
}

// AdoptProblem is why a Secret cannot be adopted; nothing was changed.
type AdoptProblem struct {
	Name, Namespace, Reason string
}

func (e *AdoptProblem) Error() string {
	return fmt.Sprintf("cannot adopt %s in namespace %q: %s", e.Name, e.Namespace, e.Reason)
}

// ErrAlreadyTrusted is returned when the Secret already carries rotor's labels.
var ErrAlreadyTrusted = errors.New("it is already a version rotor created or adopted; nothing to do")

// Adopt checks the Secret and labels it. It refuses (with *AdoptProblem) a name that is
// not a version of the family, a Secret that does not exist, one whose name lies in the
// future, and one that is not immutable (a version's data must never change).
func (a *Adopter) Adopt(ctx context.Context, r AdoptRequest) (*corev1.Secret, error) {
	v, ok := family.ParseIn(r.Family, r.Name)
	if !ok {
		return nil, &AdoptProblem{r.Name, r.Namespace, fmt.Sprintf("it is not a version of %q: a version is named %s-YYYYMMDDHHMMSS (UTC)", r.Family, r.Family)}
	}
	var out *corev1.Secret
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		s, err := a.Client.CoreV1().Secrets(r.Namespace).Get(ctx, r.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return &AdoptProblem{r.Name, r.Namespace, "no such Secret"}
		}
		if err != nil {
			return err
		}
		if TrustOf(v, s.Labels, s.Annotations).Trusted() {
			return ErrAlreadyTrusted
		}
		if FutureDated(v, s.CreationTimestamp.UTC(), a.Clock.Now()) {
			return &AdoptProblem{r.Name, r.Namespace, fmt.Sprintf("its name says %s, later than now and than its creation (%s) by more than %s; a version is named after the time it was made",
				v.Time.Format(time.RFC3339), s.CreationTimestamp.UTC().Format(time.RFC3339), MaxSkew)}
		}
		if s.Immutable == nil || !*s.Immutable {
			return &AdoptProblem{r.Name, r.Namespace, "it is not immutable, and a version's data must never change; make it immutable first (kubectl patch secret " + r.Name + " -p '{\"immutable\":true}'), then adopt it"}
		}
		patch := map[string]any{"metadata": map[string]any{
			"resourceVersion": s.ResourceVersion, // the precondition: unchanged since checked
			"labels":          family.Labels(v),
			"annotations": map[string]string{
				family.AnnotationFamily: r.Family,
				AnnotationAdoptedBy:     orUnknown(r.By),
				AnnotationAdoptedAt:     a.Clock.Now().UTC().Format(time.RFC3339),
				AnnotationKeys:          KeysAnnotation(secretdata.Keys(s.Data)),
				AnnotationType:          string(s.Type),
			},
		}}
		body, err := json.Marshal(patch)
		if err != nil {
			return err
		}
		opts := metav1.PatchOptions{FieldManager: FieldManager}
		if r.DryRun {
			opts.DryRun = []string{metav1.DryRunAll}
		}
		out, err = a.Client.CoreV1().Secrets(r.Namespace).Patch(ctx, r.Name, types.MergePatchType, body, opts)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
