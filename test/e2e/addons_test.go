package e2e

import (
	"context"
	"fmt"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"

	"github.com/rotor-project/rotor/test/clusterenv"
	"github.com/rotor-project/rotor/test/gitserver"
)

// Smoke tests of the harness addons: each real controller, run by hack/localcluster
// against the test cluster, does its job. The behaviour tests of rotor with them live
// with the features that use them.

var (
	rolloutsGVR       = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "rollouts"}
	secretStoresGVR   = schema.GroupVersionResource{Group: "external-secrets.io", Version: "v1", Resource: "secretstores"}
	externalSecretGVR = schema.GroupVersionResource{Group: "external-secrets.io", Version: "v1", Resource: "externalsecrets"}
	gitRepositoryGVR  = schema.GroupVersionResource{Group: "source.toolkit.fluxcd.io", Version: "v1", Resource: "gitrepositories"}
	kustomizationGVR  = schema.GroupVersionResource{Group: "kustomize.toolkit.fluxcd.io", Version: "v1", Resource: "kustomizations"}
)

// applyYAML creates the objects of a YAML document in ns.
func applyYAML(t *testing.T, dyn dynamic.Interface, gvr schema.GroupVersionResource, ns, doc string) *unstructured.Unstructured {
	t.Helper()
	var obj map[string]any
	if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
		t.Fatal(err)
	}
	u, err := dyn.Resource(gvr).Namespace(ns).Create(context.Background(), &unstructured.Unstructured{Object: obj}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating %s: %v", gvr.Resource, err)
	}
	return u
}

func dynamicClient(t *testing.T) dynamic.Interface {
	t.Helper()
	dyn, err := dynamic.NewForConfig(clusterenv.RESTConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	return dyn
}

// TestArgoRolloutsAddonTakesACanaryThroughItsSteps: a canary Rollout becomes Healthy;
// after a change of its pod template the controller pauses at the step, then promotes
// the new ReplicaSet to stable and is Healthy again for the new generation.
func TestArgoRolloutsAddonTakesACanaryThroughItsSteps(t *testing.T) {
	t.Parallel()
	clusterenv.RequireAddon(t, "argo-rollouts")
	ns := clusterenv.Namespace(t)
	dyn := dynamicClient(t)
	applyYAML(t, dyn, rolloutsGVR, ns, `
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: app, image: registry.example/app:1}]
  strategy:
    canary:
      steps: [{setWeight: 50}, {pause: {duration: 1s}}]
`)
	var phases []string
	// Healthy for its current generation (the controller itself may bump it) and at
	// least the given one.
	healthyAt := func(atLeast int64) func(ctx context.Context) (bool, error) {
		return func(ctx context.Context) (bool, error) {
			ro, err := dyn.Resource(rolloutsGVR).Namespace(ns).Get(ctx, "web", metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			generation := ro.GetGeneration()
			if generation < atLeast {
				return false, nil
			}
			phase, _, _ := unstructured.NestedString(ro.Object, "status", "phase")
			observed, _, _ := unstructured.NestedString(ro.Object, "status", "observedGeneration")
			stable, _, _ := unstructured.NestedString(ro.Object, "status", "stableRS")
			current, _, _ := unstructured.NestedString(ro.Object, "status", "currentPodHash")
			if len(phases) == 0 || phases[len(phases)-1] != phase {
				phases = append(phases, phase)
			}
			return phase == "Healthy" && observed == fmt.Sprint(generation) && stable != "" && stable == current, nil
		}
	}
	clusterenv.WaitFor(t, ns, "the Rollout Healthy", healthyAt(1), rolloutsGVR)

	ro, err := dyn.Resource(rolloutsGVR).Namespace(ns).Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	firstStable, _, _ := unstructured.NestedString(ro.Object, "status", "stableRS")
	patch := []byte(`{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"registry.example/app:2"}]}}}}`)
	ro, err = dyn.Resource(rolloutsGVR).Namespace(ns).Patch(context.Background(), "web", "application/merge-patch+json", patch, metav1.PatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	phases = nil
	clusterenv.WaitFor(t, ns, "the changed Rollout through its steps and Healthy", healthyAt(ro.GetGeneration()), rolloutsGVR)
	ro, _ = dyn.Resource(rolloutsGVR).Namespace(ns).Get(context.Background(), "web", metav1.GetOptions{})
	if stable, _, _ := unstructured.NestedString(ro.Object, "status", "stableRS"); stable == firstStable {
		t.Fatalf("the stable ReplicaSet is still the first one (%s); phases seen %v", stable, phases)
	}
	t.Logf("phases seen after the change: %v", phases)
}

// TestExternalSecretsAddonSyncsAPinnedVersionFromTheFakeProvider: an ExternalSecret
// pinned to one version of a key in a `fake` SecretStore makes its target Secret with
// that version's value.
func TestExternalSecretsAddonSyncsAPinnedVersionFromTheFakeProvider(t *testing.T) {
	t.Parallel()
	clusterenv.RequireAddon(t, "external-secrets")
	ns := clusterenv.Namespace(t)
	dyn := dynamicClient(t)
	applyYAML(t, dyn, secretStoresGVR, ns, `
apiVersion: external-secrets.io/v1
kind: SecretStore
metadata: {name: fake}
spec:
  provider:
    fake:
      data:
      - {key: app/token, value: first-value, version: v1}
      - {key: app/token, value: second-value, version: v2}
`)
	applyYAML(t, dyn, externalSecretGVR, ns, `
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {name: app-20250102000000}
spec:
  refreshInterval: "0"
  secretStoreRef: {name: fake, kind: SecretStore}
  target: {name: app-20250102000000, creationPolicy: Owner, immutable: true}
  data:
  - secretKey: token
    remoteRef: {key: app/token, version: v2}
`)
	c := clusterenv.Client(t)
	clusterenv.WaitFor(t, ns, "the ExternalSecret's target Secret", func(ctx context.Context) (bool, error) {
		s, err := c.CoreV1().Secrets(ns).Get(ctx, "app-20250102000000", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if got := string(s.Data["token"]); got != "second-value" || s.Immutable == nil || !*s.Immutable {
			return false, fmt.Errorf("the synced Secret holds %q (immutable %v), want the pinned version's value, immutable", got, s.Immutable)
		}
		return true, nil
	}, clusterenv.Secrets)
}

// TestFluxAddonAppliesAKustomizationFromGit: source-controller fetches a repository
// from the tests' git server, kustomize-controller applies it, and a later push is
// applied too.
func TestFluxAddonAppliesAKustomizationFromGit(t *testing.T) {
	t.Parallel()
	clusterenv.RequireAddon(t, "flux")
	ns := clusterenv.Namespace(t)
	dyn := dynamicClient(t)
	repo := gitserver.Start(t).NewRepo(t, "app")
	configMap := func(value string) string {
		return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: from-git}\ndata: {value: " + value + "}\n"
	}
	repo.Commit(t, "the app", map[string]string{"deploy/config.yaml": configMap("one")})
	applyYAML(t, dyn, gitRepositoryGVR, ns, fmt.Sprintf(`
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: app}
spec:
  interval: 1h
  url: %s
  ref: {branch: %s}
`, repo.URL, gitserver.Branch))
	applyYAML(t, dyn, kustomizationGVR, ns, fmt.Sprintf(`
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: app}
spec:
  interval: 1h
  path: ./deploy
  prune: true
  targetNamespace: %s
  sourceRef: {kind: GitRepository, name: app}
`, ns))
	c := clusterenv.Client(t)
	valueIs := func(want string) func(ctx context.Context) (bool, error) {
		return func(ctx context.Context) (bool, error) {
			cm, err := c.CoreV1().ConfigMaps(ns).Get(ctx, "from-git", metav1.GetOptions{})
			return err == nil && cm.Data["value"] == want, nil
		}
	}
	clusterenv.WaitFor(t, ns, "the ConfigMap from git", valueIs("one"), clusterenv.ConfigMaps)

	// A push, then a reconcile request instead of waiting for the hour-long interval.
	repo.Commit(t, "change the app", map[string]string{"deploy/config.yaml": configMap("two")})
	patch := fmt.Sprintf(`{"metadata":{"annotations":{"reconcile.fluxcd.io/requestedAt":%q}}}`, repo.Head(t))
	if _, err := dyn.Resource(gitRepositoryGVR).Namespace(ns).Patch(context.Background(), "app", "application/merge-patch+json", []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	clusterenv.WaitFor(t, ns, "the pushed change applied", valueIs("two"), clusterenv.ConfigMaps)
}
