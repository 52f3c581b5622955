package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	"github.com/rotor-project/rotor/internal/cli"
	"github.com/rotor-project/rotor/internal/family"
	"github.com/rotor-project/rotor/internal/record"
	"github.com/rotor-project/rotor/test/clusterenv"
	"github.com/rotor-project/rotor/test/waitfor"
)

const day = 24 * time.Hour

// cleanupWorld is a family of versions named over the last 100 days; the cleanup
// clock is 60 days after the Secrets were really stored, so every version is past a
// 14-day retention unless a rotation record or a CronJob says otherwise.
type cleanupWorld struct {
	ns    string
	base  time.Time
	clock *steppingClock
}

func newCleanupWorld(t *testing.T) *cleanupWorld {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Second)
	return &cleanupWorld{ns: clusterenv.Namespace(t), base: now.Add(-100 * day), clock: newClock(now.Add(60 * day))}
}

// v is the name of version i (day i after base).
func (w *cleanupWorld) v(i int) string {
	return family.NewVersion("app", w.base.Add(time.Duration(i)*day)).Name()
}

// secret stores a version as rotor makes it (its labels make it trusted; cleanup
// never deletes a Secret without them).
func (w *cleanupWorld) secret(t *testing.T, name string, owners ...metav1.OwnerReference) *corev1.Secret {
	t.Helper()
	var labels map[string]string
	if v, ok := family.Parse(name); ok {
		labels = family.Labels(v)
	}
	return w.store(t, name, labels, owners...)
}

// lookAlike stores a Secret that fits the name pattern but that rotor did not make.
func (w *cleanupWorld) lookAlike(t *testing.T, name string) *corev1.Secret {
	t.Helper()
	return w.store(t, name, nil)
}

func (w *cleanupWorld) store(t *testing.T, name string, labels map[string]string, owners ...metav1.OwnerReference) *corev1.Secret {
	t.Helper()
	s, err := clusterenv.Client(t).CoreV1().Secrets(w.ns).Create(context.Background(), &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels, OwnerReferences: owners},
		Data:       map[string][]byte{"token": []byte("canary-value-" + name)},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// versions stores versions 1..n.
func (w *cleanupWorld) versions(t *testing.T, n int) {
	t.Helper()
	for i := 1; i <= n; i++ {
		w.secret(t, w.v(i))
	}
}

// cronRecord records a finished rotation that moved CronJob cj from one version to
// another daysAgo days before the cleanup clock.
func (w *cleanupWorld) cronRecord(t *testing.T, cj, from, to string, daysAgo int) {
	t.Helper()
	finished := w.clock.Now().Add(-time.Duration(daysAgo) * day)
	r := &record.Record{Family: "app", Namespace: w.ns, Action: record.Rollout, To: to, Phase: record.Succeeded,
		Started: finished.Add(-time.Minute), Finished: &finished,
		Consumers: []record.Consumer{{Kind: "CronJob", Name: cj, From: from, To: to}}}
	if err := (&record.Store{Client: clusterenv.Client(t)}).Create(context.Background(), r); err != nil {
		t.Fatal(err)
	}
}

func (w *cleanupWorld) cronJob(t *testing.T, name, schedule, secret string) {
	t.Helper()
	tmpl := deployment(name, secret, 1).Spec.Template
	tmpl.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
	if _, err := clusterenv.Client(t).BatchV1().CronJobs(w.ns).Create(context.Background(), &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: batchv1.CronJobSpec{Schedule: schedule, JobTemplate: batchv1.JobTemplateSpec{
			Spec: batchv1.JobSpec{Template: tmpl}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// rollDeployment creates a Deployment on from, waits for its ReplicaSet, then moves it
// to to and waits until the controller-manager scaled the old ReplicaSet to zero: the
// old one is then only a rollback target.
func (w *cleanupWorld) rollDeployment(t *testing.T, name, from, to string) {
	t.Helper()
	c := clusterenv.Client(t)
	ctx := context.Background()
	d, err := c.AppsV1().Deployments(w.ns).Create(ctx, deployment(name, from, 1), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitRollout(t, w.ns, name, d.Generation)
	// The Deployment controller writes its status meanwhile: re-fetch on a conflict.
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := c.AppsV1().Deployments(w.ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		cur.Spec.Template.Spec.Containers[0].EnvFrom[0].SecretRef.Name = to
		d, err = c.AppsV1().Deployments(w.ns).Update(ctx, cur, metav1.UpdateOptions{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	waitRollout(t, w.ns, name, d.Generation)
}

func waitRollout(t *testing.T, ns, name string, generation int64) {
	t.Helper()
	c := clusterenv.Client(t)
	clusterenv.WaitFor(t, ns, "deployment "+name+" rolled out", func(ctx context.Context) (bool, error) {
		d, err := c.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		if d.Status.ObservedGeneration < generation || d.Status.UpdatedReplicas != *d.Spec.Replicas || d.Status.Replicas != *d.Spec.Replicas {
			return false, nil
		}
		rss, err := c.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for _, rs := range rss.Items {
			if metav1.IsControlledBy(&rs, d) && rs.Annotations["deployment.kubernetes.io/revision"] != d.Annotations["deployment.kubernetes.io/revision"] && (*rs.Spec.Replicas != 0 || rs.Status.Replicas != 0) {
				return false, nil
			}
		}
		return true, nil
	}, clusterenv.Deployments, clusterenv.ReplicaSets)
}

// cleanupRun invokes rotor cleanup with a terminal or not, and a custom stdin.
func cleanupRun(t *testing.T, w *cleanupWorld, tty bool, stdin io.Reader, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	full := append([]string{"rotor", "--kubeconfig", clusterenv.Kubeconfig(t), "cleanup", "app", "-n", w.ns}, args...)
	deps := cli.Deps{Clock: w.clock, IsTerminal: func(any) bool { return tty }}
	ctx := waitfor.Context(t)
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	code := cli.Run(ctx, full, cli.IOStreams{In: stdin, Out: &out, ErrOut: &errOut}, deps)
	return result{Code: code, Stdout: out.String(), Stderr: errOut.String()}
}

// cleanupJSON runs cleanup with -o json and returns the report and the outcome per
// version name.
func cleanupJSON(t *testing.T, w *cleanupWorld, args ...string) (cli.CleanupReport, map[string]cli.CleanupReportItem, result) {
	t.Helper()
	r := cleanupRun(t, w, false, nil, append(args, "-o", "json")...)
	var rep cli.CleanupReport
	if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil {
		t.Fatalf("cleanup -o json is not JSON (%v): %+v", err, r)
	}
	by := map[string]cli.CleanupReportItem{}
	for _, it := range rep.Items {
		by[it.Name] = it
	}
	return rep, by, r
}

// secretNames lists the Secret names of the namespace.
func secretNames(t *testing.T, ns string) map[string]bool {
	t.Helper()
	l, err := clusterenv.Client(t).CoreV1().Secrets(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, s := range l.Items {
		out[s.Name] = true
	}
	return out
}

// versions2 stores versions from..to.
func (w *cleanupWorld) versions2(t *testing.T, from, to int) {
	t.Helper()
	for i := from; i <= to; i++ {
		w.secret(t, w.v(i))
	}
}
