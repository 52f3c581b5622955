package gitops

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
)

// GitRepositories is Flux's source kind for git.
var GitRepositories = schema.GroupVersionResource{Group: "source.toolkit.fluxcd.io", Version: "v1", Resource: "gitrepositories"}

// AnnotationRequestedAt asks a Flux object to reconcile now (what `flux reconcile`
// sets); its value must change each time.
const AnnotationRequestedAt = "reconcile.fluxcd.io/requestedAt"

// FluxSources asks Flux to fetch a repository at once after rotor pushed to it,
// instead of at its next poll: every GitRepository whose URL is the remote's gets the
// reconcile-request annotation (a new artifact then triggers the Kustomizations that
// apply it). It is an optimisation: a cluster without Flux, or a user who may not
// list or patch GitRepositories, only waits for the poll.
type FluxSources struct {
	Dynamic dynamic.Interface
	// Now stamps the request.
	Now func() time.Time
}

// Reconcile annotates the GitRepositories that fetch url: every namespace's, or, when
// listing them all is forbidden, those in namespace. It returns them as
// namespace/name.
func (f FluxSources) Reconcile(ctx context.Context, namespace, remote string) ([]string, error) {
	res := f.Dynamic.Resource(GitRepositories)
	list, err := res.Namespace("").List(ctx, metav1.ListOptions{})
	if apierrors.IsForbidden(err) && namespace != "" {
		list, err = res.Namespace(namespace).List(ctx, metav1.ListOptions{})
	}
	switch {
	case apierrors.IsNotFound(err):
		return nil, nil // Flux is not installed
	case err != nil:
		return nil, fmt.Errorf("listing Flux GitRepositories: %w", err)
	}
	want := NormalizeURL(remote)
	var done []string
	stamp := f.Now().UTC().Format(time.RFC3339Nano)
	patch := fmt.Appendf(nil, `{"metadata":{"annotations":{%q:%q}}}`, AnnotationRequestedAt, stamp)
	for i := range list.Items {
		it := &list.Items[i]
		u, _, _ := unstructured.NestedString(it.Object, "spec", "url")
		if NormalizeURL(u) != want {
			continue
		}
		if _, err := res.Namespace(it.GetNamespace()).Patch(ctx, it.GetName(), types.MergePatchType, patch, metav1.PatchOptions{FieldManager: "rotor"}); err != nil {
			return done, fmt.Errorf("asking GitRepository %s/%s to fetch: %w", it.GetNamespace(), it.GetName(), err)
		}
		done = append(done, it.GetNamespace()+"/"+it.GetName())
	}
	return done, nil
}

// NormalizeURL makes two spellings of one repository's URL equal: no user, lower-case
// scheme and host, no trailing "/" or ".git".
func NormalizeURL(s string) string {
	s = strings.TrimSpace(s)
	if u, err := url.Parse(s); err == nil && u.Host != "" {
		u.User = nil
		u.Scheme, u.Host = strings.ToLower(u.Scheme), strings.ToLower(u.Host)
		s = u.String()
	}
	s = strings.TrimSuffix(s, "/")
	return strings.TrimSuffix(s, ".git")
}
