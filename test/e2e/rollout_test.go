package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/internal/family"
	"github.com/rotor-project/rotor/internal/repoint"
	"github.com/rotor-project/rotor/test/clusterenv"
	"github.com/rotor-project/rotor/test/waitfor"
)

func TestRolloutRollingMovesEveryConsumerKind(t *testing.T) {
	t.Parallel()
	ns := clusterenv.Namespace(t)
	c := clusterenv.Client(t)
	ctx := context.Background()
	v1, v2 := twoVersions(t, ns, "app", "token", "tls.crt", "tls.key")
	other, _ := twoVersions(t, ns, "other")

	createDeployment(t, ns, deployment("web", v1, 2))
	createDeployment(t, ns, deployment("unrelated", other, 1))
	labels := map[string]string{"app": "db"}
	sts := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "db"},
		Spec: appsv1.StatefulSetSpec{Replicas: ptr.To(int32(2)), Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{
				Containers: []corev1.Container{{Name: "db", Image: "db:1", VolumeMounts: []corev1.VolumeMount{{Name: "creds", MountPath: "/creds"}}}},
				Volumes:    []corev1.Volume{{Name: "creds", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: v1}}}},
			}}},
	}
	dsLabels := map[string]string{"app": "agent"}
	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "agent"},
		Spec: appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: dsLabels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: dsLabels}, Spec: corev1.PodSpec{
				Containers:       []corev1.Container{{Name: "agent", Image: "agent:1"}},
				ImagePullSecrets: []corev1.LocalObjectReference{{Name: v1}},
			}}},
	}
	cj := &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: "report"},
		Spec: batchv1.CronJobSpec{Schedule: "0 3 1 * *", JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyOnFailure,
			Containers: []corev1.Container{{Name: "report", Image: "report:1", Env: []corev1.EnvVar{{Name: "TOKEN", ValueFrom: &corev1.EnvVarSource{
				SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: v1}, Key: "token"}}}}}},
		}}}}},
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "puller"}, ImagePullSecrets: []corev1.LocalObjectReference{{Name: v1}}}
	ing := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Name: "front"}, Spec: networkingv1.IngressSpec{
		TLS:            []networkingv1.IngressTLS{{Hosts: []string{"example.test"}, SecretName: v1}},
		DefaultBackend: &networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "web", Port: networkingv1.ServiceBackendPort{Number: 80}}},
	}}
	mustDo(t, func() error {
		_, err := c.AppsV1().StatefulSets(ns).Create(ctx, sts, metav1.CreateOptions{})
		return err
	})
	mustDo(t, func() error { _, err := c.AppsV1().DaemonSets(ns).Create(ctx, ds, metav1.CreateOptions{}); return err })
	mustDo(t, func() error { _, err := c.BatchV1().CronJobs(ns).Create(ctx, cj, metav1.CreateOptions{}); return err })
	mustDo(t, func() error {
		_, err := c.CoreV1().ServiceAccounts(ns).Create(ctx, sa, metav1.CreateOptions{})
		return err
	})
	mustDo(t, func() error {
		_, err := c.NetworkingV1().Ingresses(ns).Create(ctx, ing, metav1.CreateOptions{})
		return err
	})
	eventually(t, ns, "statefulset and daemonset ready", func() bool {
		s, err1 := c.AppsV1().StatefulSets(ns).Get(ctx, "db", metav1.GetOptions{})
		d, err2 := c.AppsV1().DaemonSets(ns).Get(ctx, "agent", metav1.GetOptions{})
		return err1 == nil && err2 == nil && s.Status.ReadyReplicas == 2 && d.Status.NumberAvailable == 1
	})
	unrelatedBefore := snapshotDeployment(t, ns, "unrelated")

	r := run(t, nil, "", "rollout", "app", "-n", ns, "--to", "latest", "--yes")
	if r.Code != 0 {
		t.Fatalf("rollout failed: %+v", r)
	}
	for _, want := range []string{"Deployment/web", "StatefulSet/db", "DaemonSet/agent", "CronJob/report", "ServiceAccount/puller", "Ingress/front", "takes effect at its next run", "rollout succeeded"} {
		if !strings.Contains(r.Stdout, want) {
			t.Fatalf("output lacks %q:\n%s", want, r.Stdout)
		}
	}
	if got := templateSecrets(t, ns, "web"); len(got) != 1 || got[0] != v2 {
		t.Fatalf("web names %v, want %s", got, v2)
	}
	gotSts, _ := c.AppsV1().StatefulSets(ns).Get(ctx, "db", metav1.GetOptions{})
	gotDs, _ := c.AppsV1().DaemonSets(ns).Get(ctx, "agent", metav1.GetOptions{})
	gotCj, _ := c.BatchV1().CronJobs(ns).Get(ctx, "report", metav1.GetOptions{})
	gotSa, _ := c.CoreV1().ServiceAccounts(ns).Get(ctx, "puller", metav1.GetOptions{})
	gotIng, _ := c.NetworkingV1().Ingresses(ns).Get(ctx, "front", metav1.GetOptions{})
	for what, name := range map[string]string{
		"statefulset volume":        gotSts.Spec.Template.Spec.Volumes[0].Secret.SecretName,
		"daemonset imagePullSecret": gotDs.Spec.Template.Spec.ImagePullSecrets[0].Name,
		"cronjob secretKeyRef":      gotCj.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Env[0].ValueFrom.SecretKeyRef.Name,
		"serviceaccount pull":       gotSa.ImagePullSecrets[0].Name,
		"ingress tls":               gotIng.Spec.TLS[0].SecretName,
	} {
		if name != v2 {
			t.Errorf("%s names %s, want %s", what, name, v2)
		}
	}
	if gotSts.Status.ReadyReplicas != 2 || gotSts.Status.UpdateRevision != gotSts.Status.CurrentRevision {
		t.Errorf("statefulset not rolled out: %+v", gotSts.Status)
	}
	if got := gotSts.Annotations[repoint.AnnotationKey("app")]; got != v1 {
		t.Errorf("statefulset records it came from %q, want %s", got, v1)
	}
	if after := snapshotDeployment(t, ns, "unrelated"); after != unrelatedBefore {
		t.Error("a consumer of another family was changed")
	}
	if recs := journals(t, ns, "app"); len(recs) != 1 || recs[0].Status.Phase != v1alpha1.Succeeded || recs[0].Status.TargetVersion != v2 || len(recs[0].Status.Consumers) != 6 {
		t.Fatalf("journals = %+v; want one Succeeded rotation of 6 consumers to %s", recs, v2)
	}
}

func TestRolloutOfACrashingVersionRollsBackAutomatically(t *testing.T) {
	t.Parallel()
	ns := clusterenv.Namespace(t)
	c := clusterenv.Client(t)
	v1, v2 := twoVersions(t, ns, "app")
	crashPodsUsing(t, ns, v2+"$")
	createDeployment(t, ns, deployment("web", v1, 3))

	r := run(t, nil, "", "rollout", "app", "-n", ns, "--to", v2, "--yes", "--timeout", rotorTimeout(t))
	if r.Code == 0 {
		t.Fatalf("a crashing version rolled out: %+v", r)
	}
	for _, want := range []string{"rollout FAILED", "Deployment/web", "CrashLoopBackOff", "rolled back: Deployment/web → " + v1} {
		if !strings.Contains(r.Stdout, want) {
			t.Fatalf("report lacks %q:\n%s\nstderr:\n%s", want, r.Stdout, r.Stderr)
		}
	}
	if got := templateSecrets(t, ns, "web"); got[0] != v1 {
		t.Fatalf("web names %v after the automatic rollback, want %s", got, v1)
	}
	d, _ := c.AppsV1().Deployments(ns).Get(context.Background(), "web", metav1.GetOptions{})
	if _, ok := d.Annotations[repoint.AnnotationKey("app")]; ok {
		t.Fatalf("the rollback left a came-from annotation: %v", d.Annotations)
	}
	waitAvailable(t, c, ns, "web")
	eventually(t, ns, "only v1 pods", func() bool {
		p := podsByVersion(t, ns, "app")
		return p[v1] == 3 && p[v2] == 0
	})
	if recs := journals(t, ns, "app"); len(recs) != 1 || recs[0].Status.Phase != v1alpha1.RolledBack || !strings.Contains(recs[0].Status.Message, "CrashLoopBackOff") {
		t.Fatalf("journals = %+v, want RolledBack naming the crash", recs)
	}
}

func TestRolloutRefusalsChangeNothing(t *testing.T) {
	t.Parallel()
	ns := clusterenv.Namespace(t)
	elsewhere := clusterenv.Namespace(t)
	c := clusterenv.Client(t)
	v1, v2 := twoVersions(t, ns, "app")
	createDeployment(t, ns, keyRefDeployment("web", v1, "token"))
	// A version without the key "token", and one that exists only in another namespace.
	noKey := "app-20250801000000"
	mustDo(t, func() error {
		v, _ := family.Parse(noKey)
		_, err := c.CoreV1().Secrets(ns).Create(context.Background(), &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: noKey, Labels: family.Labels(v)}, Data: map[string][]byte{"password": []byte("x")}}, metav1.CreateOptions{})
		return err
	})
	mustDo(t, func() error {
		v, _ := family.Parse("app-20250901000000")
		_, err := c.CoreV1().Secrets(elsewhere).Create(context.Background(), &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: v.Name(), Labels: family.Labels(v)}, Data: map[string][]byte{"token": []byte("x")}}, metav1.CreateOptions{})
		return err
	})
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"a version that does not exist is refused", []string{"--to", "app-20260101000000"}, "does not exist"},
		{"a Secret that is not a version of the family is refused", []string{"--to", "other-20250724110000"}, "is not a version of"},
		{"a version in another namespace than the consumer is refused", []string{"--to", "app-20250901000000"}, "own namespace"},
		{"a version lacking a key a consumer requires lists consumer and key", []string{"--to", noKey}, `Deployment/web needs key "token"`},
		{"no consumers in scope is refused", []string{"--to", v2, "-l", "app=nothing"}, "no consumers"},
		{"an unknown strategy is refused", []string{"--to", v2, "--strategy", "yolo"}, "unknown --strategy"},
		{"bad blue-green steps are refused", []string{"--to", v2, "--strategy", "bluegreen", "--steps", "50,10"}, "greater than the one before"},
		{"--to is required", []string{}, "--to is required"},
		{"a lease shorter than 5 seconds is refused with the flag named", []string{"--to", v2, "--lease-duration", "500ms"}, "--lease-duration 500ms: must be between 5s and 10m0s"},
		{"a lease of a million hours is refused with the flag named", []string{"--to", v2, "--lease-duration", "1000000h"}, "--lease-duration 1000000h0m0s: must be between"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := snapshot(t, ns)
			r := run(t, nil, "", append([]string{"rollout", "app", "-n", ns, "--yes"}, tt.args...)...)
			if r.Code == 0 || !strings.Contains(r.Stderr, tt.wantErr) {
				t.Fatalf("code %d, stderr %q; want a refusal containing %q", r.Code, r.Stderr, tt.wantErr)
			}
			assertUnchanged(t, ns, before)
		})
	}
	// --dry-run prints the plan and changes nothing either.
	before := snapshot(t, ns)
	r := run(t, nil, "", "rollout", "app", "-n", ns, "--to", v2, "--dry-run")
	if r.Code != 0 || !strings.Contains(r.Stdout, v1) || !strings.Contains(r.Stdout, v2) || !strings.Contains(r.Stderr, "nothing was changed") {
		t.Fatalf("dry run: %+v", r)
	}
	assertUnchanged(t, ns, before)
	// --dry-run=server sends every patch with dryRun=All: accepted, nothing stored.
	server := run(t, nil, "", "rollout", "app", "-n", ns, "--to", v2, "--dry-run=server")
	if server.Code != 0 || !strings.Contains(server.Stderr, "the API server accepted all 1 patch(es)") {
		t.Fatalf("server dry run: %+v", server)
	}
	assertUnchanged(t, ns, before)
}

func TestRolloutKeepsAConcurrentWritersChange(t *testing.T) {
	t.Parallel()
	ns := clusterenv.Namespace(t)
	c := clusterenv.Client(t)
	ctx := context.Background()
	v1, v2 := twoVersions(t, ns, "app")
	createDeployment(t, ns, deployment("web", v1, 2))

	// Another writer changes the image and the replica count, over and over for a
	// moment, while rotor re-points the same Deployment.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var lastImage string
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 60; i++ {
			select {
			case <-stop:
				return
			default:
			}
			img := fmt.Sprintf("registry.example/app:%d", i)
			patch := fmt.Sprintf(`{"spec":{"replicas":3,"template":{"spec":{"containers":[{"name":"app","image":%q}]}}}}`, img)
			d, err := c.AppsV1().Deployments(ns).Patch(ctx, "web", types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{FieldManager: "other-writer"})
			if err != nil {
				continue
			}
			lastImage = img
			// Paced by the cluster, not a clock: the next change once the Deployment
			// controller has seen this one.
			_ = clusterenv.Until(waitfor.Context(t), clusterenv.RESTConfig(t), ns, func(ctx context.Context) (bool, error) {
				select {
				case <-stop:
					return true, nil
				default:
				}
				got, err := c.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
				return err == nil && got.Status.ObservedGeneration >= d.Generation, nil
			}, clusterenv.Deployments)
		}
	}()
	r := run(t, nil, "", "rollout", "app", "-n", ns, "--to", v2, "--yes", "--timeout", rotorTimeout(t))
	close(stop)
	wg.Wait()
	if r.Code != 0 {
		t.Fatalf("rollout: %+v", r)
	}
	d, err := c.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if img := d.Spec.Template.Spec.Containers[0].Image; img != lastImage || *d.Spec.Replicas != 3 {
		t.Fatalf("the other writer's change was lost: image %s (want %s), replicas %d (want 3)", img, lastImage, *d.Spec.Replicas)
	}
	if got := templateSecrets(t, ns, "web"); got[0] != v2 {
		t.Fatalf("web names %v, want %s", got, v2)
	}
}

func TestSecondRolloutOfTheSameFamilyIsRefusedWhileTheFirstRuns(t *testing.T) {
	t.Parallel()
	ns := clusterenv.Namespace(t)
	v1, v2 := twoVersions(t, ns, "app")
	createDeployment(t, ns, deployment("web", v1, 2))

	// The second run is refused once it has seen the Lease renewed (a few seconds): the
	// first pauses long enough after its first step for that on a busy machine.
	paused := onJournal(t, ns, "app", func(r *v1alpha1.SecretRotation) bool { return r.Status.StepHealthy != nil })
	first := make(chan result, 1)
	go func() {
		first <- run(t, nil, "", "rollout", "app", "-n", ns, "--to", v2, "--yes", "--strategy", "bluegreen", "--steps", "50,100", "--pause", "15s")
	}()
	select {
	case <-paused:
	case r := <-first:
		t.Fatalf("the first rollout ended before its first pause: %+v", r)
	}
	second := run(t, nil, "", "rollout", "app", "-n", ns, "--to", v2, "--yes")
	if second.Code == 0 || !strings.Contains(second.Stderr, "another rotation of \"app\"") || !strings.Contains(second.Stderr, "held by localcluster-admin") {
		t.Fatalf("second rollout: %+v", second)
	}
	if r := <-first; r.Code != 0 {
		t.Fatalf("first rollout: %+v", r)
	}
	// The lock is released at the end: a third run goes ahead (nothing to re-point).
	if third := run(t, nil, "", "rollout", "app", "-n", ns, "--to", v2, "--yes"); third.Code != 0 || !strings.Contains(third.Stdout, "nothing to re-point") {
		t.Fatalf("third rollout: %+v", third)
	}
}

func TestRollbackReturnsToThePreviousVersionAndIsRefusedWhenItWasDeleted(t *testing.T) {
	t.Parallel()
	ns := clusterenv.Namespace(t)
	c := clusterenv.Client(t)
	v1, v2 := twoVersions(t, ns, "app")
	createDeployment(t, ns, deployment("web", v1, 2))
	if r := run(t, nil, "", "rollout", "app", "-n", ns, "--to", v2, "--yes"); r.Code != 0 {
		t.Fatalf("rollout: %+v", r)
	}
	r := run(t, nil, "", "rollback", "app", "-n", ns, "--yes")
	if r.Code != 0 || !strings.Contains(r.Stdout, "all references re-pointed in") || !strings.Contains(r.Stdout, "all consumers healthy after") {
		t.Fatalf("rollback: %+v", r)
	}
	if got := templateSecrets(t, ns, "web"); got[0] != v1 {
		t.Fatalf("after rollback web names %v, want %s", got, v1)
	}
	// A second rollback does nothing: the journal says the rollout was reversed.
	before := snapshot(t, ns)
	if r := run(t, nil, "", "rollback", "app", "-n", ns, "--yes"); r.Code != 0 || !strings.Contains(r.Stdout, "nothing to do") || !strings.Contains(r.Stdout, "already rolled back") {
		t.Fatalf("second rollback: %+v", r)
	}
	assertUnchanged(t, ns, before)
	// Forward again, then delete v1: a rollback to it must be refused, changing nothing.
	if r := run(t, nil, "", "rollout", "app", "-n", ns, "--to", v2, "--yes"); r.Code != 0 {
		t.Fatalf("rollout again: %+v", r)
	}
	mustDo(t, func() error { return c.CoreV1().Secrets(ns).Delete(context.Background(), v1, metav1.DeleteOptions{}) })
	before = snapshot(t, ns)
	r = run(t, nil, "", "rollback", "app", "-n", ns, "--yes")
	if r.Code == 0 || !strings.Contains(r.Stderr, "cannot roll back to "+v1+": it no longer exists") {
		t.Fatalf("rollback to a deleted version: %+v", r)
	}
	assertUnchanged(t, ns, before)
}

func mustDo(t *testing.T, f func() error) {
	t.Helper()
	if err := f(); err != nil {
		t.Fatal(err)
	}
}

func snapshotDeployment(t *testing.T, ns, name string) string {
	t.Helper()
	d, err := clusterenv.Client(t).AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(d.Spec)
	return fmt.Sprint(d.Generation) + string(b)
}
