package externalsecret

import (
	"context"
	"errors"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"

	"github.com/rotor-project/rotor/internal/family"
)

// FieldManager is the field manager rotor writes with.
const FieldManager = "rotor"

// nameAttempts is how many consecutive seconds Create tries when the name of the
// current second is taken (by a Secret or an ExternalSecret).
const nameAttempts = 3

// Creator makes versions from a store.
type Creator struct {
	Client  kubernetes.Interface
	Dynamic dynamic.Interface
	Clock   clock.Clock
	// Progress, if set, is told what Create waits for.
	Progress func(msg string)
}

// Result is what Create made.
type Result struct {
	// ExternalSecret is the ExternalSecret as the API server returned it.
	ExternalSecret *unstructured.Unstructured
	Version        family.Version
}

// Options tune Create.
type Options struct {
	// DryRun sends the ExternalSecret with dryRun=All: admitted, not stored, not synced.
	DryRun bool
	// Timeout bounds the wait for ESO to sync (0: until ctx ends).
	Timeout time.Duration
}

// StoreError refuses a request whose store cannot serve it; nothing was created.
type StoreError struct {
	Kind, Name, Namespace string
	Reason                string
}

func (e *StoreError) Error() string {
	where := ""
	if e.Kind == KindSecretStore {
		where = fmt.Sprintf(" in namespace %q", e.Namespace)
	}
	return fmt.Sprintf("%s %q%s: %s; nothing was created", e.Kind, e.Name, where, e.Reason)
}

// ErrNoESO says the cluster does not serve ESO's API.
var ErrNoESO = errors.New("the cluster does not serve the External Secrets Operator's API (external-secrets.io/v1): install ESO (its CRDs and controller) first; nothing was created")

// Create makes the version: checks the store, creates the ExternalSecret named after
// the current second (the next one if that name is taken), waits for ESO to sync it,
// and checks the Secret it wrote. When the sync fails (or the wait ends) the
// ExternalSecret is deleted, and the Secret with it, before the *SyncError is returned:
// nothing is left.
func (c *Creator) Create(ctx context.Context, r Request, o Options) (*Result, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	if err := c.checkStore(ctx, r); err != nil {
		return nil, err
	}
	es, v, err := c.createObject(ctx, r, o.DryRun)
	if err != nil {
		return nil, err
	}
	res := &Result{ExternalSecret: es, Version: v}
	if o.DryRun {
		return res, nil
	}
	wctx, cancel := ctx, context.CancelFunc(func() {})
	if o.Timeout > 0 {
		wctx, cancel = context.WithTimeout(ctx, o.Timeout)
	}
	defer cancel()
	synced, err := c.wait(wctx, r, es)
	if err == nil {
		res.ExternalSecret = synced
		return res, nil
	}
	// Nothing half-made stays: delete the ExternalSecret (its Secret, if ESO wrote
	// one, is owned by it and goes with it), also when the run was interrupted.
	dctx, dcancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer dcancel()
	if derr := c.remove(dctx, es); derr != nil {
		return nil, errors.Join(err, fmt.Errorf("and deleting ExternalSecret %s failed: %w; delete it by hand (kubectl delete externalsecret %s -n %s)", es.GetName(), derr, es.GetName(), es.GetNamespace()))
	}
	return nil, err
}

// checkStore refuses a store that does not exist or says it is not ready.
func (c *Creator) checkStore(ctx context.Context, r Request) error {
	res := c.Dynamic.Resource(storeGVR(r.StoreKind))
	var store *unstructured.Unstructured
	var err error
	if r.StoreKind == KindClusterSecretStore {
		store, err = res.Get(ctx, r.Store, metav1.GetOptions{})
	} else {
		store, err = res.Namespace(r.Namespace).Get(ctx, r.Store, metav1.GetOptions{})
	}
	switch {
	case apierrors.IsNotFound(err) && objectMissing(err, r.Store):
		return &StoreError{Kind: r.StoreKind, Name: r.Store, Namespace: r.Namespace, Reason: "it does not exist (list the stores with: kubectl get secretstores,clustersecretstores -A)"}
	case apierrors.IsNotFound(err):
		return ErrNoESO
	case err != nil:
		return fmt.Errorf("reading %s %q: %w", r.StoreKind, r.Store, err)
	}
	if st, msg, ok := readyCondition(store); ok && st == "False" {
		return &StoreError{Kind: r.StoreKind, Name: r.Store, Namespace: r.Namespace, Reason: "ESO reports it is not ready: " + msg}
	}
	return nil
}

// objectMissing tells a missing object (the API is served) from a missing API.
func objectMissing(err error, name string) bool {
	var st apierrors.APIStatus
	if !errors.As(err, &st) {
		return false
	}
	d := st.Status().Details
	return d != nil && d.Name == name
}

// createObject creates the ExternalSecret of the current second's version, never
// taking a name a Secret or an ExternalSecret already has.
func (c *Creator) createObject(ctx context.Context, r Request, dryRun bool) (*unstructured.Unstructured, family.Version, error) {
	opts := metav1.CreateOptions{FieldManager: FieldManager}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	var tried []string
	for attempt := 0; attempt < nameAttempts; attempt++ {
		v := family.NewVersion(r.Family, c.Clock.Now())
		if len(tried) > 0 && tried[len(tried)-1] == v.Name() {
			next := v.Time.Add(time.Second)
			select {
			case <-ctx.Done():
				return nil, v, ctx.Err()
			case <-c.Clock.After(next.Sub(c.Clock.Now())):
			}
			v = family.NewVersion(r.Family, next)
		}
		_, err := c.Client.CoreV1().Secrets(r.Namespace).Get(ctx, v.Name(), metav1.GetOptions{})
		switch {
		case err == nil:
			tried = append(tried, v.Name())
			continue
		case !apierrors.IsNotFound(err):
			return nil, v, fmt.Errorf("checking that version %s is free in namespace %q: %w", v.Name(), r.Namespace, err)
		}
		es, err := c.Dynamic.Resource(GVR).Namespace(r.Namespace).Create(ctx, Object(r, v), opts)
		switch {
		case err == nil:
			return es, v, nil
		case apierrors.IsAlreadyExists(err):
			tried = append(tried, v.Name())
		case apierrors.IsNotFound(err) && !objectMissing(err, v.Name()):
			return nil, v, fmt.Errorf("namespace %q does not exist (or ESO's API is not served): %w", r.Namespace, err)
		default:
			return nil, v, fmt.Errorf("cannot create ExternalSecrets in namespace %q: %w", r.Namespace, err)
		}
	}
	return nil, family.Version{}, fmt.Errorf("versions %v all exist in namespace %q (as Secrets or ExternalSecrets), and rotor never overwrites a version; retry in a moment", tried, r.Namespace)
}

// remove deletes the ExternalSecret and waits until it (and, with it, any Secret it
// owns) is gone.
func (c *Creator) remove(ctx context.Context, es *unstructured.Unstructured) error {
	res := c.Dynamic.Resource(GVR).Namespace(es.GetNamespace())
	uid := es.GetUID()
	err := res.Delete(ctx, es.GetName(), metav1.DeleteOptions{
		PropagationPolicy: ptr.To(metav1.DeletePropagationForeground),
		Preconditions:     &metav1.Preconditions{UID: &uid},
	})
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	return until(ctx, c.Clock, []opener{watchNamed(res, es.GetName())}, func(ctx context.Context) (bool, error) {
		_, err := res.Get(ctx, es.GetName(), metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, err
	})
}
