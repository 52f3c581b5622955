package e2e

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/internal/journal"
	"github.com/rotor-project/rotor/internal/rollout"
	"github.com/rotor-project/rotor/test/clusterenv"
	"github.com/rotor-project/rotor/test/waitfor"
)

// onJournal returns a channel closed once a rotation of fam in ns is written that
// satisfies pred (seen by watch).
func onJournal(t *testing.T, ns, fam string, pred func(*v1alpha1.SecretRotation) bool) <-chan struct{} {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	w, err := clusterenv.Client(t).CoreV1().ConfigMaps(ns).Watch(ctx, metav1.ListOptions{LabelSelector: labels.Set{journal.LabelRecord: "rotation"}.String()})
	if err != nil {
		t.Fatal(err)
	}
	hit := make(chan struct{})
	go func() {
		defer w.Stop()
		for ev := range w.ResultChan() {
			if c, ok := ev.Object.(*corev1.ConfigMap); ok {
				if rot, err := journal.Decode(c); err == nil && rot.Spec.Family == fam && pred(rot) {
					close(hit)
					return
				}
			}
		}
	}()
	return hit
}

func intentIs(action string, step int32, act v1alpha1.Action) func(*v1alpha1.SecretRotation) bool {
	return func(r *v1alpha1.SecretRotation) bool {
		return r.Spec.Action == act && r.Status.Intent != nil && r.Status.Intent.Action == action && r.Status.Intent.Step == step
	}
}

// killWhen starts rotor with args and kills it with SIGKILL once the journal satisfies
// pred (or lets it end if it finishes first). It returns the run's stderr.
func killWhen(t *testing.T, ns string, pred func(*v1alpha1.SecretRotation) bool, args ...string) string {
	t.Helper()
	hit := onJournal(t, ns, "app", pred)
	cmd := exec.Command(rotorBinary(t), append([]string{"--kubeconfig", clusterenv.Kubeconfig(t)}, args...)...)
	errOut := &lockedBuffer{}
	cmd.Stderr, cmd.Stdout = errOut, errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case <-hit:
		_ = cmd.Process.Signal(syscall.SIGKILL)
		if err := <-exited; err == nil {
			t.Log("the run ended on its own just before the kill")
		}
	case err := <-exited:
		t.Logf("the run ended before the kill point (%v):\n%s", err, errOut.String())
	case <-waitfor.Context(t).Done():
		_ = cmd.Process.Kill()
		t.Fatalf("the kill point was never reached before the test's deadline:\n%s", errOut.String())
	}
	return errOut.String()
}

// assertNothingDangles checks that every Deployment in ns names only Secrets that exist.
func assertNothingDangles(t *testing.T, ns string) {
	t.Helper()
	c := clusterenv.Client(t)
	deps, err := c.AppsV1().Deployments(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Each Deployment as listed: a green copy the killed run was deleting can be gone
	// by the time a get would ask for it.
	for i := range deps.Items {
		d := &deps.Items[i]
		for _, s := range secretsOfTemplate(d) {
			if _, err := c.CoreV1().Secrets(ns).Get(context.Background(), s, metav1.GetOptions{}); err != nil {
				t.Fatalf("%s names %s, which does not exist: %v", d.Name, s, err)
			}
		}
	}
}

// TestKilledAtEachStepConvergesWhenRunAgain kills rotor with SIGKILL at each step of a
// rolling rollout, a blue-green rollout and a rollback, then runs the command again,
// with the original flags or without them: it converges, nothing names a missing
// Secret, green is gone, blue is at full size, and the killed rotation's journal ends
// Succeeded.
func TestKilledAtEachStepConvergesWhenRunAgain(t *testing.T) {
	t.Parallel()
	bg := []string{"--strategy", "bluegreen", "--steps", "50,100", "--pause", "3s"}
	tests := []struct {
		name     string
		first    []string
		kill     func(*v1alpha1.SecretRotation) bool
		rerun    []string // nil: the first run's flags
		rollback bool
	}{
		{"rolling, killed about to re-point, run again with the same flags", nil, intentIs("Repoint", 0, v1alpha1.ActionRollout), nil, false},
		{"rolling, killed waiting for health, run again without the flags", nil,
			func(r *v1alpha1.SecretRotation) bool {
				return r.Status.Repointed != nil && r.Status.Phase == v1alpha1.Progressing
			}, []string{}, false},
		{"bluegreen, killed about to create green, run again with the same flags", bg, intentIs("CreateGreen", 0, v1alpha1.ActionRollout), nil, false},
		{"bluegreen, killed about to scale the first step, run again with the default strategy", bg, intentIs("Scale", 0, v1alpha1.ActionRollout), []string{}, false},
		{"bluegreen, killed in the first step's pause, run again with the default strategy", bg,
			func(r *v1alpha1.SecretRotation) bool { return r.Status.StepHealthy != nil && r.Status.Step == 0 }, []string{}, false},
		{"bluegreen, killed about to move blue, run again with the same flags", bg, intentIs("Repoint", 1, v1alpha1.ActionRollout), nil, false},
		{"bluegreen, killed about to delete green, run again with the default strategy", bg, intentIs("DeleteGreen", 1, v1alpha1.ActionRollout), []string{}, false},
		{"rollback, killed about to re-point, run again", nil, intentIs("Repoint", 0, v1alpha1.ActionRollback), nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ns := clusterenv.Namespace(t)
			c := clusterenv.Client(t)
			ctx := context.Background()
			v1, v2 := twoVersions(t, ns, "app")
			d := deployment("web", v1, 4)
			d.Spec.MinReadySeconds = 1
			createDeployment(t, ns, d)
			base := []string{"rollout", "app", "-n", ns, "--to", v2, "--yes", "--lease-duration", "5s"}
			want := v2
			if tt.rollback {
				if r := run(t, nil, "", withDefaultLease(base)...); r.Code != 0 {
					t.Fatalf("rollout: %+v", r)
				}
				base = []string{"rollback", "app", "-n", ns, "--yes", "--lease-duration", "5s"}
				want = v1
			}
			first := killWhen(t, ns, tt.kill, append(base, tt.first...)...)
			assertNothingDangles(t, ns)
			rerun := tt.rerun
			if rerun == nil {
				rerun = tt.first
			}
			r := run(t, nil, "", append(withDefaultLease(base), rerun...)...)
			if r.Code != 0 {
				t.Fatalf("rerun: %+v\nkilled run:\n%s", r, first)
			}
			if got := templateSecrets(t, ns, "web"); len(got) != 1 || got[0] != want {
				t.Fatalf("web names %v, want %s\nrerun: %+v", got, want, r)
			}
			assertNothingDangles(t, ns)
			if _, err := c.AppsV1().Deployments(ns).Get(ctx, rollout.GreenName("web"), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				t.Fatalf("green left behind: %v", err)
			}
			waitAvailable(t, c, ns, "web")
			dep, _ := c.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
			if *dep.Spec.Replicas != 4 {
				t.Fatalf("blue has %d replicas, want 4", *dep.Spec.Replicas)
			}
			for _, rot := range journals(t, ns, "app") {
				if rot.Status.Phase != v1alpha1.Succeeded {
					t.Fatalf("journal %s ended %s (%s), want Succeeded\nrerun: %+v", rot.Name, rot.Status.Phase, rot.Status.Message, r)
				}
			}
			if l, _ := c.CoordinationV1().Leases(ns).List(ctx, metav1.ListOptions{}); len(l.Items) != 0 {
				t.Fatal("the lock was not released")
			}
		})
	}
}

// TestARerunThatFailsRollsBackWhatTheDeadRunMoved kills a rollout of a crashing
// version right after it re-pointed; the rerun resumes it, sees the crash, and returns
// the consumer the dead run moved.
func TestARerunThatFailsRollsBackWhatTheDeadRunMoved(t *testing.T) {
	t.Parallel()
	ns := clusterenv.Namespace(t)
	v1, v2 := twoVersions(t, ns, "app")
	crashPodsUsing(t, ns, v2+"$")
	createDeployment(t, ns, deployment("web", v1, 2))
	args := []string{"rollout", "app", "-n", ns, "--to", v2, "--yes", "--lease-duration", "5s"}
	killWhen(t, ns, func(r *v1alpha1.SecretRotation) bool { return r.Status.Repointed != nil }, args...)
	assertNothingDangles(t, ns)
	r := run(t, nil, "", withDefaultLease(args)...)
	if r.Code != 1 || !strings.Contains(r.Stdout, "rolled back") && !strings.Contains(r.Stderr, "rolled back") {
		t.Fatalf("rerun: %+v", r)
	}
	if got := templateSecrets(t, ns, "web"); got[0] != v1 {
		t.Fatalf("web names %v, want the dead run's change rolled back to %s", got, v1)
	}
	recs := journals(t, ns, "app")
	if last := recs[len(recs)-1]; last.Status.Phase != v1alpha1.RolledBack {
		t.Fatalf("journals: %+v", recs)
	}
	for _, rot := range recs {
		if !rot.Status.Phase.Final() || rot.Status.Phase == v1alpha1.Failed {
			t.Fatalf("journal %s left %s: %s", rot.Name, rot.Status.Phase, rot.Status.Message)
		}
	}
}

// TestASecondInterruptExitsAtOnceAndARerunFinishes: Ctrl-C during a blue-green pause
// says a second one stops at once and journals a rollback; Ctrl-C again while it rolls
// back exits at once (130), leaving the journal unfinished and saying where it stopped;
// the same command again carries out the rollback the journal asks for. (Two signals
// sent back to back are one to Go's runtime, which keeps one pending signal of a kind:
// the second is sent once the first has been acted on. Should the rollback finish
// first, the rerun is a new rotation, which finishes.)
func TestASecondInterruptExitsAtOnceAndARerunFinishes(t *testing.T) {
	t.Parallel()
	ns := clusterenv.Namespace(t)
	v1, v2 := twoVersions(t, ns, "app")
	createDeployment(t, ns, deployment("web", v1, 2))
	args := []string{"rollout", "app", "-n", ns, "--to", v2, "--yes", "--strategy", "bluegreen", "--steps", "50,100", "--pause", "30s", "--lease-duration", "5s"}
	hit := onJournal(t, ns, "app", func(r *v1alpha1.SecretRotation) bool { return r.Status.StepHealthy != nil })
	cmd := exec.Command(rotorBinary(t), append([]string{"--kubeconfig", clusterenv.Kubeconfig(t)}, args...)...)
	errOut := &lockedBuffer{}
	cmd.Stderr = errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	<-hit
	aborting := onJournal(t, ns, "app", func(r *v1alpha1.SecretRotation) bool { return r.Status.AbortRequested })
	_ = cmd.Process.Signal(syscall.SIGINT)
	errOut.Wait(t, "the first interrupt's notice", func(s string) bool { return strings.Contains(s, "interrupt again to stop at once") })
	<-aborting
	_ = cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 130 {
		t.Fatalf("exit %v, want 130:\n%s", err, errOut.String())
	}
	recs := journals(t, ns, "app")
	if len(recs) != 1 {
		t.Fatalf("journal after the interrupts: %+v", recs)
	}
	first := recs[0]
	if !first.Status.AbortRequested {
		t.Fatalf("the first interrupt's rollback is not in the journal: %+v", first.Status)
	}
	if !first.Status.Phase.Final() && !strings.Contains(errOut.String(), "interrupted twice") {
		t.Fatalf("the run stopped with its journal unfinished and did not say why:\n%s", errOut.String())
	}
	assertNothingDangles(t, ns)
	r := run(t, nil, "", withDefaultLease(args)...)
	recs = journals(t, ns, "app")
	last := recs[len(recs)-1]
	if first.Status.Phase.Final() {
		t.Log("the first interrupt's rollback finished before the second interrupt: the rerun is a new rotation")
		if r.Code != 0 || last.Status.Phase != v1alpha1.Succeeded {
			t.Fatalf("rerun: %+v\njournals: %+v\nfirst run:\n%s", r, recs, errOut.String())
		}
		if got := templateSecrets(t, ns, "web"); got[0] != v2 {
			t.Fatalf("web names %v, want %s", got, v2)
		}
	} else {
		t.Log("the first interrupt journaled its rollback before the run stopped: the rerun carries it out")
		if r.Code != 1 || last.Name != first.Name || last.Status.Phase != v1alpha1.Aborted {
			t.Fatalf("rerun: %+v\njournals: %+v\nfirst run:\n%s", r, recs, errOut.String())
		}
		if !strings.Contains(r.Stderr, "a rollback of it was asked for before its run stopped") {
			t.Fatalf("the rerun does not say why it rolls back:\n%s", r.Stderr)
		}
		if got := templateSecrets(t, ns, "web"); got[0] != v1 {
			t.Fatalf("web names %v, want %s", got, v1)
		}
	}
	assertNothingDangles(t, ns)
}
