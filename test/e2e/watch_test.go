package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/internal/cli"
	"github.com/rotor-project/rotor/internal/journal"
	"github.com/rotor-project/rotor/test/clusterenv"
	"github.com/rotor-project/rotor/test/promenv"
	"github.com/rotor-project/rotor/test/waitfor"
)

// lockedBuffer is a buffer a running command writes to while the test reads it, and
// waits on.
type lockedBuffer = waitfor.Buffer

// startWatch runs `rotor watch` in-process with the real clock until it ends or ctx
// is cancelled.
func startWatch(ctx context.Context, t *testing.T, args ...string) (done <-chan int, stdout, stderr *lockedBuffer) {
	t.Helper()
	stdout, stderr = &lockedBuffer{}, &lockedBuffer{}
	ch := make(chan int, 1)
	full := append([]string{"rotor", "--kubeconfig", clusterenv.Kubeconfig(t), "watch"}, args...)
	go func() {
		ch <- cli.Run(ctx, full, cli.IOStreams{In: strings.NewReader(""), Out: stdout, ErrOut: stderr}, cli.Deps{})
	}()
	return ch, stdout, stderr
}

// rotated creates a consumer Deployment and the record of a rotation that moved it
// from an old version to a new one, as `rotor rollout` leaves them.
func rotated(t *testing.T, ns, fam string) *latestStore {
	t.Helper()
	c := clusterenv.Client(t)
	ctx := context.Background()
	from, to := fam+"-20250101000000", fam+"-20250201000000"
	for _, v := range []string{from, to} {
		immutable := true
		if _, err := c.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: v}, Immutable: &immutable,
			StringData: map[string]string{"token": "not-printed"}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	one := int32(1)
	labels := map[string]string{"app": "api"}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "api"},
		Spec: appsv1.DeploymentSpec{Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{Containers: []corev1.Container{{
				Name: "app", Image: "app", EnvFrom: []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: to}}}},
			}}}}},
	}
	if _, err := c.AppsV1().Deployments(ns).Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Settled, as after a finished rotation: a test comparing the namespace before and
	// after a refused command must not see the controller manager finish its rollout.
	waitAvailable(t, c, ns, "api")
	store := &journal.Store{Client: c}
	fin := metav1.NewTime(time.Now().Add(-time.Minute))
	started := metav1.NewTime(fin.Add(-time.Minute))
	if _, err := store.Create(ctx, &v1alpha1.SecretRotation{ObjectMeta: metav1.ObjectMeta{Namespace: ns},
		Spec: v1alpha1.RotationSpec{Family: fam, Target: to, Action: v1alpha1.ActionRollout},
		Status: v1alpha1.RotationStatus{Phase: v1alpha1.Succeeded, Planned: true, TargetVersion: to, Started: &started, Finished: &fin,
			Consumers: []v1alpha1.ConsumerStatus{{Kind: "Deployment", Name: "api", From: from, To: to}}}}); err != nil {
		t.Fatal(err)
	}
	return &latestStore{store}
}

// latestStore reads the newest rotation of a family.
type latestStore struct{ *journal.Store }

func (s *latestStore) Latest(ctx context.Context, ns, fam string) (*v1alpha1.SecretRotation, error) {
	all, err := s.List(ctx, ns, fam)
	if err != nil || len(all) == 0 {
		return nil, err
	}
	return all[len(all)-1], nil
}

func writeAnalysis(t *testing.T, promURL, query string) string {
	t.Helper()
	doc := fmt.Sprintf(`apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: error-rate
spec:
  args:
  - name: threshold
    value: "5"
  metrics:
  - name: error-rate
    interval: 1s
    successCondition: result[0] < {{args.threshold}}
    provider:
      prometheus:
        address: %s
        query: %s
`, promURL, query)
	p := filepath.Join(t.TempDir(), "analysis.yaml")
	if err := os.WriteFile(p, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// A watch over an hour-long window: when the exporter's error rate jumps, the watch
// fails within seconds, creates a Warning Event on the consumer, POSTs to the webhook
// and exits 1.
func TestWatchFailureCreatesEventsAndNotifies(t *testing.T) {
	t.Parallel()
	ns := clusterenv.Namespace(t)
	store := rotated(t, ns, "auth")
	exp := promenv.StartExporter(t)
	prom := promenv.Start(t, exp.Target)
	prom.WaitForTarget(t)
	query := `sum(rate(app_requests_total{code="500"}[5s]))`
	prom.WaitForQuery(t, "the rate to have data", query)

	var mu sync.Mutex
	var posts []map[string]any
	l := promenv.Listen(t)
	hook := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil || r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("webhook got %s %q (%v)", r.Method, b, err)
		}
		mu.Lock()
		posts = append(posts, m)
		mu.Unlock()
	})}
	go func() { _ = hook.Serve(l) }()
	t.Cleanup(func() { _ = hook.Close() })
	hookURL := "http://" + l.Addr().String() + "/services/T000/B000/secret-token"

	file := writeAnalysis(t, prom.URL, query)
	ctx := waitfor.Context(t)
	done, stdout, stderr := startWatch(ctx, t, "auth", "-n", ns, "--analysis", file, "--for", "1h", "--notify", hookURL)
	codes := make(chan int, 1) // the watch's exit status, relayed
	ended, markEnded := context.WithCancel(ctx)
	go func() { codes <- <-done; markEnded() }()
	if err := stderr.WaitContext(ended, func(s string) bool { return strings.Count(s, "Successful value=") >= 2 }); err != nil {
		select {
		case code := <-codes:
			t.Fatalf("the watch ended early with %d:\n%s\n%s", code, stdout, stderr)
		default:
			t.Fatalf("waiting for two healthy heartbeats: %v\n%s", err, stderr)
		}
	}
	exp.SetErrorRate(50)
	var code int
	select {
	case code = <-codes:
	case <-ctx.Done():
		t.Fatalf("the watch did not fail after errors began; stderr:\n%s", stderr)
	}
	if code != 1 {
		t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	out := stdout.String()
	for _, want := range []string{"Watch of auth in " + ns + ": Failed", "error-rate", "result[0] < 5 is false", "Events:  1 of 1 consumer(s) Deployment/api", "Notified: http://127.0.0.1"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out+stderr.String(), "secret-token") || strings.Contains(out+stderr.String(), "not-printed") {
		t.Errorf("a credential was printed:\n%s\n%s", out, stderr)
	}
	evs, err := clusterenv.Client(t).CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{FieldSelector: "involvedObject.name=api"})
	if err != nil {
		t.Fatal(err)
	}
	var ours []corev1.Event
	for _, e := range evs.Items {
		if e.Source.Component == "rotor" {
			ours = append(ours, e)
		}
	}
	if len(ours) != 1 || ours[0].Reason != "RotationAnalysisFailed" || ours[0].Type != corev1.EventTypeWarning ||
		ours[0].InvolvedObject.UID == "" || !strings.Contains(ours[0].Message, "error-rate") {
		t.Fatalf("rotor's events on the consumer: %+v", ours)
	}
	mu.Lock()
	if len(posts) != 1 || !strings.Contains(fmt.Sprint(posts[0]["text"]), "Failed") || posts[0]["family"] != "auth" {
		t.Errorf("webhook posts: %v", posts)
	}
	mu.Unlock()
	rec, err := store.Latest(context.Background(), ns, "auth")
	if err != nil || rec.Status.Watch == nil || rec.Status.Watch.Phase != "Failed" || rec.Status.Watch.Duration != "1h0m0s" {
		t.Fatalf("journal watch = %+v (%v)", rec.Status.Watch, err)
	}
}

// A watch interrupted midway leaves its window recorded; the same command again
// continues that window; other arguments start a new one.
func TestWatchResumesTheRecordedWindow(t *testing.T) {
	t.Parallel()
	ns := clusterenv.Namespace(t)
	store := rotated(t, ns, "auth")
	prom := promenv.Start(t)
	file := writeAnalysis(t, prom.URL, "vector(0)")
	ctx := context.Background()

	interrupt := func(args ...string) (string, *v1alpha1.WatchStatus) {
		t.Helper()
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		done, _, stderr := startWatch(ctx, t, append([]string{"auth", "-n", ns, "--analysis", file}, args...)...)
		stderr.Wait(t, "a heartbeat", func(s string) bool { return strings.Contains(s, "Successful value=[0]") })
		cancel()
		if code := <-done; code != 130 {
			t.Fatalf("interrupted watch exit %d, want 130:\n%s", code, stderr)
		}
		rec, err := store.Latest(context.Background(), ns, "auth")
		if err != nil || rec.Status.Watch == nil {
			t.Fatalf("no watch recorded: %v", err)
		}
		return stderr.String(), rec.Status.Watch
	}
	first, w1 := interrupt("--for", "2h")
	if w1.Phase != "Running" || !strings.Contains(first, "window started") {
		t.Fatalf("first run: %+v\n%s", w1, first)
	}
	second, w2 := interrupt("--for", "2h")
	if !w2.Started.Equal(&w1.Started) || !strings.Contains(second, "window resumed (started "+w1.Started.UTC().Format(time.RFC3339)+")") {
		t.Fatalf("the restart did not continue the window: %+v vs %+v\n%s", w2, w1, second)
	}
	// The window's start is recorded to the second, so it cannot tell a new window
	// from the old one when both began within a second; the output and the
	// recorded analysis identity can.
	third, w3 := interrupt("--for", "2h", "--arg", "threshold=3")
	if w3.Analysis == w1.Analysis || !strings.Contains(third, "window started") || strings.Contains(third, "window resumed") {
		t.Fatalf("other arguments continued the old window: %+v vs %+v\n%s", w3, w1, third)
	}
}

// Bad PromQL, an unreachable Prometheus and a condition that does not compile are
// refused before anything is recorded.
func TestWatchRefusesABadAnalysisUpFront(t *testing.T) {
	t.Parallel()
	ns := clusterenv.Namespace(t)
	rotated(t, ns, "auth")
	prom := promenv.Start(t)
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad-condition.yaml")
	if err := os.WriteFile(bad, []byte(fmt.Sprintf("kind: AnalysisTemplate\nspec:\n  metrics:\n  - name: e\n    successCondition: result[0] <\n    provider:\n      prometheus: {address: %s, query: vector(0)}\n", prom.URL)), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, file, want string
	}{
		{"bad PromQL is refused", writeAnalysis(t, prom.URL, "sum(rate(x[5m]"), "bad PromQL"},
		{"an unreachable Prometheus is refused", writeAnalysis(t, "http://127.0.0.1:1", "vector(0)"), "is unreachable"},
		{"a condition that does not compile is refused", bad, "does not compile"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := snapshot(t, ns)
			r := run(t, nil, "", "watch", "auth", "-n", ns, "--analysis", tt.file, "--for", "1h")
			if r.Code != 1 || !strings.Contains(r.Stderr, tt.want) || strings.Contains(r.Stderr, "hint: the cluster did not answer") {
				t.Fatalf("exit %d, stderr:\n%s\nwant %q", r.Code, r.Stderr, tt.want)
			}
			assertUnchanged(t, ns, before)
		})
	}
}
