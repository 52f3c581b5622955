// Package verify runs a rotation's verification Job: "run the integration tests against
// the new version" as a gate after the last step. The environment names a Job or a
// CronJob in the namespace (spec.verify.job) that serves as a template; rotor creates a
// Job from its pod template with every reference to the family (a version, or the
// unversioned Secret named like it) pointed at the new version, and ROTOR_FAMILY,
// ROTOR_VERSION and ROTOR_NAMESPACE set in each container, then waits for it to
// complete (the gate passes) or fail (it fails, and the rotation rolls back) — the
// convention of Argo Rollouts' job metric provider.
//
// The Job's name is derived from the rotation and the version, so a run that resumes
// a rotation finds the Job the interrupted run started instead of starting another.
// Finished Jobs are left for their logs (their template's ttlSecondsAfterFinished
// applies). Waiting is by watch. The package never prints.
package verify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
	"k8s.io/utils/ptr"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/internal/family"
	"github.com/rotor-project/rotor/internal/gate"
	"github.com/rotor-project/rotor/internal/repoint"
	"github.com/rotor-project/rotor/internal/secretref"
)

// Labels and annotations on a verification Job.
const (
	// LabelVerify holds the template's name.
	LabelVerify = "rotor.dev/verify"
	// AnnotationRotation names the rotation the Job verifies.
	AnnotationRotation = "rotor.dev/rotation"
	// AnnotationVersion names the version it runs against.
	AnnotationVersion = "rotor.dev/version"
)

// GateName is the gate's name in the journal.
const GateName = "verify"

// Runner creates and watches verification Jobs.
type Runner struct {
	Client kubernetes.Interface
}

// Gate is the verification gate of rot (nil when it has no spec.verify).
func (r *Runner) Gate(rot *v1alpha1.SecretRotation) gate.Gate {
	if rot.Spec.Verify == nil {
		return nil
	}
	return &jobGate{r: r, template: rot.Spec.Verify.Job, rotation: rot.Name}
}

type jobGate struct {
	r        *Runner
	template string
	rotation string
}

func (g *jobGate) Name() string { return GateName }

// Run creates the Job (or finds the one an earlier run created) and waits for it.
func (g *jobGate) Run(ctx context.Context, step gate.Step) gate.Verdict {
	job, err := g.ensure(ctx, step)
	if err != nil {
		return gate.Verdict{Gate: GateName, Phase: gate.Error, Message: err.Error()}
	}
	return g.wait(ctx, step.Namespace, job)
}

// Validate checks that the template exists and has a pod template, before anything
// changes.
func (g *jobGate) Validate(ctx context.Context, step gate.Step) error {
	_, err := Template(ctx, g.r.Client, step.Namespace, g.template)
	return err
}

// Template reads the pod template of the Job or CronJob named name.
func Template(ctx context.Context, c kubernetes.Interface, namespace, name string) (*batchv1.JobSpec, error) {
	job, err := c.BatchV1().Jobs(namespace).Get(ctx, name, metav1.GetOptions{})
	if err == nil {
		spec := job.Spec.DeepCopy()
		// The template Job's own selector and the labels its controller added belong to
		// it, not to the copies.
		spec.Selector, spec.ManualSelector = nil, nil
		for _, k := range []string{"controller-uid", "job-name", batchv1.ControllerUidLabel, batchv1.JobNameLabel} {
			delete(spec.Template.Labels, k)
		}
		return spec, nil
	}
	if !apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("reading the verification Job %s in namespace %q: %w", name, namespace, err)
	}
	cj, err := c.BatchV1().CronJobs(namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("the verification template %q does not exist in namespace %q: create a Job (suspended) or a CronJob of that name whose pod runs the checks, or change verify.job", name, namespace)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the verification CronJob %s in namespace %q: %w", name, namespace, err)
	}
	return cj.Spec.JobTemplate.Spec.DeepCopy(), nil
}

// JobName is the verification Job of a rotation's version: the template's name (cut
// to fit) and a hash of the rotation and version.
func JobName(template, rotation, version string) string {
	sum := sha256.Sum256([]byte(rotation + "/" + version))
	suffix := "-rotor-verify-" + hex.EncodeToString(sum[:])[:8]
	// A Job's name becomes a label value of its pods: 63 characters at most.
	if max := 63 - len(suffix); len(template) > max {
		template = strings.TrimRight(template[:max], "-.")
	}
	return template + suffix
}

// Job builds the verification Job from a template's spec. Every reference to the
// family, the unversioned Secret included, names the version under test: a template is
// not a consumer, and one written before the family was adopted (when the unversioned
// Secret was the only name it could use) must test each new version after it, not the
// old values.
func Job(spec *batchv1.JobSpec, fam, namespace, template, rotation, version string) *batchv1.Job {
	s := spec.DeepCopy()
	s.Suspend = ptr.To(false)
	secretref.PodSpec("spec.template.spec", &s.Template.Spec, func(ref secretref.Ref) bool {
		if repoint.Names(fam, ref.Name, true) {
			ref.Set(version)
		}
		return true
	})
	env := []corev1.EnvVar{{Name: "ROTOR_FAMILY", Value: fam}, {Name: "ROTOR_VERSION", Value: version}, {Name: "ROTOR_NAMESPACE", Value: namespace}}
	for i := range s.Template.Spec.Containers {
		s.Template.Spec.Containers[i].Env = append(s.Template.Spec.Containers[i].Env, env...)
	}
	labels := map[string]string{}
	for k, v := range s.Template.Labels {
		labels[k] = v
	}
	labels[LabelVerify] = template
	labels[family.LabelFamily] = family.LabelValue(fam)
	s.Template.Labels = labels
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{
			Name:        JobName(template, rotation, version),
			Namespace:   namespace,
			Labels:      map[string]string{LabelVerify: template, family.LabelFamily: family.LabelValue(fam), family.LabelManagedBy: family.ManagedByValue},
			Annotations: map[string]string{AnnotationRotation: rotation, AnnotationVersion: version, family.AnnotationFamily: fam},
		},
		Spec: *s,
	}
}

func (g *jobGate) ensure(ctx context.Context, step gate.Step) (*batchv1.Job, error) {
	if step.Version == "" {
		return nil, errors.New("the rotation has no single target version to verify")
	}
	spec, err := Template(ctx, g.r.Client, step.Namespace, g.template)
	if err != nil {
		return nil, err
	}
	want := Job(spec, step.Family, step.Namespace, g.template, g.rotation, step.Version)
	jobs := g.r.Client.BatchV1().Jobs(step.Namespace)
	created, err := jobs.Create(ctx, want, metav1.CreateOptions{FieldManager: repoint.FieldManager})
	switch {
	case err == nil:
		return created, nil
	case apierrors.IsAlreadyExists(err):
		// Started by an earlier run of this rotation: wait for that one.
		return jobs.Get(ctx, want.Name, metav1.GetOptions{})
	}
	return nil, fmt.Errorf("creating the verification Job %s in namespace %q: %w", want.Name, step.Namespace, err)
}

// wait follows the Job by watch until it completes or fails.
func (g *jobGate) wait(ctx context.Context, namespace string, job *batchv1.Job) gate.Verdict {
	if v, done := verdict(job); done {
		return v
	}
	jobs := g.r.Client.BatchV1().Jobs(namespace)
	sel := fields.OneTermEqualSelector("metadata.name", job.Name).String()
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.FieldSelector = sel
			return jobs.List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = sel
			return jobs.Watch(ctx, o)
		},
	}
	var out gate.Verdict
	_, err := watchtools.UntilWithSync(ctx, lw, &batchv1.Job{}, nil, func(ev watch.Event) (bool, error) {
		switch ev.Type {
		case watch.Deleted:
			out = gate.Verdict{Gate: GateName, Phase: gate.Failed, Message: fmt.Sprintf("the verification Job %s was deleted before it finished", job.Name)}
			return true, nil
		case watch.Added, watch.Modified:
			if j, ok := ev.Object.(*batchv1.Job); ok {
				v, done := verdict(j)
				out = v
				return done, nil
			}
		}
		return false, nil
	})
	if err != nil {
		return gate.Verdict{Gate: GateName, Phase: gate.Error, Message: fmt.Sprintf("waiting for the verification Job %s: %v", job.Name, err)}
	}
	return out
}

// verdict reads a Job's outcome: Complete passes, Failed fails.
func verdict(j *batchv1.Job) (gate.Verdict, bool) {
	for _, c := range j.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case batchv1.JobComplete:
			return gate.Verdict{Gate: GateName, Phase: gate.Successful, Message: fmt.Sprintf("the verification Job %s completed", j.Name),
				Measurements: []gate.Measurement{{Name: "job", Value: j.Name, Phase: gate.Successful, At: c.LastTransitionTime.Time, Detail: fmt.Sprintf("%d pod(s) succeeded", j.Status.Succeeded)}}}, true
		case batchv1.JobFailed:
			why := c.Reason
			if c.Message != "" {
				why += ": " + c.Message
			}
			return gate.Verdict{Gate: GateName, Phase: gate.Failed, Message: fmt.Sprintf("the verification Job %s failed (%s); see: kubectl logs -n %s job/%s", j.Name, why, j.Namespace, j.Name),
				Measurements: []gate.Measurement{{Name: "job", Value: j.Name, Phase: gate.Failed, At: c.LastTransitionTime.Time, Detail: fmt.Sprintf("%d pod(s) failed", j.Status.Failed)}}}, true
		}
	}
	return gate.Verdict{Gate: GateName, Phase: "Running"}, false
}
