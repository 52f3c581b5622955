// Package access asks the API server, before anything changes, whether the caller may
// make every write a plan intends (and open every watch it needs). A command that lacks
// one verb then stops with one message naming each missing verb, resource and
// namespace, instead of failing half way, timing out, or rolling back. The checks are
// SelfSubjectAccessReviews, which every authenticated user may create; they answer for
// the caller as the API server sees them, impersonation included.
//
// The package never prints, reads flags or exits.
package access

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	authorizationclient "k8s.io/client-go/kubernetes/typed/authorization/v1"
)

// Want is one permission a plan needs: a verb on a resource in a namespace ("" for
// cluster-scoped resources or every namespace), optionally on one named object.
type Want struct {
	Verb        string
	Group       string
	Resource    string
	Subresource string
	Namespace   string
	Name        string
	// Why says what the permission is for ("re-point Deployment/api"), for messages.
	Why string
}

// What is the resource as kubectl names it: "deployments.apps", "pods/log".
func (w Want) What() string {
	s := w.Resource
	if w.Group != "" {
		s += "." + w.Group
	}
	if w.Subresource != "" {
		s += "/" + w.Subresource
	}
	return s
}

func (w Want) String() string {
	s := w.Verb + " " + w.What()
	if w.Name != "" {
		s += " " + w.Name
	}
	if w.Namespace == "" {
		return s + " (cluster-wide)"
	}
	return fmt.Sprintf("%s in namespace %q", s, w.Namespace)
}

// key identifies a check; Why is merged across wants with the same key.
type key struct{ verb, group, resource, subresource, namespace, name string }

func (w Want) key() key {
	return key{w.Verb, w.Group, w.Resource, w.Subresource, w.Namespace, w.Name}
}

// Problem lists every permission the caller lacks. Nothing was changed.
type Problem struct {
	Missing []Want
}

func (p *Problem) Error() string {
	lines := make([]string, 0, len(p.Missing))
	for _, m := range p.Missing {
		line := "you may not " + m.String()
		if m.Why != "" {
			line += " (needed to " + m.Why + ")"
		}
		lines = append(lines, line)
	}
	if len(lines) == 1 {
		return lines[0] + "; nothing was changed"
	}
	return "missing permissions, so nothing was changed:\n  " + strings.Join(lines, "\n  ")
}

// concurrency bounds the reviews in flight.
const concurrency = 8

// Retrier retries a call that failed for a transient reason (a 5xx answer, a lost
// connection); apiretry.Policy satisfies it.
type Retrier interface {
	Do(ctx context.Context, op func(context.Context) error) error
}

// Checker asks with a client, retrying transient failures with Retry when it is set.
type Checker struct {
	Client authorizationclient.SelfSubjectAccessReviewsGetter
	Retry  Retrier
}

// Check reviews every want once (duplicates merged) and returns a *Problem listing
// each one denied, nil when all are allowed, or an error when the API server could
// not answer.
func Check(ctx context.Context, c authorizationclient.SelfSubjectAccessReviewsGetter, wants []Want) error {
	return Checker{Client: c}.Check(ctx, wants)
}

// Check is the package's Check, with the Checker's retries.
func (ch Checker) Check(ctx context.Context, wants []Want) error {
	c := ch.Client
	merged := map[key]*Want{}
	var order []key
	for _, w := range wants {
		k := w.key()
		if m, ok := merged[k]; ok {
			if w.Why != "" && !strings.Contains(m.Why, w.Why) {
				m.Why = joinWhy(m.Why, w.Why)
			}
			continue
		}
		w := w
		merged[k] = &w
		order = append(order, k)
	}
	var (
		mu      sync.Mutex
		denied  []Want
		callErr error
		wg      sync.WaitGroup
		sem     = make(chan struct{}, concurrency)
	)
	for _, k := range order {
		w := merged[k]
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			review := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
				ResourceAttributes: &authorizationv1.ResourceAttributes{
					Namespace: w.Namespace, Verb: w.Verb, Group: w.Group, Resource: w.Resource,
					Subresource: w.Subresource, Name: w.Name,
				},
			}}
			var got *authorizationv1.SelfSubjectAccessReview
			create := func(ctx context.Context) error {
				var err error
				got, err = c.SelfSubjectAccessReviews().Create(ctx, review, metav1.CreateOptions{})
				return err
			}
			var err error
			if ch.Retry != nil {
				err = ch.Retry.Do(ctx, create)
			} else {
				err = create(ctx)
			}
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				if callErr == nil {
					callErr = err
				}
			case !got.Status.Allowed:
				denied = append(denied, *w)
			}
		}()
	}
	wg.Wait()
	if callErr != nil {
		return fmt.Errorf("cannot check your permissions before changing anything (nothing was changed): %w", callErr)
	}
	if len(denied) == 0 {
		return nil
	}
	sort.Slice(denied, func(i, j int) bool { return denied[i].String() < denied[j].String() })
	return &Problem{Missing: denied}
}

// joinWhy lists reasons, shortening a long list.
func joinWhy(a, b string) string {
	if strings.Count(a, ", ") >= 3 {
		if strings.HasSuffix(a, ", …") {
			return a
		}
		return a + ", …"
	}
	return a + ", " + b
}
