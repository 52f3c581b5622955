package cleanup

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/rotor-project/rotor/internal/retention"
)

// ExecuteOptions say how to delete.
type ExecuteOptions struct {
	// DryRunServer sends every delete with dryRun=All: the API server checks and
	// admits it without storing anything.
	DryRunServer bool
	// OnDeleted is called after each version is deleted (never in a dry run). Its
	// error is noted on the item and ends the run with an error after the loop.
	OnDeleted func(ctx context.Context, it *Item) error
}

// Execute deletes the versions the plan marks for deletion and sets their outcomes.
// It returns an error when the caller may not delete them (before anything is
// deleted), or when some deletes or hooks failed (after the rest are done).
func (c *Cleaner) Execute(ctx context.Context, plan *Plan, opts ExecuteOptions) error {
	idx := plan.ToDelete()
	if len(idx) == 0 {
		return nil
	}
	if err := c.checkPermissions(ctx, plan, idx); err != nil {
		return err
	}
	// One more scan, after the user read the plan: references may have appeared.
	res, err := c.scan(ctx, plan.Request, plan, idx)
	if err != nil {
		return err
	}
	d := decider{c: c, req: plan.Request, now: c.Clock.Now(), cronJobs: map[string]*cronJobInfo{}}
	if d.records, err = c.records(ctx, plan.Request); err != nil {
		return err
	}
	d.inProgress = inProgress(d.records)
	var deleting []*Item
	for _, i := range idx {
		it := &plan.Items[i]
		if err := d.decide(ctx, it, res); err != nil {
			return err
		}
		if it.Outcome != retention.Delete {
			it.Notes = append(it.Notes, "a reason to keep it appeared after the plan was made (re-checked just before the delete); not deleted")
			continue
		}
		deleting = append(deleting, it)
	}
	// Deletes of different versions are independent: a few run at once. Hooks run one
	// at a time afterwards, in plan order, so user commands never race each other.
	failures := make([]string, len(deleting))
	inParallel(len(deleting), deleteConcurrency, func(k int) {
		if ctx.Err() == nil {
			failures[k] = c.deleteOne(ctx, deleting[k], opts)
		}
	})
	if err := ctx.Err(); err != nil {
		return err
	}
	var failed []string
	for k, it := range deleting {
		if it.Outcome == retention.Deleted && opts.OnDeleted != nil && !opts.DryRunServer {
			if err := opts.OnDeleted(ctx, it); err != nil {
				failures[k] = strings.TrimPrefix(failures[k]+"; --on-delete: "+err.Error(), "; ")
				it.Notes = append(it.Notes, "--on-delete failed: "+err.Error())
			} else {
				it.Notes = append(it.Notes, "--on-delete ran")
			}
		}
		if failures[k] != "" {
			failed = append(failed, it.Namespace+"/"+it.Name+": "+failures[k])
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d of %d deletions did not complete:\n  %s", len(failed), len(idx), strings.Join(failed, "\n  "))
	}
	return nil
}

// deleteConcurrency bounds the deletes (and permission checks) in flight.
const deleteConcurrency = 8

// inParallel calls fn(0..n-1) with at most limit calls at once.
func inParallel(n, limit int, fn func(int)) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, limit)
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			fn(i)
		}()
	}
	wg.Wait()
}

// deleteOne deletes the Secret with preconditions, then its
// ExternalSecret. It returns a failure message, or "".
func (c *Cleaner) deleteOne(ctx context.Context, it *Item, opts ExecuteOptions) string {
	// The preconditions make "unchanged since the scan" and the delete one atomic step
	// on the API server: a changed or re-created Secret is refused, not deleted.
	del := metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &it.UID, ResourceVersion: &it.ResourceVersion}}
	if opts.DryRunServer {
		del.DryRun = []string{metav1.DryRunAll}
	}
	err := c.Client.CoreV1().Secrets(it.Namespace).Delete(ctx, it.Name, del)
	switch {
	case isNotFound(err):
		it.Outcome = retention.KeptChanged
		it.Notes = append(it.Notes, "the Secret is already gone")
		return ""
	case apierrors.IsConflict(err):
		it.Outcome = retention.KeptChanged
		it.Notes = append(it.Notes, fmt.Sprintf("the Secret changed since the scan (its UID or resourceVersion %s no longer matches); run cleanup again", it.ResourceVersion))
		return ""
	case err != nil:
		it.Outcome = retention.Failed
		it.Notes = append(it.Notes, "delete refused: "+err.Error())
		return it.Notes[len(it.Notes)-1]
	}
	it.Outcome = retention.Deleted
	var failed []string
	if es := it.ExternalSecret; es != nil {
		if err := c.deleteExternalSecret(ctx, it, opts); err != nil {
			failed = append(failed, err.Error())
			it.Notes = append(it.Notes, err.Error())
		} else {
			it.Notes = append(it.Notes, fmt.Sprintf("deleted ExternalSecret %s, which created it", es.Name))
		}
	}
	return strings.Join(failed, "; ")
}

func (c *Cleaner) deleteExternalSecret(ctx context.Context, it *Item, opts ExecuteOptions) error {
	es := it.ExternalSecret
	if c.Dynamic == nil {
		return fmt.Errorf("cannot delete ExternalSecret %s: no dynamic client", es.Name)
	}
	gv, err := schema.ParseGroupVersion(es.APIVersion)
	if err != nil {
		return fmt.Errorf("ExternalSecret %s has an unreadable apiVersion %q: %w", es.Name, es.APIVersion, err)
	}
	del := metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &es.UID}}
	if opts.DryRunServer {
		del.DryRun = []string{metav1.DryRunAll}
	}
	err = c.Dynamic.Resource(gv.WithResource("externalsecrets")).Namespace(it.Namespace).Delete(ctx, es.Name, del)
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("deleted the Secret, but not ExternalSecret %s, which created it (delete it by hand, or it may re-create the Secret): %w", es.Name, err)
	}
	return nil
}

// CheckPermissions is the check Execute starts with, for a caller that takes the
// family's lock before executing: refuse before anything is locked or deleted.
func (c *Cleaner) CheckPermissions(ctx context.Context, plan *Plan) error {
	idx := plan.ToDelete()
	if len(idx) == 0 {
		return nil
	}
	return c.checkPermissions(ctx, plan, idx)
}

// checkPermissions asks the API server whether the caller may delete every
// Secret (and ExternalSecret) planned for deletion, so a missing permission stops the
// run before the first delete rather than half way.
func (c *Cleaner) checkPermissions(ctx context.Context, plan *Plan, idx []int) error {
	type check struct{ ns, verb, group, resource string }
	needed := map[check][]string{}
	for _, i := range idx {
		it := plan.Items[i]
		k := check{it.Namespace, "delete", "", "secrets"}
		needed[k] = append(needed[k], it.Name)
		if es := it.ExternalSecret; es != nil {
			gv, _ := schema.ParseGroupVersion(es.APIVersion)
			k := check{it.Namespace, "delete", gv.Group, "externalsecrets"}
			needed[k] = append(needed[k], it.Name)
		}
	}
	// The family's lock (a Lease) is taken in every namespace that changes.
	locks := map[check][]string{}
	for _, i := range idx {
		it := plan.Items[i]
		k := check{it.Namespace, "create", "coordination.k8s.io", "leases"}
		locks[k] = []string{"the family's lock"}
	}
	for k, v := range locks {
		needed[k] = v
	}
	checks := make([]check, 0, len(needed))
	for k := range needed {
		checks = append(checks, k)
	}
	var (
		mu      sync.Mutex
		denied  []string
		callErr error
	)
	inParallel(len(checks), deleteConcurrency, func(i int) {
		k := checks[i]
		review := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
			ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: k.ns, Verb: k.verb, Group: k.group, Resource: k.resource},
		}}
		got, err := c.Client.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, review, metav1.CreateOptions{})
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			callErr = err
			return
		}
		if !got.Status.Allowed {
			what := k.resource
			if k.group != "" {
				what += "." + k.group
			}
			denied = append(denied, fmt.Sprintf("%s %s in namespace %q (needed for %s)", k.verb, what, k.ns, strings.Join(needed[k], ", ")))
		}
	})
	if callErr != nil {
		return fmt.Errorf("cannot check your permissions before deleting (nothing was deleted): %w", callErr)
	}
	if len(denied) > 0 {
		// Deletes first, then the lock: what the user asked for leads the message.
		sort.SliceStable(denied, func(i, j int) bool {
			li, lj := strings.HasPrefix(denied[i], "create leases"), strings.HasPrefix(denied[j], "create leases")
			if li != lj {
				return lj
			}
			return denied[i] < denied[j]
		})
		return &PermissionError{Denied: denied}
	}
	return nil
}

// PermissionError says which permissions a cleanup lacks; nothing was deleted.
type PermissionError struct{ Denied []string }

func (e *PermissionError) Error() string {
	return "you may not " + strings.Join(e.Denied, "; ") + ". Nothing was deleted. Ask a cluster admin for these verbs (a Role and RoleBinding), or run with --dry-run to see the plan"
}

// IsPermissionError reports whether err is a PermissionError.
func IsPermissionError(err error) bool {
	var pe *PermissionError
	return errors.As(err, &pe)
}
