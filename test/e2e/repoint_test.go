package e2e

import (
	"context"
	"net/http"
	"reflect"
	"sync"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/rotor-project/rotor/internal/repoint"
	"github.com/rotor-project/rotor/test/clusterenv"
)

// requestLog records the verbs of the requests a client sends.
type requestLog struct {
	mu    sync.Mutex
	verbs []string
	next  http.RoundTripper
}

func (l *requestLog) RoundTrip(req *http.Request) (*http.Response, error) {
	l.mu.Lock()
	l.verbs = append(l.verbs, req.Method)
	l.mu.Unlock()
	return l.next.RoundTrip(req)
}

func (l *requestLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.verbs
	l.verbs = nil
	return out
}

// The engine re-points a consumer it has just read without reading it again; a copy
// the object has moved past since is refused by the API server (the patch tests its
// resourceVersion) and read again, so nothing changed in between is lost.
func TestARepointPatchesTheObjectItReadAndReadsAgainOnlyWhenItMoved(t *testing.T) {
	t.Parallel()
	const v1, v2 = "app-20250101000000", "app-20250201000000"
	ns := clusterenv.Namespace(t)
	ctx := context.Background()
	c := clusterenv.Client(t)
	deployments := schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	log := &requestLog{}
	cfg := rest.CopyConfig(clusterenv.RESTConfig(t))
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { log.next = rt; return log })
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := &repoint.Repointer{Dynamic: dyn}
	tests := []struct {
		name   string
		object string
		moved  bool // a label is added between the read and the re-point
		verbs  []string
	}{
		{"the object as read is patched at once", "fresh", false, []string{http.MethodPatch}},
		{"an object changed since it was read refuses the patch, is read again and patched", "moved", true, []string{http.MethodPatch, http.MethodGet, http.MethodPatch}},
	}
	for _, tt := range tests {
		name := tt.object
		// Available first: the Deployment controller writes a new Deployment's
		// annotations and status a few times, and any write moves it past a copy.
		createDeployment(t, ns, deployment(name, v1, 1))
		seen, err := dyn.Resource(deployments).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if tt.moved {
			if _, err := c.AppsV1().Deployments(ns).Patch(ctx, name, types.MergePatchType, []byte(`{"metadata":{"labels":{"team":"payments"}}}`), metav1.PatchOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		log.take()
		res, err := r.Apply(ctx, repoint.Target{Kind: "Deployment", Namespace: ns, Name: name}, "app", v2, repoint.Options{Annotate: true, Seen: seen})
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got := log.take(); !reflect.DeepEqual(got, tt.verbs) {
			t.Errorf("%s: requests %v, want %v", tt.name, got, tt.verbs)
		}
		d, err := c.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := secretsOfTemplate(d); len(got) != 1 || got[0] != v2 || res.Previous != v1 {
			t.Errorf("%s: the template names %v (previous %q), want %s (previous %s)", tt.name, got, res.Previous, v2, v1)
		}
		if d.Annotations[repoint.AnnotationKey("app")] != v1 {
			t.Errorf("%s: annotations %v, want the previous version recorded", tt.name, d.Annotations)
		}
		if tt.moved && d.Labels["team"] != "payments" {
			t.Errorf("%s: the label added in between is gone: %v", tt.name, d.Labels)
		}
	}
}
