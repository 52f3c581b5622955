package kinds

import (
	"context"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"

	"github.com/rotor-project/rotor/internal/secretref"
)

// Revision annotations of ReplicaSets (and of the Deployments and Rollouts owning them).
const (
	DeploymentRevisionAnnotation = "deployment.kubernetes.io/revision"
	RolloutRevisionAnnotation    = "rollout.argoproj.io/revision"
)

// Object is a typed object as listed: a runtime.Object with metadata.
type Object interface {
	runtime.Object
	metav1.Object
}

// Page is one page of a typed list.
type Page struct {
	Items    []Object
	Continue string
}

// typedKind lists and walks a built-in kind with the typed client.
type typedKind struct {
	list     func(ctx context.Context, c kubernetes.Interface, ns string, o metav1.ListOptions) (Page, error)
	visit    func(obj Object, visit secretref.Visitor) error
	describe func(obj Object) Info
}

// ListTyped lists one page of a typed kind in namespace ns ("" for all, and always
// for cluster-scoped kinds).
func (k *Kind) ListTyped(ctx context.Context, c kubernetes.Interface, ns string, o metav1.ListOptions) (Page, error) {
	if !k.Namespaced {
		ns = ""
	}
	return k.typed.list(ctx, c, ns, o)
}

// VisitTyped walks the references of a typed object of this kind (read from
// ListTyped). Set on what it visits rewrites the object where the place is a field of
// it (pod specs, annotations).
func (k *Kind) VisitTyped(obj Object, visit secretref.Visitor) error {
	return k.typed.visit(obj, visit)
}

// DescribeTyped says what the role of a typed object's references depends on.
func (k *Kind) DescribeTyped(obj Object) Info { return k.typed.describe(obj) }

// typedOf builds a typedKind. podSpec returns the pod spec (nil for none); tree, when
// set, walks the rest of the object in tree form (after conversion: these kinds are few
// and small); describe may be nil.
func typedOf[T any, PT interface {
	*T
	Object
}](list func(ctx context.Context, c kubernetes.Interface, ns string, o metav1.ListOptions) ([]T, string, error),
	prefix string, podSpec func(PT) *corev1.PodSpec, tree secretref.Walker, templateAnnotations func(PT) map[string]string,
	describe func(PT) Info) *typedKind {
	return &typedKind{
		list: func(ctx context.Context, c kubernetes.Interface, ns string, o metav1.ListOptions) (Page, error) {
			items, cont, err := list(ctx, c, ns, o)
			if err != nil {
				return Page{}, err
			}
			p := Page{Items: make([]Object, len(items)), Continue: cont}
			for i := range items {
				p.Items[i] = PT(&items[i])
			}
			return p, nil
		},
		visit: func(obj Object, visit secretref.Visitor) error {
			o := obj.(PT)
			stopped := false
			v := func(r secretref.Ref) bool {
				if !visit(r) {
					stopped = true
				}
				return !stopped
			}
			if podSpec != nil {
				if spec := podSpec(o); spec != nil && !secretref.PodSpec(prefix, spec, v) {
					return nil
				}
			}
			if tree != nil {
				u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
				if err != nil {
					return err
				}
				if !tree(secretref.MapNode(u), v) {
					return nil
				}
			}
			if !secretref.Annotations("metadata", o.GetAnnotations(), v) {
				return nil
			}
			if templateAnnotations != nil {
				secretref.Annotations(templateMetadataOf(prefix), templateAnnotations(o), v)
			}
			return nil
		},
		describe: func(obj Object) Info {
			if describe == nil {
				return Info{}
			}
			return describe(obj.(PT))
		},
	}
}

func templateMetadataOf(podSpec string) string {
	return podSpec[:len(podSpec)-len("spec")] + "metadata"
}

// builtin are the built-in kinds, listed with the typed client.
func builtin() []*Kind {
	tmpl := func(t *corev1.PodTemplateSpec) map[string]string { return t.Annotations }
	return []*Kind{
		{Kind: "Pod", Versions: []string{"v1"}, Resource: "pods", Namespaced: true, Aliases: []string{"pod", "pods", "po"},
			PodSpec: "spec", Repoint: Immutable, Judge: JudgeAtOnce, FromOwner: true,
			Effect: "a Pod without a controller cannot be re-pointed (its spec is immutable): recreate it",
			typed: typedOf(func(ctx context.Context, c kubernetes.Interface, ns string, o metav1.ListOptions) ([]corev1.Pod, string, error) {
				l, err := c.CoreV1().Pods(ns).List(ctx, o)
				return items(l, err, func(l *corev1.PodList) ([]corev1.Pod, string) { return l.Items, l.Continue })
			}, "spec", func(p *corev1.Pod) *corev1.PodSpec { return &p.Spec }, nil, nil, describePod)},
		{Kind: "Deployment", Group: "apps", Versions: []string{"v1"}, Resource: "deployments", Namespaced: true,
			Aliases: []string{"deployment", "deployments", "deploy"}, PodSpec: "spec.template.spec",
			Repoint: Patch, Rolls: true, Effect: "rolls out its pods", Judge: typedJudge(DeploymentState), Pods: specSelector,
			typed: typedOf(func(ctx context.Context, c kubernetes.Interface, ns string, o metav1.ListOptions) ([]appsv1.Deployment, string, error) {
				l, err := c.AppsV1().Deployments(ns).List(ctx, o)
				return items(l, err, func(l *appsv1.DeploymentList) ([]appsv1.Deployment, string) { return l.Items, l.Continue })
			}, "spec.template.spec", func(d *appsv1.Deployment) *corev1.PodSpec { return &d.Spec.Template.Spec }, nil,
				func(d *appsv1.Deployment) map[string]string { return tmpl(&d.Spec.Template) },
				func(d *appsv1.Deployment) Info { return Info{CurrentRevision: annotationRevision(d)} })},
		{Kind: "ReplicaSet", Group: "apps", Versions: []string{"v1"}, Resource: "replicasets", Namespaced: true,
			Aliases: []string{"replicaset", "replicasets", "rs"}, PodSpec: "spec.template.spec", IntermediateOwner: true,
			Repoint: NotAConsumer, Effect: "revision history: follows its Deployment or Rollout", Judge: JudgeAtOnce, Pods: specSelector,
			typed: typedOf(func(ctx context.Context, c kubernetes.Interface, ns string, o metav1.ListOptions) ([]appsv1.ReplicaSet, string, error) {
				l, err := c.AppsV1().ReplicaSets(ns).List(ctx, o)
				return items(l, err, func(l *appsv1.ReplicaSetList) ([]appsv1.ReplicaSet, string) { return l.Items, l.Continue })
			}, "spec.template.spec", func(r *appsv1.ReplicaSet) *corev1.PodSpec { return &r.Spec.Template.Spec }, nil,
				func(r *appsv1.ReplicaSet) map[string]string { return tmpl(&r.Spec.Template) }, describeReplicaSet)},
		{Kind: "StatefulSet", Group: "apps", Versions: []string{"v1"}, Resource: "statefulsets", Namespaced: true,
			Aliases: []string{"statefulset", "statefulsets", "sts"}, PodSpec: "spec.template.spec",
			Repoint: Patch, Rolls: true, Effect: "rolls out its pods", Judge: typedJudge(StatefulSetState), Pods: specSelector,
			typed: typedOf(func(ctx context.Context, c kubernetes.Interface, ns string, o metav1.ListOptions) ([]appsv1.StatefulSet, string, error) {
				l, err := c.AppsV1().StatefulSets(ns).List(ctx, o)
				return items(l, err, func(l *appsv1.StatefulSetList) ([]appsv1.StatefulSet, string) { return l.Items, l.Continue })
			}, "spec.template.spec", func(s *appsv1.StatefulSet) *corev1.PodSpec { return &s.Spec.Template.Spec }, nil,
				func(s *appsv1.StatefulSet) map[string]string { return tmpl(&s.Spec.Template) }, nil)},
		{Kind: "DaemonSet", Group: "apps", Versions: []string{"v1"}, Resource: "daemonsets", Namespaced: true,
			Aliases: []string{"daemonset", "daemonsets", "ds"}, PodSpec: "spec.template.spec",
			Repoint: Patch, Rolls: true, Effect: "rolls out its pods", Judge: typedJudge(DaemonSetState), Pods: specSelector,
			typed: typedOf(func(ctx context.Context, c kubernetes.Interface, ns string, o metav1.ListOptions) ([]appsv1.DaemonSet, string, error) {
				l, err := c.AppsV1().DaemonSets(ns).List(ctx, o)
				return items(l, err, func(l *appsv1.DaemonSetList) ([]appsv1.DaemonSet, string) { return l.Items, l.Continue })
			}, "spec.template.spec", func(d *appsv1.DaemonSet) *corev1.PodSpec { return &d.Spec.Template.Spec }, nil,
				func(d *appsv1.DaemonSet) map[string]string { return tmpl(&d.Spec.Template) }, nil)},
		{Kind: "ControllerRevision", Group: "apps", Versions: []string{"v1"}, Resource: "controllerrevisions", Namespaced: true,
			Aliases: []string{"controllerrevision", "controllerrevisions"}, Repoint: NotAConsumer,
			Effect: "revision history: follows its StatefulSet or DaemonSet", Judge: JudgeAtOnce,
			refs: controllerRevisionTree,
			typed: &typedKind{
				list: func(ctx context.Context, c kubernetes.Interface, ns string, o metav1.ListOptions) (Page, error) {
					l, err := c.AppsV1().ControllerRevisions(ns).List(ctx, o)
					return page(l, err, func(l *appsv1.ControllerRevisionList) ([]appsv1.ControllerRevision, string) {
						return l.Items, l.Continue
					})
				},
				visit: func(obj Object, visit secretref.Visitor) error {
					return secretref.ControllerRevision(obj.(*appsv1.ControllerRevision), visit)
				},
				describe: func(obj Object) Info {
					return Info{History: ControllerRevisionHistory, Revision: obj.(*appsv1.ControllerRevision).Revision}
				},
			}},
		{Kind: "Job", Group: "batch", Versions: []string{"v1"}, Resource: "jobs", Namespaced: true,
			Aliases: []string{"job", "jobs"}, PodSpec: "spec.template.spec", IntermediateOwner: true, Repoint: Immutable,
			Effect: "a running Job's pod template is immutable: it keeps the old version until it finishes",
			Judge:  JudgeAtOnce, Pods: specSelector,
			typed: typedOf(func(ctx context.Context, c kubernetes.Interface, ns string, o metav1.ListOptions) ([]batchv1.Job, string, error) {
				l, err := c.BatchV1().Jobs(ns).List(ctx, o)
				return items(l, err, func(l *batchv1.JobList) ([]batchv1.Job, string) { return l.Items, l.Continue })
			}, "spec.template.spec", func(j *batchv1.Job) *corev1.PodSpec { return &j.Spec.Template.Spec }, nil,
				func(j *batchv1.Job) map[string]string { return tmpl(&j.Spec.Template) }, describeJob)},
		{Kind: "CronJob", Group: "batch", Versions: []string{"v1"}, Resource: "cronjobs", Namespaced: true,
			Aliases: []string{"cronjob", "cronjobs", "cj"}, PodSpec: "spec.jobTemplate.spec.template.spec",
			Repoint: Patch, Effect: "takes effect at its next run", Judge: JudgeAtOnce,
			typed: typedOf(func(ctx context.Context, c kubernetes.Interface, ns string, o metav1.ListOptions) ([]batchv1.CronJob, string, error) {
				l, err := c.BatchV1().CronJobs(ns).List(ctx, o)
				return items(l, err, func(l *batchv1.CronJobList) ([]batchv1.CronJob, string) { return l.Items, l.Continue })
			}, "spec.jobTemplate.spec.template.spec", func(j *batchv1.CronJob) *corev1.PodSpec { return &j.Spec.JobTemplate.Spec.Template.Spec }, nil,
				func(j *batchv1.CronJob) map[string]string { return tmpl(&j.Spec.JobTemplate.Spec.Template) }, nil)},
		{Kind: "ReplicationController", Versions: []string{"v1"}, Resource: "replicationcontrollers", Namespaced: true,
			Aliases: []string{"replicationcontroller", "replicationcontrollers", "rc"}, PodSpec: "spec.template.spec",
			Repoint: Patch, Effect: "takes effect as its pods are replaced (a ReplicationController does not roll out)",
			Judge: JudgeAtOnce, Pods: mapSelector,
			typed: typedOf(func(ctx context.Context, c kubernetes.Interface, ns string, o metav1.ListOptions) ([]corev1.ReplicationController, string, error) {
				l, err := c.CoreV1().ReplicationControllers(ns).List(ctx, o)
				return items(l, err, func(l *corev1.ReplicationControllerList) ([]corev1.ReplicationController, string) {
					return l.Items, l.Continue
				})
			}, "spec.template.spec", func(r *corev1.ReplicationController) *corev1.PodSpec {
				if r.Spec.Template == nil {
					return nil
				}
				return &r.Spec.Template.Spec
			}, nil, func(r *corev1.ReplicationController) map[string]string {
				if r.Spec.Template == nil {
					return nil
				}
				return r.Spec.Template.Annotations
			}, nil)},
		{Kind: "PodTemplate", Versions: []string{"v1"}, Resource: "podtemplates", Namespaced: true,
			Aliases: []string{"podtemplate", "podtemplates"}, PodSpec: "template.spec",
			Repoint: Patch, Effect: "takes effect when a controller next makes pods from it", Judge: JudgeAtOnce,
			typed: typedOf(func(ctx context.Context, c kubernetes.Interface, ns string, o metav1.ListOptions) ([]corev1.PodTemplate, string, error) {
				l, err := c.CoreV1().PodTemplates(ns).List(ctx, o)
				return items(l, err, func(l *corev1.PodTemplateList) ([]corev1.PodTemplate, string) { return l.Items, l.Continue })
			}, "template.spec", func(p *corev1.PodTemplate) *corev1.PodSpec { return &p.Template.Spec }, nil,
				func(p *corev1.PodTemplate) map[string]string { return p.Template.Annotations }, nil)},
		{Kind: "ServiceAccount", Versions: []string{"v1"}, Resource: "serviceaccounts", Namespaced: true,
			Aliases: []string{"serviceaccount", "serviceaccounts", "sa"}, Repoint: Patch, Effect: "takes effect at once",
			Judge: JudgeAtOnce, refs: secretref.ServiceAccount,
			typed: typedOf(func(ctx context.Context, c kubernetes.Interface, ns string, o metav1.ListOptions) ([]corev1.ServiceAccount, string, error) {
				l, err := c.CoreV1().ServiceAccounts(ns).List(ctx, o)
				return items(l, err, func(l *corev1.ServiceAccountList) ([]corev1.ServiceAccount, string) { return l.Items, l.Continue })
			}, "", nil, secretref.ServiceAccount, nil, nil)},
		{Kind: "Ingress", Group: "networking.k8s.io", Versions: []string{"v1"}, Resource: "ingresses", Namespaced: true,
			Aliases: []string{"ingress", "ingresses", "ing"}, Repoint: Patch, Effect: "takes effect at once",
			Judge: JudgeAtOnce, refs: secretref.Ingress,
			typed: typedOf(func(ctx context.Context, c kubernetes.Interface, ns string, o metav1.ListOptions) ([]networkingv1.Ingress, string, error) {
				l, err := c.NetworkingV1().Ingresses(ns).List(ctx, o)
				return items(l, err, func(l *networkingv1.IngressList) ([]networkingv1.Ingress, string) { return l.Items, l.Continue })
			}, "", nil, secretref.Ingress, nil, nil)},
		{Kind: "PersistentVolume", Versions: []string{"v1"}, Resource: "persistentvolumes", Namespaced: false,
			Aliases: []string{"persistentvolume", "persistentvolumes", "pv"}, Repoint: Immutable,
			Effect: "a PersistentVolume's volume source is immutable: create a new PersistentVolume naming the new version and move the claim to it",
			Judge:  JudgeAtOnce, refs: secretref.PersistentVolume,
			typed: typedOf(func(ctx context.Context, c kubernetes.Interface, _ string, o metav1.ListOptions) ([]corev1.PersistentVolume, string, error) {
				l, err := c.CoreV1().PersistentVolumes().List(ctx, o)
				return items(l, err, func(l *corev1.PersistentVolumeList) ([]corev1.PersistentVolume, string) { return l.Items, l.Continue })
			}, "", nil, secretref.PersistentVolume, nil, nil)},
		{Kind: "StorageClass", Group: "storage.k8s.io", Versions: []string{"v1"}, Resource: "storageclasses", Namespaced: false,
			Aliases: []string{"storageclass", "storageclasses", "sc"}, Repoint: Immutable,
			Effect: "a StorageClass's parameters are immutable: create a StorageClass naming the new version (new claims use it; existing volumes keep the old one)",
			Judge:  JudgeAtOnce, refs: secretref.StorageClass,
			typed: typedOf(func(ctx context.Context, c kubernetes.Interface, _ string, o metav1.ListOptions) ([]storagev1.StorageClass, string, error) {
				l, err := c.StorageV1().StorageClasses().List(ctx, o)
				return items(l, err, func(l *storagev1.StorageClassList) ([]storagev1.StorageClass, string) { return l.Items, l.Continue })
			}, "", nil, secretref.StorageClass, nil, nil)},
	}
}

// items unpacks a typed list.
func items[L any, T any](l *L, err error, get func(*L) ([]T, string)) ([]T, string, error) {
	if err != nil {
		return nil, "", err
	}
	it, cont := get(l)
	return it, cont, nil
}

// page unpacks a typed list into a Page.
func page[L any, T any, PT interface {
	*T
	Object
}](l *L, err error, get func(*L) ([]T, string)) (Page, error) {
	if err != nil {
		return Page{}, err
	}
	it, cont := get(l)
	p := Page{Items: make([]Object, len(it)), Continue: cont}
	for i := range it {
		p.Items[i] = PT(&it[i])
	}
	return p, nil
}

// controllerRevisionTree walks a ControllerRevision in tree form: its data holds a
// patch of its owner's spec.
func controllerRevisionTree(obj secretref.Node, visit secretref.Visitor) bool {
	return secretref.PodSpecAt("data.spec.template.spec")(obj, visit)
}

func describePod(p *corev1.Pod) Info {
	return Info{Finished: p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed}
}

func describeJob(j *batchv1.Job) Info {
	for _, c := range j.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return Info{Finished: true}
		}
	}
	return Info{}
}

func describeReplicaSet(rs *appsv1.ReplicaSet) Info {
	return Info{History: ReplicaSetHistory, Revision: annotationRevision(rs),
		Active: (rs.Spec.Replicas != nil && *rs.Spec.Replicas > 0) || rs.Status.Replicas > 0}
}

// annotationRevision is the revision annotation of a Deployment, a Rollout or their
// ReplicaSets.
func annotationRevision(o metav1.Object) int64 {
	a := o.GetAnnotations()
	v, ok := a[DeploymentRevisionAnnotation]
	if !ok {
		v = a[RolloutRevisionAnnotation]
	}
	n, _ := strconv.ParseInt(v, 10, 64)
	return n
}
