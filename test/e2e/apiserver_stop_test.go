package e2e

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/internal/journal"
	"github.com/rotor-project/rotor/test/clusterenv"
)

// TestAStoppedAPIServerMidRolloutEndsTheRunAndARerunResumes stops the kube-apiserver of
// a private cluster while a blue-green rollout pauses: the run cannot renew its lock
// and stops writing (its journal says where); with the API server back, the same
// command resumes the rotation to the end. Only one run ever writes the journal.
func TestAStoppedAPIServerMidRolloutEndsTheRunAndARerunResumes(t *testing.T) {
	t.Parallel()
	c := clusterenv.Private(t, clusterenv.Options{})
	kube := c.Kubeconfig(t)
	client := c.Client(t)
	ns := c.Namespace(t)
	ctx := context.Background()
	var versions []string
	clk := newClock(t0)
	for i := 0; i < 2; i++ {
		r := run(t, clk, "", "--kubeconfig", kube, "create", "app", "-n", ns, "--from-literal", "token=value")
		if r.Code != 0 {
			t.Fatalf("create: %+v", r)
		}
		versions = append(versions, strings.TrimSpace(r.Stdout))
		clk.Step(24 * time.Hour)
	}
	if _, err := client.AppsV1().Deployments(ns).Create(ctx, deployment("web", versions[0], 2), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	args := []string{"--kubeconfig", kube, "rollout", "app", "-n", ns, "--to", versions[1], "--yes",
		"--strategy", "bluegreen", "--steps", "50,100", "--pause", "5s", "--lease-duration", "5s"}
	store := &journal.Store{Client: client}
	cmd := exec.Command(rotorBinary(t), args...)
	errOut := &lockedBuffer{}
	cmd.Stderr, cmd.Stdout = errOut, errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c.WaitFor(t, ns, "the first step's pause", func(ctx context.Context) (bool, error) {
		rots, err := store.List(ctx, ns, "app")
		return err == nil && len(rots) == 1 && rots[0].Status.StepHealthy != nil, nil
	}, schema.GroupVersionResource{Version: "v1", Resource: "configmaps"})
	c.StopAPIServer(t)
	err := cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() == 0 || !strings.Contains(errOut.String(), "lost the lock") {
		t.Fatalf("exit %v, want the run to stop on its lost lock:\n%s", err, errOut.String())
	}
	c.StartAPIServer(t)
	rots, err := store.List(ctx, ns, "app")
	if err != nil || len(rots) != 1 || rots[0].Status.Phase.Final() {
		t.Fatalf("journal after the outage: %+v (%v)", rots, err)
	}
	r := run(t, nil, "", withDefaultLease(args)...)
	if r.Code != 0 || !strings.Contains(r.Stderr, "resuming rotation") {
		t.Fatalf("rerun: %+v\nfirst run:\n%s", r, errOut.String())
	}
	rots, _ = store.List(ctx, ns, "app")
	if len(rots) != 1 || rots[0].Status.Phase != v1alpha1.Succeeded {
		t.Fatalf("journals: %+v", rots)
	}
}
