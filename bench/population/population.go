// Package population creates the benchmark population of rotor's issues on a cluster:
// N namespaces, each with Deployments (and, through the controllers, their ReplicaSets
// and Pods), StatefulSets and CronJobs naming the versions of one Secret family in
// mixed reference styles, plus look-alike text (annotations, env values) that a grep
// would match. Each Deployment is updated once from the previous version to the
// current one, so its first ReplicaSet stays in revision history, and each CronJob has
// run one Job. It is the fixture for `make bench-refs` and later benchmarks.
package population

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
)

// Label marks every namespace of the population ("complete" once fully created) and
// every object in it.
const Label = "rotor.dev/bench-population"

// Spec is the size and naming of a population.
type Spec struct {
	Namespaces          int
	Prefix              string // namespace names: Prefix + 4-digit index
	Family              string
	Deployments         int
	Replicas            int32
	StatefulSets        int
	StatefulSetReplicas int32
	CronJobs            int
	// Workers creates this many namespaces at once.
	Workers int
}

// Issue3 is the population of issue #3 at the given number of namespaces (the issue's
// full size is 1,000): per namespace 10 Deployments of 3 replicas, 2 StatefulSets of 2,
// 2 CronJobs.
func Issue3(namespaces int) Spec {
	return Spec{Namespaces: namespaces, Prefix: "bench-", Family: "bench-api-secrets", Deployments: 10, Replicas: 3,
		StatefulSets: 2, StatefulSetReplicas: 2, CronJobs: 2, Workers: 8}
}

// Previous and Current are the two versions of the family every namespace holds.
func (s Spec) Previous() string { return s.Family + "-20250715100000" }

// Current is the version the workloads are updated to.
func (s Spec) Current() string { return s.Family + "-20250723110000" }

// Namespace is the name of the i-th namespace.
func (s Spec) Namespace(i int) string { return fmt.Sprintf("%s%04d", s.Prefix, i) }

// ExpectedPods is how many pods the population runs once settled (Job pods excluded).
func (s Spec) ExpectedPods() int {
	return s.Namespaces * (s.Deployments*int(s.Replicas) + s.StatefulSets*int(s.StatefulSetReplicas))
}

// Create makes the population; namespaces that already exist are left as they are, so
// an interrupted run can be resumed. Progress goes to progress.
func Create(ctx context.Context, c kubernetes.Interface, s Spec, progress io.Writer) error {
	workers := max(s.Workers, 1)
	var (
		next    atomic.Int64
		done    atomic.Int64
		wg      sync.WaitGroup
		errOnce sync.Once
		first   error
	)
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= s.Namespaces || ctx.Err() != nil {
					return
				}
				if err := createNamespace(ctx, c, s, s.Namespace(i)); err != nil {
					errOnce.Do(func() { first = fmt.Errorf("namespace %s: %w", s.Namespace(i), err) })
					return
				}
				if n := done.Add(1); n%10 == 0 || int(n) == s.Namespaces {
					fmt.Fprintf(progress, "population: %d/%d namespaces created\n", n, s.Namespaces)
				}
			}
		})
	}
	wg.Wait()
	return first
}

// WaitSettled waits until the population is quiet: its pods all Ready, every
// Deployment and StatefulSet rolled out with its status written for its last
// generation, and its Jobs complete, so that no controller writes while a benchmark
// measures. It re-checks after changes (watched), at most once a second: each check
// lists the whole population.
func WaitSettled(ctx context.Context, c kubernetes.Interface, s Spec, progress io.Writer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	changed := make(chan struct{}, 1)
	notify := func() {
		select {
		case changed <- struct{}{}:
		default:
		}
	}
	opts := metav1.ListOptions{LabelSelector: Label}
	for _, w := range []func(context.Context, metav1.ListOptions) (watch.Interface, error){
		c.CoreV1().Pods("").Watch, c.AppsV1().Deployments("").Watch, c.AppsV1().StatefulSets("").Watch, c.BatchV1().Jobs("").Watch,
	} {
		go watchChanges(ctx, w, opts, notify)
	}
	last := ""
	for {
		checked := time.Now()
		quiet, summary, err := settled(ctx, c, s)
		if err != nil {
			return err
		}
		if summary != last {
			fmt.Fprintf(progress, "population: %s\n", summary)
			last = summary
		}
		if quiet {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
		}
		select { // at most one check a second
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Until(checked.Add(time.Second))):
		}
	}
}

// watchChanges calls notify at every event of a watch, opening it again when it ends.
func watchChanges(ctx context.Context, watchFn func(context.Context, metav1.ListOptions) (watch.Interface, error), opts metav1.ListOptions, notify func()) {
	for ctx.Err() == nil {
		w, err := watchFn(ctx, opts)
		if err != nil {
			notify()
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
			continue
		}
		for range w.ResultChan() {
			notify()
		}
		w.Stop()
	}
}

// settled checks the population once.
func settled(ctx context.Context, c kubernetes.Interface, s Spec) (bool, string, error) {
	want := s.ExpectedPods()
	ready, err := readyPods(ctx, c)
	if err != nil {
		return false, "", err
	}
	opts := metav1.ListOptions{LabelSelector: Label}
	deps, err := c.AppsV1().Deployments("").List(ctx, opts)
	if err != nil {
		return false, "", err
	}
	busy := 0
	for _, d := range deps.Items {
		r := ptr.Deref(d.Spec.Replicas, 1)
		if d.Status.ObservedGeneration < d.Generation || d.Status.Replicas != r || d.Status.UpdatedReplicas != r || d.Status.AvailableReplicas != r {
			busy++
		}
	}
	stss, err := c.AppsV1().StatefulSets("").List(ctx, opts)
	if err != nil {
		return false, "", err
	}
	for _, st := range stss.Items {
		if st.Status.ObservedGeneration < st.Generation || st.Status.ReadyReplicas != ptr.Deref(st.Spec.Replicas, 1) || st.Status.CurrentRevision != st.Status.UpdateRevision {
			busy++
		}
	}
	jobs, err := c.BatchV1().Jobs("").List(ctx, opts)
	if err != nil {
		return false, "", err
	}
	for _, j := range jobs.Items {
		complete := false
		for _, cond := range j.Status.Conditions {
			complete = complete || (cond.Type == batchv1.JobComplete && cond.Status == corev1.ConditionTrue)
		}
		if !complete {
			busy++
		}
	}
	summary := fmt.Sprintf("%d/%d pods ready; %d workloads or Jobs still changing", ready, want, busy)
	return ready >= want && busy == 0, summary, nil
}

func readyPods(ctx context.Context, c kubernetes.Interface) (int, error) {
	n := 0
	opts := metav1.ListOptions{LabelSelector: Label, Limit: 500}
	for {
		l, err := c.CoreV1().Pods("").List(ctx, opts)
		if err != nil {
			return 0, err
		}
		for _, p := range l.Items {
			for _, cond := range p.Status.Conditions {
				if cond.Type == corev1.PodReady && cond.Status == corev1.ConditionTrue {
					n++
				}
			}
		}
		if l.Continue == "" {
			return n, nil
		}
		opts.Continue = l.Continue
	}
}

func labels(app string) map[string]string { return map[string]string{Label: "true", "app": app} }

func createNamespace(ctx context.Context, c kubernetes.Interface, s Spec, ns string) error {
	_, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{Label: "true"}}}, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		existing, err := c.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if existing.Labels[Label] != "complete" {
			return fmt.Errorf("left incomplete by an interrupted run: delete it (kubectl delete namespace %s) and run again", ns)
		}
		return nil
	}
	if err != nil {
		return err
	}
	for _, name := range []string{s.Previous(), s.Current()} {
		secret, err := VersionSecret(ns, s.Family, name, map[string][]byte{"token": []byte("bench-not-a-secret")})
		if err != nil {
			return err
		}
		if _, err := c.CoreV1().Secrets(ns).Create(ctx, secret, metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	for i := range s.Deployments {
		name := fmt.Sprintf("web-%02d", i)
		d := &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels(name), Annotations: map[string]string{"runbook/secret": s.Current()}},
			Spec: appsv1.DeploymentSpec{Replicas: ptr.To(s.Replicas), RevisionHistoryLimit: ptr.To(int32(10)),
				Selector: &metav1.LabelSelector{MatchLabels: labels(name)},
				Template: template(name, style(i), s.Previous())},
		}
		if _, err := c.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	for i := range s.StatefulSets {
		name := fmt.Sprintf("db-%02d", i)
		if _, err := c.AppsV1().StatefulSets(ns).Create(ctx, &appsv1.StatefulSet{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels(name)},
			Spec: appsv1.StatefulSetSpec{Replicas: ptr.To(s.StatefulSetReplicas), Selector: &metav1.LabelSelector{MatchLabels: labels(name)},
				Template: template(name, style(i+2), s.Current())},
		}, metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	for i := range s.CronJobs {
		name := fmt.Sprintf("report-%02d", i)
		cj, err := c.BatchV1().CronJobs(ns).Create(ctx, &batchv1.CronJob{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels(name)},
			Spec: batchv1.CronJobSpec{Schedule: "0 3 1 * *", Suspend: ptr.To(true), JobTemplate: batchv1.JobTemplateSpec{
				Spec: batchv1.JobSpec{Template: jobTemplate(name, style(i+4), s.Current())}}},
		}, metav1.CreateOptions{})
		if err != nil {
			return err
		}
		if _, err := c.BatchV1().Jobs(ns).Create(ctx, &batchv1.Job{
			ObjectMeta: metav1.ObjectMeta{Name: name + "-manual", Labels: labels(name), OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "batch/v1", Kind: "CronJob", Name: cj.Name, UID: cj.UID, Controller: ptr.To(true)}}},
			Spec: cj.Spec.JobTemplate.Spec,
		}, metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	// Roll every Deployment to the current version: the first ReplicaSet stays behind.
	for i := range s.Deployments {
		name := fmt.Sprintf("web-%02d", i)
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			d, err := c.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			d.Spec.Template = template(name, style(i), s.Current())
			_, err = c.AppsV1().Deployments(ns).Update(ctx, d, metav1.UpdateOptions{})
			return err
		})
		if err != nil {
			return err
		}
	}
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		n, err := c.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if err != nil {
			return err
		}
		n.Labels[Label] = "complete"
		_, err = c.CoreV1().Namespaces().Update(ctx, n, metav1.UpdateOptions{})
		return err
	})
}

// style picks one of the five pod-spec reference styles.
func style(i int) int { return i % 5 }

func template(app string, style int, secret string) corev1.PodTemplateSpec {
	spec := corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "example.invalid/" + app,
		// Look-alike text: the version's name as a plain env value.
		Env: []corev1.EnvVar{{Name: "SECRET_NAME", Value: secret}}}}}
	c := &spec.Containers[0]
	switch style {
	case 0:
		c.Env = append(c.Env, corev1.EnvVar{Name: "TOKEN", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: secret}, Key: "token"}}})
	case 1:
		c.EnvFrom = []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: secret}}}}
	case 2:
		spec.Volumes = []corev1.Volume{{Name: "creds", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: secret}}}}
	case 3:
		spec.Volumes = []corev1.Volume{{Name: "all", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
			Sources: []corev1.VolumeProjection{{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: secret}}}}}}}}
	default:
		spec.ImagePullSecrets = []corev1.LocalObjectReference{{Name: secret}}
	}
	return corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels(app)}, Spec: spec}
}

func jobTemplate(app string, style int, secret string) corev1.PodTemplateSpec {
	t := template(app, style, secret)
	t.Spec.RestartPolicy = corev1.RestartPolicyNever
	return t
}
