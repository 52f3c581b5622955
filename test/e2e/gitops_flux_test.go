package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/test/clusterenv"
	"github.com/rotor-project/rotor/test/gitserver"
)

// Rotations through git with the real Flux (source-controller and
// kustomize-controller, addon "flux") applying a repository the test serves over HTTP
// on loopback. The versions are Secrets rotor created in the cluster, never in git:
// Flux only ever applies the names.

// webManifest is the Deployment Flux applies: comments and quoting that a rewrite
// must keep, and a version it names.
func webManifest(version string) string {
	return `# The web tier. Its Secret is rotated by rotor through git.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web   # applied by Flux into the test's namespace
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: app
        image: registry.example/app:1
        envFrom:
        - secretRef:
            name: "` + version + `"   # the current version
`
}

// fluxWorld is a namespace whose Deployment web Flux applies from a git repository,
// two versions of the family "app" (made by rotor, with canary values), and a clone of
// the repository for rotor to commit in.
type fluxWorld struct {
	ns       string
	v1, v2   string
	values   []string
	repo     *gitserver.Repo
	clone    string
	original string // the manifest as first committed
	outputs  []string
}

const fluxManifestPath = "apps/web/deployment.yaml"

func newFluxWorld(t *testing.T) *fluxWorld {
	t.Helper()
	clusterenv.RequireAddon(t, "flux")
	w := &fluxWorld{ns: clusterenv.Namespace(t)}
	clk := newClock(t0)
	for i := 0; i < 2; i++ {
		v := canary(t)
		r := run(t, clk, v, "create", "app", "-n", w.ns, "--from-stdin", "token")
		if r.Code != 0 {
			t.Fatalf("create: %+v", r)
		}
		w.values = append(w.values, v)
		w.outputs = append(w.outputs, r.Stdout, r.Stderr)
		clk.Step(24 * time.Hour)
		if i == 0 {
			w.v1 = strings.TrimSpace(r.Stdout)
		} else {
			w.v2 = strings.TrimSpace(r.Stdout)
		}
	}
	w.original = webManifest(w.v1)
	w.repo = gitserver.Start(t).NewRepo(t, "fleet")
	w.repo.Commit(t, "the web tier", map[string]string{
		fluxManifestPath:              w.original,
		"apps/web/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [deployment.yaml]\n",
		"README.md":                   "The fleet.\n",
	})
	dyn := dynamicClient(t)
	// Long intervals: a commit reaches the cluster because rotor asks Flux to fetch it.
	applyYAML(t, dyn, gitRepositoryGVR, w.ns, fmt.Sprintf(`
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: fleet}
spec:
  interval: 1h
  url: %s
  ref: {branch: %s}
`, w.repo.URL, gitserver.Branch))
	applyYAML(t, dyn, kustomizationGVR, w.ns, fmt.Sprintf(`
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: web}
spec:
  interval: 1h
  path: ./apps/web
  prune: true
  targetNamespace: %s
  sourceRef: {kind: GitRepository, name: fleet}
`, w.ns))
	c := clusterenv.Client(t)
	clusterenv.WaitFor(t, w.ns, "Flux to apply web", func(ctx context.Context) (bool, error) {
		d, err := c.AppsV1().Deployments(w.ns).Get(ctx, "web", metav1.GetOptions{})
		return err == nil && d.Labels["kustomize.toolkit.fluxcd.io/name"] == "web", nil
	}, clusterenv.Deployments)
	waitAvailable(t, c, w.ns, "web")
	w.clone = w.repo.Clone(t)
	return w
}

// rotor runs rotor in the world's namespace (real clock) and keeps its output.
func (w *fluxWorld) rotor(t *testing.T, args ...string) result {
	t.Helper()
	r := run(t, nil, "", append(args, "-n", w.ns)...)
	w.outputs = append(w.outputs, r.Stdout, r.Stderr)
	return r
}

// webNames waits until the Deployment Flux applies names version, and is rolled out.
func (w *fluxWorld) webNames(t *testing.T, version string) {
	t.Helper()
	c := clusterenv.Client(t)
	clusterenv.WaitFor(t, w.ns, "web on "+version, func(ctx context.Context) (bool, error) {
		d, err := c.AppsV1().Deployments(w.ns).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return templateVersion(d) == version, nil
	}, clusterenv.Deployments)
	waitAvailable(t, c, w.ns, "web")
}

// serverFile is a file of main on the git server.
func (w *fluxWorld) serverFile(t *testing.T, path string) string {
	t.Helper()
	return gitserver.Git(t, w.repo.Dir, "show", gitserver.Branch+":"+path)
}

// assertNoValueInGitOrOutput fails if a version's value appears anywhere in the
// repository's history or in rotor's output.
func (w *fluxWorld) assertNoValueInGitOrOutput(t *testing.T) {
	t.Helper()
	history := gitserver.Git(t, w.repo.Dir, "log", "-p", "--all", "--format=%H%n%B")
	out := strings.Join(w.outputs, "\n")
	for _, v := range w.values {
		if strings.Contains(history, v) {
			t.Fatal("a Secret value is in git")
		}
		if strings.Contains(out, v) {
			t.Fatal("a Secret value is in rotor's output")
		}
	}
}

// reconcileKustomization asks Flux to apply the Kustomization again (with its prune)
// and waits until it has, at the repository's current head.
func (w *fluxWorld) reconcileKustomization(t *testing.T) {
	t.Helper()
	dyn := dynamicClient(t)
	stamp := time.Now().UTC().Format(time.RFC3339Nano)
	patch := fmt.Sprintf(`{"metadata":{"annotations":{"reconcile.fluxcd.io/requestedAt":%q}}}`, stamp)
	if _, err := dyn.Resource(kustomizationGVR).Namespace(w.ns).Patch(context.Background(), "web", "application/merge-patch+json", []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	head := w.repo.Head(t)
	clusterenv.WaitFor(t, w.ns, "Flux to reconcile the Kustomization at "+head, func(ctx context.Context) (bool, error) {
		k, err := dyn.Resource(kustomizationGVR).Namespace(w.ns).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		handled, _, _ := unstructured.NestedString(k.Object, "status", "lastHandledReconcileAt")
		applied, _, _ := unstructured.NestedString(k.Object, "status", "lastAppliedRevision")
		return handled == stamp && strings.HasSuffix(applied, head), nil
	}, kustomizationGVR)
}

// TestARotationThroughGitIsAppliedByFluxAndGatedByHealthAndPrometheus: a live rollout
// of a Flux-managed Deployment is refused and pointed at --gitops; through git, rotor
// commits and pushes the new name, Flux applies it, and health and a real-Prometheus
// analysis pass. Flux's prune never deletes the old version (it is not in git), so a
// rollback through git brings it back.
func TestARotationThroughGitIsAppliedByFluxAndGatedByHealthAndPrometheus(t *testing.T) {
	t.Parallel()
	w := newFluxWorld(t)
	prom, exps := raPrometheus(t, 1)
	file := raAnalysis(t, raMetric{address: prom.URL, query: raErrorRate, count: 3})
	gitFlags := []string{"--gitops", "--repo", w.clone, "--path", "apps/web", "--push", "--yes", "--timeout", rotorTimeout(t)}

	before := snapshot(t, w.ns)
	r := w.rotor(t, "rollout", "app", "--to", w.v2, "--yes", "--timeout", rotorTimeout(t))
	if r.Code != 1 || !strings.Contains(r.Stderr, "managed by Flux Kustomization") || !strings.Contains(r.Stderr, "the same command with --gitops --repo DIR") {
		t.Fatalf("a live rollout of a Flux-managed Deployment: %+v", r)
	}
	assertUnchanged(t, w.ns, before)

	// A dry run prints the plan and the commit's diff, and changes nothing anywhere.
	seed := w.repo.Head(t)
	r = w.rotor(t, "rollout", "app", "--to", w.v2, "--gitops", "--repo", w.clone, "--path", "apps/web", "--dry-run")
	if r.Code != 0 || !strings.Contains(r.Stdout, "+++ b/") || !strings.Contains(r.Stdout, `+            name: "`+w.v2+`"   # the current version`) ||
		!strings.Contains(r.Stderr, "dry run: nothing was changed or committed") {
		t.Fatalf("rollout --gitops --dry-run: %+v", r)
	}
	if w.repo.Head(t) != seed || gitserver.Git(t, w.clone, "status", "--porcelain") != "" || gitserver.Git(t, w.clone, "rev-parse", "HEAD") != seed+"\n" {
		t.Fatal("the dry run committed or wrote something")
	}
	assertUnchanged(t, w.ns, before)

	r = w.rotor(t, append([]string{"rollout", "app", "--to", w.v2, "--analysis", file, "--arg", "instance=" + exps[0].Target}, gitFlags...)...)
	if r.Code != 0 {
		t.Fatalf("rollout --gitops: %+v", r)
	}
	head := w.repo.Head(t)
	for _, want := range []string{"rollout succeeded", "commit " + head + ": re-point of Deployment/web, pushed, applied after"} {
		if !strings.Contains(r.Stdout, want) {
			t.Fatalf("the report lacks %q:\n%s\nstderr:\n%s", want, r.Stdout, r.Stderr)
		}
	}
	if !strings.Contains(r.Stderr, "asked Flux GitRepository "+w.ns+"/fleet to fetch the commit now") {
		t.Errorf("rotor did not ask Flux to fetch:\n%s", r.Stderr)
	}
	if got, want := w.serverFile(t, fluxManifestPath), webManifest(w.v2); got != want {
		t.Fatalf("the pushed manifest:\n%s\nwant only the name changed:\n%s", got, want)
	}
	msg := gitserver.Git(t, w.repo.Dir, "log", "-1", "--format=%B", gitserver.Branch)
	for _, want := range []string{"Rotor-Family: app", "Rotor-From: " + w.v1, "Rotor-To: " + w.v2, "Rotor-Action: Repoint"} {
		if !strings.Contains(msg, want) {
			t.Fatalf("the commit message lacks %q:\n%s", want, msg)
		}
	}
	w.webNames(t, w.v2)
	recs := journals(t, w.ns, "app")
	if len(recs) != 1 || recs[0].Status.Phase != v1alpha1.Succeeded || len(recs[0].Status.Commits) != 1 {
		t.Fatalf("journals = %+v", recs)
	}
	if c := recs[0].Status.Commits[0]; c.Commit != head || !c.Pushed || c.Applied == nil || c.Action != "Repoint" {
		t.Fatalf("the journal's commit: %+v", c)
	}
	if g := recs[0].Status.Gates; len(g) == 0 || g[len(g)-1].Phase != "Successful" {
		t.Fatalf("gates %+v, want the analysis Successful", g)
	}

	// Flux reconciles again, pruning what left git: the old version was never in git,
	// so it stays for a rollback.
	w.reconcileKustomization(t)
	if !secretNames(t, w.ns)[w.v1] {
		t.Fatalf("%s was deleted: Flux pruned a version a rollback needs", w.v1)
	}
	r = w.rotor(t, append([]string{"rollback", "app"}, gitFlags[:len(gitFlags)-2]...)...)
	if r.Code != 0 {
		t.Fatalf("rollback --gitops: %+v", r)
	}
	if got := w.serverFile(t, fluxManifestPath); got != w.original {
		t.Fatalf("after the rollback the manifest is:\n%s\nwant the original bytes:\n%s", got, w.original)
	}
	msg = gitserver.Git(t, w.repo.Dir, "log", "-1", "--format=%B", gitserver.Branch)
	if !strings.Contains(msg, "rotor: roll back app in namespace "+w.ns+" to "+w.v1) || !strings.Contains(msg, "This reverts commit "+head) {
		t.Fatalf("the rollback's commit message:\n%s", msg)
	}
	w.webNames(t, w.v1)
	if r := w.rotor(t, "gitops", "check", "app", "--path", filepath.Join(w.clone, "apps", "web")); r.Code != 0 {
		t.Fatalf("gitops check after the rollback: %+v", r)
	}
	w.assertNoValueInGitOrOutput(t)
}

// TestABadVersionThroughGitIsRevertedByACommitAndFluxBringsTheOldOneBack: the new
// version's pods crash once Flux applies the commit; rotor commits a revert, pushes it,
// and waits for Flux to bring the old version back.
func TestABadVersionThroughGitIsRevertedByACommitAndFluxBringsTheOldOneBack(t *testing.T) {
	t.Parallel()
	w := newFluxWorld(t)
	crashPodsUsing(t, w.ns, w.v2+"$")
	r := w.rotor(t, "rollout", "app", "--to", w.v2, "--gitops", "--repo", w.clone, "--path", "apps/web", "--push", "--yes", "--timeout", rotorTimeout(t))
	if r.Code != 1 {
		t.Fatalf("a crashing version rolled out through git: %+v", r)
	}
	log := strings.Split(strings.TrimSpace(gitserver.Git(t, w.repo.Dir, "log", "--format=%H %s", gitserver.Branch)), "\n")
	if len(log) != 3 {
		t.Fatalf("history on the server:\n%s\nwant the seed, the re-point and its revert", strings.Join(log, "\n"))
	}
	forward, revert := strings.Fields(log[1])[0], strings.Fields(log[0])[0]
	for _, want := range []string{"rollout FAILED", "CrashLoopBackOff", "commit " + forward + ": re-point", "commit " + revert + ": revert of Deployment/web, pushed"} {
		if !strings.Contains(r.Stdout, want) {
			t.Fatalf("the report lacks %q:\n%s\nstderr:\n%s", want, r.Stdout, r.Stderr)
		}
	}
	msg := gitserver.Git(t, w.repo.Dir, "log", "-1", "--format=%B", gitserver.Branch)
	if !strings.HasPrefix(msg, `Revert "rotor: set app to `+w.v2) || !strings.Contains(msg, "This reverts commit "+forward) || !strings.Contains(msg, "CrashLoopBackOff") {
		t.Fatalf("the revert's message:\n%s", msg)
	}
	if got := w.serverFile(t, fluxManifestPath); got != w.original {
		t.Fatalf("after the revert the manifest is:\n%s\nwant the original bytes", got)
	}
	w.webNames(t, w.v1)
	eventually(t, w.ns, "only v1 pods", func() bool {
		p := podsByVersion(t, w.ns, "app")
		return p[w.v1] == 2 && p[w.v2] == 0
	})
	recs := journals(t, w.ns, "app")
	if len(recs) != 1 || recs[0].Status.Phase != v1alpha1.RolledBack || len(recs[0].Status.Commits) != 2 {
		t.Fatalf("journals = %+v; want one RolledBack rotation with two commits", recs)
	}
	if c := recs[0].Status.Commits[1]; c.Action != "Restore" || c.Commit != revert || c.Applied == nil {
		t.Fatalf("the revert in the journal: %+v", c)
	}
	// The clone is where the remote is: nothing left uncommitted or unpushed.
	if st := gitserver.Git(t, w.clone, "status", "--porcelain"); st != "" {
		t.Fatalf("the clone has uncommitted changes:\n%s", st)
	}
	if _, err := os.Stat(filepath.Join(w.clone, fluxManifestPath)); err != nil {
		t.Fatal(err)
	}
	w.assertNoValueInGitOrOutput(t)
}
