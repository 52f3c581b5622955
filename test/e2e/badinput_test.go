package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"

	"github.com/rotor-project/rotor/internal/lock"
	"github.com/rotor-project/rotor/test/clusterenv"
	"github.com/rotor-project/rotor/test/promenv"
)

// badInputEnv is the shared fixture of the bad-input cases: one namespace with the
// family app (three versions rotor made, a look-alike, a future-dated one), the
// family busy whose rotation lock someone else holds, a Deployment on each, and a
// directory of input files.
type badInputEnv struct {
	t    *testing.T
	ns   string
	dir  string
	subs map[string]string // value → placeholder in goldens
	prom string            // a real Prometheus, started on first use
}

func (e *badInputEnv) file(name, content string) string {
	e.t.Helper()
	p := filepath.Join(e.dir, name)
	mustWrite(e.t, p, content)
	return p
}

// sub records a run-specific value to replace in goldens.
func (e *badInputEnv) sub(value, placeholder string) string {
	e.subs[value] = placeholder
	return value
}

func (e *badInputEnv) prometheus() string {
	if e.prom == "" {
		e.prom = e.sub(promenv.Start(e.t).URL, "http://127.0.0.1:PROMETHEUS")
	}
	return e.prom
}

// analysis writes an AnalysisTemplate with one Prometheus metric.
func (e *badInputEnv) analysis(name, address, query string, timeout int) string {
	to := ""
	if timeout > 0 {
		to = fmt.Sprintf("\n        timeout: %d", timeout)
	}
	return e.file(name, fmt.Sprintf(`apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
spec:
  metrics:
  - name: errors
    successCondition: result[0] < 1
    provider:
      prometheus:
        address: %s
        query: %q%s
`, address, query, to))
}

// endless serves an endless stream at a FIFO (or a pipe's path), like <(yes).
func (e *badInputEnv) endless(path string, open func() (*os.File, error)) string {
	e.t.Helper()
	go func() {
		w, err := open()
		if err != nil {
			return
		}
		defer func() { _ = w.Close() }()
		chunk := []byte(strings.Repeat("y\n", 32*1024))
		for {
			if _, err := w.Write(chunk); err != nil {
				return // the reader gave up: EPIPE
			}
		}
	}()
	return path
}

type badInputCase struct {
	id    string
	args  func(e *badInputEnv) []string
	stdin string
}

func fixed(args ...string) func(*badInputEnv) []string {
	return func(*badInputEnv) []string { return args }
}

var cycleYAML = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: loop}\nspec: &spec\n  template:\n    spec: {containers: [{name: a, image: a}], volumes: [*spec]}\n"

func laughsYAML(levels int) string {
	var b strings.Builder
	b.WriteString("kind: ConfigMap\ndata:\n  a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n")
	for i := 1; i <= levels; i++ {
		fmt.Fprintf(&b, "  a%d: &a%d [", i, i)
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*a%d", i-1)
		}
		b.WriteString("]\n")
	}
	return b.String()
}

// badInputCases are the cases of docs/bad-input.md, in its order.
var badInputCases = []badInputCase{
	// Names
	{id: "family-invalid", args: fixed("versions", "Bad_Family")},
	{id: "family-too-long", args: fixed("create", strings.Repeat("a", 239), "--from-literal", "k=v")},
	{id: "family-empty", args: fixed("create", "", "--from-literal", "k=v")},
	{id: "version-of-another-family", args: fixed("rollout", "app", "--to", "other-20250101000000", "--yes")},
	{id: "version-not-a-version", args: fixed("rollout", "app", "--to", "app-latest", "--yes")},
	{id: "version-missing", args: fixed("rollout", "app", "--to", "app-20250102000000", "--yes")},
	{id: "version-untrusted", args: fixed("rollout", "app", "--to", "app-20260101000000", "--yes")},
	{id: "version-future", args: fixed("rollout", "app", "--to", "app-20991231235959", "--yes")},
	{id: "version-deleted", args: fixed("rollback", "app", "--to", "app-20240101000000", "--yes")},
	{id: "adopt-mutable", args: fixed("versions", "app", "--adopt", "app-20260101000000", "--yes")},
	{id: "adopt-another-family", args: fixed("versions", "app", "--adopt", "other-20250101000000", "--yes")},
	// Keys
	{id: "literal-without-key", args: fixed("create", "app", "--from-literal", "k=v", "--from-literal", "c2VjcmV0LXZhbHVl")},
	{id: "literal-base64", args: fixed("create", "app", "--from-literal", "dG9r+ZW4/eA==")},
	{id: "literal-base64-padding", args: fixed("create", "app", "--from-literal", "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC==")},
	{id: "key-twice", args: fixed("create", "app", "--from-literal", "k=1", "--from-literal", "k=2")},
	{id: "stdin-key-invalid", args: fixed("create", "app", "--from-stdin", "bad key"), stdin: "v"},
	{id: "env-file-line-without-equals", args: func(e *badInputEnv) []string {
		return []string{"create", "app", "--from-env-file", e.file("noeq.env", "A=1\nc2VjcmV0LXZhbHVl\n")}
	}},
	{id: "env-file-pem-tail", args: func(e *badInputEnv) []string {
		return []string{"create", "app", "--from-env-file", e.file("pem.env", "TLS_KEY=-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\nAAAAAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+P0BB==\n")}
	}},
	{id: "env-file-nul", args: func(e *badInputEnv) []string {
		return []string{"create", "app", "--from-env-file", e.file("nul.env", "A=x\x00y\n")}
	}},
	{id: "env-file-key-starts-with-digit", args: func(e *badInputEnv) []string {
		return []string{"create", "app", "--from-env-file", e.file("digit.env", "1KEY=v\n")}
	}},
	{id: "no-data", args: fixed("create", "app")},
	// Sizes and special files
	{id: "file-dev-zero", args: fixed("create", "app", "--from-file", "k=/dev/zero")},
	{id: "env-file-dev-zero", args: fixed("create", "app", "--from-env-file", "/dev/zero")},
	{id: "file-fifo-endless", args: func(e *badInputEnv) []string {
		fifo := filepath.Join(e.dir, "fifo")
		if err := syscall.Mkfifo(fifo, 0o600); err != nil {
			e.t.Fatal(err)
		}
		return []string{"create", "app", "--from-file", "k=" + e.endless(fifo, func() (*os.File, error) { return os.OpenFile(fifo, os.O_WRONLY, 0) })}
	}},
	{id: "file-process-substitution", args: func(e *badInputEnv) []string {
		r, w, err := os.Pipe()
		if err != nil {
			e.t.Fatal(err)
		}
		e.t.Cleanup(func() { _ = r.Close() })
		path := e.sub(fmt.Sprintf("/dev/fd/%d", r.Fd()), "/dev/fd/N")
		return []string{"create", "app", "--from-file", "k=" + e.endless(path, func() (*os.File, error) { return w, nil })}
	}},
	{id: "stdin-over-1mib", args: fixed("create", "app", "--from-stdin", "k"), stdin: strings.Repeat("y", 1024*1024+1)},
	{id: "file-is-a-directory", args: func(e *badInputEnv) []string { return []string{"create", "app", "--from-file", "k=" + e.dir} }},
	{id: "file-missing", args: func(e *badInputEnv) []string {
		return []string{"create", "app", "--from-file", "k=" + filepath.Join(e.dir, "nope")}
	}},
	{id: "data-over-1mib", args: func(e *badInputEnv) []string {
		half := e.file("half", strings.Repeat("x", 600*1024))
		return []string{"create", "app", "--from-file", "a=" + half, "--from-file", "b=" + half}
	}},
	// Durations
	{id: "pause-negative", args: fixed("rollout", "app", "--to", "latest", "--strategy", "bluegreen", "--pause=-1m", "--yes")},
	{id: "timeout-zero", args: fixed("rollout", "app", "--to", "latest", "--timeout", "0s", "--yes")},
	{id: "timeout-absurd", args: fixed("rollout", "app", "--to", "latest", "--timeout", "100000h", "--yes")},
	{id: "analysis-duration-negative", args: fixed("rollout", "app", "--to", "latest", "--analysis-duration=-5m", "--yes")},
	{id: "retain-negative", args: fixed("cleanup", "app", "--retain=-3d", "--yes")},
	{id: "retain-absurd", args: fixed("cleanup", "app", "--retain", "99999w", "--yes")},
	{id: "retain-unreadable", args: fixed("cleanup", "app", "--retain", "two weeks", "--yes")},
	{id: "keep-negative", args: fixed("cleanup", "app", "--keep=-1", "--yes")},
	{id: "watch-for-absurd", args: func(e *badInputEnv) []string {
		return []string{"watch", "app", "--analysis", e.analysis("w.yaml", "http://127.0.0.1:9", "vector(0)", 0), "--for", "100000h"}
	}},
	// Selectors and scope
	{id: "selector-invalid", args: fixed("rollout", "app", "--to", "latest", "-l", "app in (", "--yes")},
	{id: "selector-matches-nothing", args: fixed("rollout", "app", "--to", "latest", "-l", "app=nothing", "--yes")},
	{id: "workload-invalid", args: fixed("rollout", "app", "--to", "latest", "--workload", "nosuchkind/x", "--yes")},
	// Analysis files, PromQL and Prometheus
	{id: "analysis-missing", args: func(e *badInputEnv) []string {
		return []string{"rollout", "app", "--to", "latest", "--analysis", filepath.Join(e.dir, "nope.yaml"), "--yes"}
	}},
	{id: "analysis-alias-cycle", args: func(e *badInputEnv) []string {
		return []string{"rollout", "app", "--to", "latest", "--analysis", e.file("cycle.yaml", "spec:\n  metrics: &m\n  - name: errors\n    provider: {web: {url: 'http://x'}}\n    extra: [*m]\n"), "--yes"}
	}},
	{id: "analysis-billion-laughs", args: func(e *badInputEnv) []string {
		return []string{"rollout", "app", "--to", "latest", "--analysis", e.file("laughs.yaml", laughsYAML(8)), "--yes"}
	}},
	{id: "analysis-dev-zero", args: fixed("rollout", "app", "--to", "latest", "--analysis", "/dev/zero", "--yes")},
	{id: "analysis-wrong-kind", args: func(e *badInputEnv) []string {
		return []string{"rollout", "app", "--to", "latest", "--analysis", e.file("kind.yaml", "apiVersion: apps/v1\nkind: Deployment\nspec: {}\n"), "--yes"}
	}},
	{id: "promql-invalid", args: func(e *badInputEnv) []string {
		return []string{"rollout", "app", "--to", "latest", "--analysis", e.analysis("promql.yaml", e.prometheus(), "sum(rate(app_requests_total[5m]", 0), "--yes"}
	}},
	{id: "prometheus-unreachable", args: func(e *badInputEnv) []string {
		addr := e.sub(closedPort(e.t), "127.0.0.1:CLOSED")
		return []string{"rollout", "app", "--to", "latest", "--analysis", e.analysis("down.yaml", "http://"+addr, "vector(0)", 0), "--yes"}
	}},
	{id: "prometheus-slow", args: func(e *badInputEnv) []string {
		stop := make(chan struct{})
		slow := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-stop:
			}
		}))
		e.t.Cleanup(slow.Close)
		e.t.Cleanup(func() { close(stop) }) // runs first: the answer never comes, and the server can close
		return []string{"rollout", "app", "--to", "latest", "--analysis", e.analysis("slow.yaml", e.sub(slow.URL, "http://127.0.0.1:SLOW"), "vector(0)", 1), "--yes"}
	}},
	{id: "arg-without-name", args: func(e *badInputEnv) []string {
		return []string{"rollout", "app", "--to", "latest", "--analysis", e.analysis("a.yaml", "http://127.0.0.1:9", "vector(0)", 0), "--arg", "c2VjcmV0LXZhbHVl", "--yes"}
	}},
	{id: "notify-not-a-url", args: func(e *badInputEnv) []string {
		return []string{"watch", "app", "--analysis", e.analysis("n.yaml", "http://127.0.0.1:9", "vector(0)", 0), "--notify", "ftp://hooks.example/T0K3N"}
	}},
	// Contexts and namespaces
	{id: "context-missing", args: fixed("versions", "app", "--context", "nowhere")},
	{id: "namespace-missing", args: fixed("create", "app", "--from-literal", "k=v", "-n", "no-such-namespace-b4d1")},
	// Forbidden verbs
	{id: "forbidden-patch", args: func(e *badInputEnv) []string {
		user := e.sub(userWith(e.t, e.ns, without(shippedRole(e.t, "rotator.yaml"), "apps", "deployments", "patch")), "USER")
		return []string{"rollout", "app", "--to", "latest", "--yes", "--as", user}
	}},
	{id: "forbidden-delete", args: func(e *badInputEnv) []string {
		user := e.sub(userWith(e.t, e.ns, shippedRole(e.t, "reader.yaml")), "USER")
		return []string{"cleanup", "app", "--retain", "0d", "--keep", "1", "--yes", "--as", user}
	}},
	// Concurrent commands
	{id: "rotation-already-running", args: fixed("rollout", "busy", "--to", "latest", "--yes")},
	// YAML bombs in manifests
	{id: "manifest-alias-cycle", args: func(e *badInputEnv) []string {
		return []string{"cleanup", "app", "--retain", "0d", "--keep", "1", "--yes", "--path", e.file("cycle-manifest.yaml", cycleYAML)}
	}},
	{id: "manifest-billion-laughs", args: func(e *badInputEnv) []string {
		return []string{"cleanup", "app", "--retain", "0d", "--keep", "1", "--yes", "--path", e.file("laughs-manifest.yaml", laughsYAML(9))}
	}},
	// Consent
	{id: "rollout-without-yes", args: fixed("rollout", "app", "--to", "latest")},
	{id: "rollback-without-yes", args: fixed("rollback", "app")},
	{id: "cleanup-without-yes", args: fixed("cleanup", "app", "--retain", "0d")},
	{id: "dry-run-unknown", args: fixed("rollout", "app", "--to", "latest", "--dry-run=maybe")},
	// Environments (rotor.yaml)
	{id: "env-unknown", stdin: "x", args: func(e *badInputEnv) []string {
		return []string{"rotate", "app", "--env", "qa", "--config", e.config(), "--from-stdin", "token", "--yes"}
	}},
	{id: "env-with-namespace", stdin: "x", args: func(e *badInputEnv) []string {
		return []string{"rotate", "app", "--env", "staging", "--config", e.config(), "-n", e.ns, "--from-stdin", "token", "--yes"}
	}},
	{id: "env-config-missing", stdin: "x", args: func(e *badInputEnv) []string {
		return []string{"rotate", "app", "--env", "staging", "--config", filepath.Join(e.dir, "nope.yaml"), "--from-stdin", "token", "--yes"}
	}},
	{id: "env-config-unknown-field", stdin: "x", args: func(e *badInputEnv) []string {
		cfg := e.file("typo.yaml", "apiVersion: rotor.dev/v1alpha1\nkind: Config\nenvironments:\n- name: staging\n  namespace: ["+e.ns+"]\n")
		return []string{"rotate", "app", "--env", "staging", "--config", cfg, "--from-stdin", "token", "--yes"}
	}},
	{id: "env-config-billion-laughs", stdin: "x", args: func(e *badInputEnv) []string {
		return []string{"rotate", "app", "--env", "staging", "--config", e.file("laughs-config.yaml", laughsYAML(9)), "--from-stdin", "token", "--yes"}
	}},
	{id: "env-requires-promote", stdin: "x", args: func(e *badInputEnv) []string {
		return []string{"rotate", "app", "--env", "production", "--config", e.config(), "--from-stdin", "token", "--yes"}
	}},
	{id: "env-promote-first-environment", stdin: "x", args: func(e *badInputEnv) []string {
		return []string{"promote", "app", "--env", "staging", "--config", e.config(), "--from-stdin", "token", "--yes"}
	}},
	{id: "env-in-place-versioned", stdin: "x", args: func(e *badInputEnv) []string {
		return []string{"rotate", "app", "--env", "staging", "--config", e.config(), "--from-stdin", "token", "--in-place", "--yes"}
	}},
	{id: "env-required-key-missing", stdin: "x", args: func(e *badInputEnv) []string {
		return []string{"rotate", "app", "--env", "staging", "--config", e.config(), "--from-stdin", "token", "--yes"}
	}},
}

// config is the fixture's rotor.yaml: staging is the fixture's namespace, production
// (a namespace no case reaches) requires staging, and family app requires the keys
// token and region.
func (e *badInputEnv) config() string {
	return e.file("rotor.yaml", "apiVersion: rotor.dev/v1alpha1\nkind: Config\nenvironments:\n- name: staging\n  namespaces: ["+e.ns+
		"]\n- name: production\n  namespaces: [bad-input-production]\n  requires: [staging]\nfamilies:\n- name: app\n  requiredKeys: [token, region]\n")
}

// setUpBadInput builds the shared fixture.
func setUpBadInput(t *testing.T) *badInputEnv {
	t.Helper()
	ns := clusterenv.Namespace(t)
	e := &badInputEnv{t: t, ns: ns, dir: t.TempDir(), subs: map[string]string{}}
	e.sub(ns, "NAMESPACE")
	e.sub(e.dir, "DIR")
	clk := newClock(t0.Add(-24 * time.Hour))
	var names []string
	for i := 0; i < 3; i++ {
		r := run(t, clk, "", "create", "app", "-n", ns, "--from-literal", "token=v")
		if r.Code != 0 {
			t.Fatalf("create: %+v", r)
		}
		names = append(names, strings.TrimSpace(r.Stdout))
		clk.Step(24 * time.Hour)
	}
	handMade(t, ns, "app-20260101000000", false, false)
	handMade(t, ns, "app-20991231235959", true, true)
	handMade(t, ns, "other-20250101000000", true, true)
	createDeployment(t, ns, keyRefDeployment("web", names[1], "token"))
	busy1, _ := twoVersions(t, ns, "busy")
	createDeployment(t, ns, keyRefDeployment("busy-web", busy1, "token"))
	// Another run holds busy's lock, and renews it while the test runs.
	held, err := (&lock.Locker{Client: clusterenv.Client(t), Clock: clock.RealClock{}, Duration: lock.MinDuration,
		Holder: "someone on their-laptop (pid 4242)"}).Acquire(context.Background(), ns, "busy")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = held.Release(context.Background()) })
	lease, err := clusterenv.Client(t).CoordinationV1().Leases(ns).Get(context.Background(), lock.LeaseName("busy"), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e.sub(lease.Spec.AcquireTime.UTC().Format(time.RFC3339), "ACQUIRED")
	return e
}

// badInputSnapshot is snapshot plus the Leases and CronJobs a command could touch.
func badInputSnapshot(t *testing.T, ns string) string {
	t.Helper()
	c := clusterenv.Client(t)
	leases, err := c.CoordinationV1().Leases(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	leases.ResourceVersion = ""
	for i := range leases.Items {
		if l := &leases.Items[i]; l.Name == lock.LeaseName("busy") {
			// The other run renews its lock: only who holds it, and since when, count.
			l.ResourceVersion, l.ManagedFields, l.Spec.RenewTime = "", nil, nil
		}
	}
	cronJobs, err := c.BatchV1().CronJobs(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cronJobs.ResourceVersion = ""
	b, _ := json.Marshal([]any{leases, cronJobs})
	return snapshot(t, ns) + "\nleases,cronjobs=" + string(b)
}

// TestBadInput runs every case of docs/bad-input.md: the command fails with the message
// in testdata/bad-input/ID.golden, and the namespace is byte-for-byte unchanged
// (every object with its resourceVersion).
func TestBadInput(t *testing.T) {
	e := setUpBadInput(t)
	for _, c := range badInputCases {
		t.Run(c.id, func(t *testing.T) {
			e.t = t
			args := c.args(e)
			if !contains(args, "-n") && !contains(args, "--env") {
				args = append(args, "-n", e.ns)
			}
			before := badInputSnapshot(t, e.ns)
			r := run(t, nil, c.stdin, args...)
			if r.Code == 0 {
				t.Fatalf("accepted: %+v", r)
			}
			if !strings.Contains(r.Stderr, "error: ") {
				t.Fatalf("no error message on stderr:\n%s", r.Stderr)
			}
			if after := badInputSnapshot(t, e.ns); after != before {
				t.Fatalf("the namespace changed:\nbefore: %s\nafter:  %s", before, after)
			}
			stderr := r.Stderr
			// Longest values first, so a namespace inside a directory name goes whole.
			for _, v := range sortedByLength(e.subs) {
				stderr = strings.ReplaceAll(stderr, v, e.subs[v])
			}
			assertGolden(t, filepath.Join("bad-input", c.id), stderr, nil)
		})
	}
}

func sortedByLength(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	for i := range keys {
		for j := i + 1; j < len(keys); j++ {
			if len(keys[j]) > len(keys[i]) {
				keys[i], keys[j] = keys[j], keys[i]
			}
		}
	}
	return keys
}
