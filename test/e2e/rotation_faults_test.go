package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/internal/lock"
	"github.com/rotor-project/rotor/test/clusterenv"
	"github.com/rotor-project/rotor/test/promenv"
)

// faultyProxy stands between rotor and the API server: it answers every third write
// with a 500, and while down it drops every connection, as a stopped API server does.
type faultyProxy struct {
	writes, failed atomic.Int64
	down           atomic.Bool
	// lostAnswer makes the next write be applied, but answered with a 500.
	lostAnswer atomic.Bool
	kubeconfig string
}

func startFaultyProxy(t *testing.T) *faultyProxy {
	t.Helper()
	cfg := clusterenv.RESTConfig(t)
	rt, err := rest.TransportFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	target, err := url.Parse(cfg.Host)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.Transport, rp.FlushInterval = rt, -1
	p := &faultyProxy{}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.down.Load() {
			panic(http.ErrAbortHandler) // the connection is dropped
		}
		if r.Method != http.MethodGet && p.lostAnswer.CompareAndSwap(true, false) {
			rec := &discard{header: http.Header{}}
			rp.ServeHTTP(rec, r)
			p.failed.Add(1)
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprint(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","message":"answer lost by the test","reason":"InternalError","code":500}`)
			return
		}
		if p.lostAnswer.Load() || p.writes.Load() < 0 {
			rp.ServeHTTP(w, r)
			return
		}
		if r.Method != http.MethodGet && p.writes.Add(1)%3 == 0 {
			p.failed.Add(1)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprint(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","message":"injected by the test","reason":"InternalError","code":500}`)
			return
		}
		rp.ServeHTTP(w, r)
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	p.kubeconfig = filepath.Join(t.TempDir(), "kubeconfig")
	doc := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: proxy
  cluster: {server: "http://%s"}
users:
- name: proxied
  user: {}
contexts:
- name: proxy
  context: {cluster: proxy, user: proxied}
current-context: proxy
`, l.Addr())
	if err := os.WriteFile(p.kubeconfig, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// discard is a ResponseWriter that keeps nothing.
type discard struct{ header http.Header }

func (d *discard) Header() http.Header         { return d.header }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}

// TestAPIFaultsAreRetriedWithinTheDeadline rotates through a proxy that fails every
// third write with a 500: every failed write is retried and the rotation succeeds. A
// blue-green rotation through it also survives the API server dropping every connection
// for a moment in the middle of a step.
func TestAPIFaultsAreRetriedWithinTheDeadline(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		// outage drops every connection for a moment once green is up.
		outage bool
	}{
		{"500s on writes are retried", nil, false},
		{"an API server that is away for a moment mid-step is waited for", []string{"--strategy", "bluegreen", "--steps", "50,100", "--pause", "2s", "--lease-duration", "10s"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ns := clusterenv.Namespace(t)
			v1, v2 := twoVersions(t, ns, "app")
			createDeployment(t, ns, deployment("web", v1, 2))
			p := startFaultyProxy(t)
			if tt.outage {
				hit := onJournal(t, ns, "app", func(r *v1alpha1.SecretRotation) bool { return r.Status.StepHealthy != nil })
				go func() {
					<-hit
					p.down.Store(true)
					time.AfterFunc(2*time.Second, func() { p.down.Store(false) })
				}()
			}
			r := run(t, nil, "", append([]string{"--kubeconfig", p.kubeconfig, "rollout", "app", "-n", ns, "--to", v2, "--yes"}, tt.args...)...)
			if r.Code != 0 || !strings.Contains(r.Stdout, "rollout succeeded") {
				t.Fatalf("rollout through the proxy: %+v", r)
			}
			if p.failed.Load() == 0 || !strings.Contains(r.Stderr, "retrying") {
				t.Fatalf("no write failed (%d writes), or no retry was reported:\n%s", p.writes.Load(), r.Stderr)
			}
			if got := templateSecrets(t, ns, "web"); got[0] != v2 {
				t.Fatalf("web names %v", got)
			}
			if recs := journals(t, ns, "app"); len(recs) != 1 || recs[0].Status.Phase != v1alpha1.Succeeded {
				t.Fatalf("journals: %+v", recs)
			}
		})
	}
}

// TestADeletedLeaseStopsTheRunAndARerunResumes deletes the family's Lease while a
// blue-green rollout pauses: the run notices at its next renewal and stops writing
// (its journal says where), and the same command run again finishes the rotation.
func TestADeletedLeaseStopsTheRunAndARerunResumes(t *testing.T) {
	t.Parallel()
	ns := clusterenv.Namespace(t)
	c := clusterenv.Client(t)
	ctx := context.Background()
	v1, v2 := twoVersions(t, ns, "app")
	createDeployment(t, ns, deployment("web", v1, 2))
	args := []string{"--kubeconfig", clusterenv.Kubeconfig(t), "rollout", "app", "-n", ns, "--to", v2, "--yes",
		"--strategy", "bluegreen", "--steps", "50,100", "--pause", "6s", "--lease-duration", "5s"}
	hit := onJournal(t, ns, "app", func(r *v1alpha1.SecretRotation) bool { return r.Status.StepHealthy != nil })
	cmd := exec.Command(rotorBinary(t), args...)
	errOut := &lockedBuffer{}
	cmd.Stderr, cmd.Stdout = errOut, errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	<-hit
	if err := c.CoordinationV1().Leases(ns).Delete(ctx, lock.LeaseName("app"), metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() == 0 || !strings.Contains(errOut.String(), "lost the lock") || !strings.Contains(errOut.String(), "its Lease was deleted") {
		t.Fatalf("exit %v, want a failure naming the lost lock:\n%s", err, errOut.String())
	}
	recs := journals(t, ns, "app")
	if len(recs) != 1 || recs[0].Status.Phase.Final() {
		t.Fatalf("journals after the loss: %+v", recs)
	}
	stopped := recs[0].ResourceVersion
	// Nobody writes the journal any more: the run stopped.
	if again := journals(t, ns, "app"); again[0].ResourceVersion != stopped {
		t.Fatal("the journal was written after the run said it stopped")
	}
	r := run(t, nil, "", withDefaultLease(args[2:])...)
	if r.Code != 0 || !strings.Contains(r.Stderr, "resuming rotation") {
		t.Fatalf("rerun: %+v", r)
	}
	if recs := journals(t, ns, "app"); len(recs) != 1 || recs[0].Status.Phase != v1alpha1.Succeeded {
		t.Fatalf("journals: %+v", recs)
	}
	assertNothingDangles(t, ns)
}

// TestCleanupDuringAGatedRolloutKeepsTheRestorableVersion: while a rollout runs,
// cleanup is refused by the family's lock; once the rollout's run is killed (its
// journal unfinished), cleanup keeps the version it may still restore, even though no
// workload names it any more.
func TestCleanupDuringAGatedRolloutKeepsTheRestorableVersion(t *testing.T) {
	t.Parallel()
	ns := clusterenv.Namespace(t)
	c := clusterenv.Client(t)
	// v0, older and named by nothing, gives cleanup something to delete.
	v0r := run(t, newClock(t0.Add(-48*time.Hour)), "", "create", "app", "-n", ns, "--from-literal", "token=value")
	if v0r.Code != 0 {
		t.Fatalf("create: %+v", v0r)
	}
	v0 := strings.TrimSpace(v0r.Stdout)
	v1, v2 := twoVersions(t, ns, "app")
	createDeployment(t, ns, deployment("web", v1, 2))
	args := []string{"rollout", "app", "-n", ns, "--to", v2, "--yes", "--strategy", "bluegreen", "--steps", "50,100", "--pause", "1m", "--lease-duration", "5s"}
	hit := onJournal(t, ns, "app", func(r *v1alpha1.SecretRotation) bool { return r.Status.StepHealthy != nil })
	cmd := exec.Command(rotorBinary(t), append([]string{"--kubeconfig", clusterenv.Kubeconfig(t)}, args...)...)
	errOut := &lockedBuffer{}
	cmd.Stderr = errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	<-hit
	cleanup := []string{"cleanup", "app", "-n", ns, "--yes", "--retain", "0s", "--keep", "0", "--allow-breaking-undo"}
	held := run(t, nil, "", cleanup...)
	if held.Code == 0 || !strings.Contains(held.Stderr, "another rotation of \"app\"") {
		t.Fatalf("cleanup while the rollout runs: %+v", held)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_, _ = cmd.Process.Wait()
	// Blue still names v1, green v2; move blue away from v1 by hand, as if the dead run
	// had already re-pointed it: now nothing names v1, but the rotation may restore it.
	patch := fmt.Sprintf(`{"spec":{"template":{"spec":{"containers":[{"name":"app","envFrom":[{"secretRef":{"name":%q}}]}]}}}}`, v2)
	if _, err := c.AppsV1().Deployments(ns).Patch(context.Background(), "web", "application/strategic-merge-patch+json", []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	r := run(t, nil, "", append(cleanup, "-o", "json")...)
	if r.Code != 0 || !strings.Contains(r.Stdout, "kept: rotation in progress") {
		t.Fatalf("cleanup after the kill: %+v", r)
	}
	left := secretNames(t, ns)
	if !left[v1] || !left[v2] {
		t.Fatalf("cleanup deleted a version the unfinished rotation names (%s, %s):\n%s", v1, v2, r.Stdout)
	}
	if left[v0] {
		t.Fatalf("cleanup kept %s, which nothing names:\n%s", v0, r.Stdout)
	}
}

// TestMultiNamespaceBatchesAreAnalysedEachWithItsOwnVersion rotates two namespaces
// with -A to their own latest versions; the analysis passes for the first namespace's
// version and fails for the second's: the second batch rolls back, and so does the
// first (--rollback-scope all), or not (failed).
func TestMultiNamespaceBatchesAreAnalysedEachWithItsOwnVersion(t *testing.T) {
	t.Parallel()
	prom := promenv.Start(t).URL
	for _, scope := range []string{"all", "failed"} {
		t.Run("rollback scope "+scope, func(t *testing.T) {
			// Batches run in namespace order: the second fails.
			nss := []string{clusterenv.Namespace(t), clusterenv.Namespace(t)}
			sort.Strings(nss)
			nsA, nsB := nss[0], nss[1]
			// A family of its own: -A must not touch other tests' namespaces.
			fam := "multi-" + nsA[len(nsA)-6:]
			a1, a2 := twoVersions(t, nsA, fam)
			clk := newClock(t0.Add(72 * time.Hour))
			var b []string
			for i := 0; i < 2; i++ {
				r := run(t, clk, "", "create", fam, "-n", nsB, "--from-literal", "token=value")
				if r.Code != 0 {
					t.Fatalf("create: %+v", r)
				}
				b = append(b, strings.TrimSpace(r.Stdout))
				clk.Step(24 * time.Hour)
			}
			createDeployment(t, nsA, deployment("web", a1, 1))
			createDeployment(t, nsB, deployment("web", b[0], 1))
			file := writeArgsAnalysis(t, prom, b[1])
			r := run(t, nil, "", "rollout", fam, "-A", "--to", "latest", "--yes", "--analysis", file, "--rollback-scope", scope)
			if r.Code != 1 {
				t.Fatalf("exit %d, want 1\n%s\n%s", r.Code, r.Stdout, r.Stderr)
			}
			// Each batch was analysed with its own version.
			if !strings.Contains(r.Stderr, `"`+a2+`" != `) || !strings.Contains(r.Stderr, `"`+b[1]+`" != `) {
				t.Fatalf("the batches were not analysed with their own versions:\n%s", r.Stderr)
			}
			if got := templateSecrets(t, nsB, "web"); got[0] != b[0] {
				t.Fatalf("the failing batch names %v, want %s", got, b[0])
			}
			wantA := a1
			if scope == "failed" {
				wantA = a2
			}
			if got := templateSecrets(t, nsA, "web"); got[0] != wantA {
				t.Fatalf("the first batch names %v, want %s (--rollback-scope %s)", got, wantA, scope)
			}
		})
	}
}

// writeArgsAnalysis writes an analysis whose verdict depends on the version it is
// given: every version passes but bad.
func writeArgsAnalysis(t *testing.T, promURL, bad string) string {
	t.Helper()
	doc := fmt.Sprintf(`apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: per-version
spec:
  metrics:
  - name: version-check
    successCondition: 'result[0] < 5 && "{{args.version}}" != "%s"'
    provider:
      prometheus:
        address: %s
        query: 'label_replace(vector(0), "version", "{{args.version}}", "", "")'
`, bad, promURL)
	p := filepath.Join(t.TempDir(), "per-version.yaml")
	if err := os.WriteFile(p, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
