package e2e

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/internal/rollout"
	"github.com/rotor-project/rotor/test/clusterenv"
)

var rotorBuild struct {
	once sync.Once
	bin  string
	err  error
}

// rotorBinary builds cmd/rotor once per test binary, for tests that need a real process
// (signals, argv[0]).
func rotorBinary(t *testing.T) string {
	t.Helper()
	rotorBuild.once.Do(func() {
		dir, err := os.MkdirTemp("", "rotor-bin-")
		if err != nil {
			rotorBuild.err = err
			return
		}
		rotorBuild.bin, rotorBuild.err = clusterenv.BuildRotor(dir)
	})
	if rotorBuild.err != nil {
		t.Fatal(rotorBuild.err)
	}
	return rotorBuild.bin
}

// TestRolloutKilledMidwayConvergesWhenRunAgain kills a blue-green rollout with SIGKILL
// while green runs half the replicas, checks that nothing points at a missing Secret,
// then runs the same command again: it takes over the lock once the dead run stopped
// renewing it, resumes the dead run's rotation from its journal, reuses green, and
// converges; the one journal ends Succeeded.
func TestRolloutKilledMidwayConvergesWhenRunAgain(t *testing.T) {
	t.Parallel()
	ns := clusterenv.Namespace(t)
	c := clusterenv.Client(t)
	ctx := context.Background()
	v1, v2 := twoVersions(t, ns, "app")
	createDeployment(t, ns, deployment("web", v1, 4))
	bin := rotorBinary(t)
	args := []string{"--kubeconfig", clusterenv.Kubeconfig(t), "rollout", "app", "-n", ns, "--to", v2, "--yes",
		"--strategy", "bluegreen", "--steps", "50,100", "--lease-duration", "5s"}

	first := exec.Command(bin, append(args, "--pause", "1m")...)
	var firstErr bytes.Buffer
	first.Stderr = &firstErr
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	eventually(t, ns, "green at half size", func() bool {
		g, err := c.AppsV1().Deployments(ns).Get(ctx, rollout.GreenName("web"), metav1.GetOptions{})
		return err == nil && *g.Spec.Replicas == 2 && g.Status.AvailableReplicas == 2
	})
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()

	// Killed mid-step: blue and green both name versions that exist.
	for _, name := range []string{"web", rollout.GreenName("web")} {
		for _, s := range templateSecrets(t, ns, name) {
			if _, err := c.CoreV1().Secrets(ns).Get(ctx, s, metav1.GetOptions{}); err != nil {
				t.Fatalf("%s names %s, which does not exist: %v", name, s, err)
			}
		}
	}
	again := exec.Command(bin, append(withDefaultLease(args), "--pause", "200ms")...)
	var out, errOut bytes.Buffer
	again.Stdout, again.Stderr = &out, &errOut
	again.Env = os.Environ()
	if err := again.Run(); err != nil {
		t.Fatalf("rerun: %v\nstdout:\n%s\nstderr:\n%s\nfirst run's stderr:\n%s", err, out.String(), errOut.String(), firstErr.String())
	}
	if !strings.Contains(errOut.String(), "took over the lock") || !strings.Contains(errOut.String(), "reusing green copy") {
		t.Fatalf("the rerun did not say it took over:\n%s", errOut.String())
	}
	d, err := c.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *d.Spec.Replicas != 4 || templateSecrets(t, ns, "web")[0] != v2 {
		t.Fatalf("not converged: blue replicas %d, names %v", *d.Spec.Replicas, templateSecrets(t, ns, "web"))
	}
	if _, err := c.AppsV1().Deployments(ns).Get(ctx, rollout.GreenName("web"), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("green copy left behind: %v", err)
	}
	waitAvailable(t, c, ns, "web")
	if recs := journals(t, ns, "app"); len(recs) != 1 || recs[0].Status.Phase != v1alpha1.Succeeded {
		t.Fatalf("journals: %+v; want the one rotation, resumed and Succeeded", recs)
	}
	leases, _ := c.CoordinationV1().Leases(ns).List(ctx, metav1.ListOptions{})
	if len(leases.Items) != 0 {
		t.Fatalf("the lock was not released: %v", leases.Items)
	}
}

// TestRollingRolloutKilledAfterRepointingConverges kills a rolling rollout while it
// waits for health, and runs it again.
func TestRollingRolloutKilledAfterRepointingConverges(t *testing.T) {
	t.Parallel()
	ns := clusterenv.Namespace(t)
	c := clusterenv.Client(t)
	v1, v2 := twoVersions(t, ns, "app")
	d := deployment("web", v1, 3)
	d.Spec.MinReadySeconds = 3 // a slow rollout, so the kill lands mid-way
	createDeployment(t, ns, d)
	bin := rotorBinary(t)
	args := []string{"--kubeconfig", clusterenv.Kubeconfig(t), "rollout", "app", "-n", ns, "--to", v2, "--yes", "--lease-duration", "5s"}
	first := exec.Command(bin, args...)
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	eventually(t, ns, "re-pointed", func() bool {
		s := templateSecrets(t, ns, "web")
		return len(s) == 1 && s[0] == v2
	})
	_ = first.Process.Signal(syscall.SIGKILL)
	_ = first.Wait()
	again := exec.Command(bin, withDefaultLease(args)...)
	out, err := again.CombinedOutput()
	if err != nil {
		t.Fatalf("rerun: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "already on "+v2) {
		t.Fatalf("rerun did not see the consumer already re-pointed:\n%s", out)
	}
	waitAvailable(t, c, ns, "web")
	d2, _ := c.AppsV1().Deployments(ns).Get(context.Background(), "web", metav1.GetOptions{})
	if d2.Annotations["previous-version.rotor.dev/app"] != v1 {
		t.Fatalf("the rerun lost where the consumer came from: %v", d2.Annotations)
	}
}

// TestCtrlCDuringABlueGreenStepAbortsCleanly interrupts a blue-green rollout (SIGINT,
// what Ctrl-C sends) while it pauses at a step: blue is back at full size on its old
// version, green is gone, the lock is released, and the exit status is 130.
func TestCtrlCDuringABlueGreenStepAbortsCleanly(t *testing.T) {
	t.Parallel()
	ns := clusterenv.Namespace(t)
	c := clusterenv.Client(t)
	ctx := context.Background()
	v1, v2 := twoVersions(t, ns, "app")
	createDeployment(t, ns, deployment("web", v1, 4))
	cmd := exec.Command(rotorBinary(t), "--kubeconfig", clusterenv.Kubeconfig(t), "rollout", "app", "-n", ns, "--to", v2, "--yes",
		"--strategy", "bluegreen", "--steps", "50,100", "--pause", "1m")
	errOut := &lockedBuffer{} // written by the process while the test reads it
	cmd.Stderr = errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	errOut.Wait(t, "the pause at 50 %", func(s string) bool { return strings.Contains(s, "pausing") })
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 130 || !strings.Contains(errOut.String(), "error: interrupted") {
		t.Fatalf("exit %v, want 130 with a message:\n%s", err, errOut.String())
	}
	d, _ := c.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
	if *d.Spec.Replicas != 4 || templateSecrets(t, ns, "web")[0] != v1 {
		t.Fatalf("blue not restored: replicas %d, names %v", *d.Spec.Replicas, templateSecrets(t, ns, "web"))
	}
	if _, err := c.AppsV1().Deployments(ns).Get(ctx, rollout.GreenName("web"), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("green left behind: %v", err)
	}
	if l, _ := c.CoordinationV1().Leases(ns).List(ctx, metav1.ListOptions{}); len(l.Items) != 0 {
		t.Fatal("the lock was not released")
	}
	if recs := journals(t, ns, "app"); len(recs) != 1 || recs[0].Status.Phase != v1alpha1.Aborted {
		t.Fatalf("journals: %+v; want one Aborted rotation", recs)
	}
}
