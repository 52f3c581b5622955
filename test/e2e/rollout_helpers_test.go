package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/internal/family"
	"github.com/rotor-project/rotor/internal/journal"
	"github.com/rotor-project/rotor/test/clusterenv"
)

// twoVersions creates versions v1 (at t0) and v2 (a day later) of fam in ns, each with
// the given keys, and returns their names.
func twoVersions(t *testing.T, ns, fam string, keys ...string) (string, string) {
	t.Helper()
	if len(keys) == 0 {
		keys = []string{"token"}
	}
	clk := newClock(t0)
	var names []string
	for i := 0; i < 2; i++ {
		args := []string{"create", fam, "-n", ns}
		for _, k := range keys {
			args = append(args, "--from-literal", k+"=value")
		}
		r := run(t, clk, "", args...)
		if r.Code != 0 {
			t.Fatalf("create: %+v", r)
		}
		names = append(names, strings.TrimSpace(r.Stdout))
		clk.Step(24 * time.Hour)
	}
	return names[0], names[1]
}

// createDeployment creates d in ns and waits until it is available.
func createDeployment(t *testing.T, ns string, d *appsv1.Deployment) {
	t.Helper()
	c := clusterenv.Client(t)
	if _, err := c.AppsV1().Deployments(ns).Create(context.Background(), d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitAvailable(t, c, ns, d.Name)
}

func waitAvailable(t *testing.T, c kubernetes.Interface, ns, name string) {
	t.Helper()
	clusterenv.WaitFor(t, ns, "deployment "+name+" available", func(ctx context.Context) (bool, error) {
		d, err := c.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		return err == nil && d.Status.ObservedGeneration >= d.Generation && d.Status.AvailableReplicas == *d.Spec.Replicas &&
			d.Status.UpdatedReplicas == *d.Spec.Replicas && d.Status.Replicas == *d.Spec.Replicas, nil
	}, clusterenv.Deployments)
}

// watched are the resources eventually watches: every kind whose change in a test's
// namespace could make a condition true.
var watched = []schema.GroupVersionResource{
	clusterenv.Deployments, clusterenv.ReplicaSets, clusterenv.Pods, clusterenv.StatefulSets,
	clusterenv.DaemonSets, clusterenv.Leases, clusterenv.Secrets,
}

// eventually evaluates cond now and after every change in namespace ns, until it
// holds: a wait by watch, bounded only by the test's own deadline.
func eventually(t *testing.T, ns, what string, cond func() bool) {
	t.Helper()
	clusterenv.WaitFor(t, ns, what, func(context.Context) (bool, error) { return cond(), nil }, watched...)
}

// rotorTimeout is a --timeout for rotor that never ends a run before the test's own
// deadline would: a safety net, not an assertion about speed.
func rotorTimeout(t *testing.T) string {
	if d, ok := t.Deadline(); ok {
		return time.Until(d).Round(time.Second).String()
	}
	return "1h"
}

// templateSecrets are the version names a Deployment's pod template names.
func templateSecrets(t *testing.T, ns, name string) []string {
	t.Helper()
	d, err := clusterenv.Client(t).AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return secretsOfTemplate(d)
}

// secretsOfTemplate are the Secrets a Deployment's pod template names (env, envFrom,
// secret volumes).
func secretsOfTemplate(d *appsv1.Deployment) []string {
	var out []string
	for _, c := range d.Spec.Template.Spec.Containers {
		for _, ef := range c.EnvFrom {
			if ef.SecretRef != nil {
				out = append(out, ef.SecretRef.Name)
			}
		}
		for _, e := range c.Env {
			if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
				out = append(out, e.ValueFrom.SecretKeyRef.Name)
			}
		}
	}
	for _, v := range d.Spec.Template.Spec.Volumes {
		if v.Secret != nil {
			out = append(out, v.Secret.SecretName)
		}
	}
	return out
}

// podsByVersion counts the live pods of ns by the version of fam they name.
func podsByVersion(t *testing.T, ns, fam string) map[string]int {
	t.Helper()
	pods, err := clusterenv.Client(t).CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, p := range pods.Items {
		if p.DeletionTimestamp != nil {
			continue
		}
		for _, c := range p.Spec.Containers {
			for _, ef := range c.EnvFrom {
				if ef.SecretRef != nil {
					if _, ok := family.ParseIn(fam, ef.SecretRef.Name); ok {
						out[ef.SecretRef.Name]++
					}
				}
			}
		}
	}
	return out
}

// keyRefDeployment names one key of the Secret through env.valueFrom.secretKeyRef.
func keyRefDeployment(name, secret, key string) *appsv1.Deployment {
	d := deployment(name, secret, 1)
	d.Spec.Template.Spec.Containers[0].EnvFrom = nil
	d.Spec.Template.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "TOKEN", ValueFrom: &corev1.EnvVarSource{
		SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: secret}, Key: key}}}}
	return d
}

// journals are the rotations of fam in ns, oldest first.
func journals(t *testing.T, ns, fam string) []*v1alpha1.SecretRotation {
	t.Helper()
	rots, err := (&journal.Store{Client: clusterenv.Client(t)}).List(context.Background(), ns, fam)
	if err != nil {
		t.Fatal(err)
	}
	return rots
}

// withDefaultLease is args without --lease-duration and its value. A killed run holds a
// short Lease so that the next run takes it over soon (a takeover waits for the dead
// Lease's own duration); a run that must live holds the default one, which a slow
// renewal on a busy machine cannot lose (a 5 s Lease is given up when no renewal gets
// through within 3.3 s of the last, a 30 s one within 20 s).
func withDefaultLease(args []string) []string {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		if args[i] == "--lease-duration" {
			i++
			continue
		}
		out = append(out, args[i])
	}
	return out
}
