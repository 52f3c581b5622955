package secretref

import (
	"encoding/json"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Object walks a typed object. It supports Pod, PodTemplate, Deployment, ReplicaSet,
// StatefulSet, DaemonSet, Job, CronJob, ReplicationController, ControllerRevision
// (read only: its data is decoded, so Set on its references changes a copy),
// ServiceAccount and Ingress. Other types are an error.
func Object(obj runtime.Object, visit Visitor) error {
	switch o := obj.(type) {
	case *corev1.Pod:
		PodSpec("spec", &o.Spec, visit)
	case *corev1.PodTemplate:
		PodSpec("template.spec", &o.Template.Spec, visit)
	case *appsv1.Deployment:
		PodSpec("spec.template.spec", &o.Spec.Template.Spec, visit)
	case *appsv1.ReplicaSet:
		PodSpec("spec.template.spec", &o.Spec.Template.Spec, visit)
	case *appsv1.StatefulSet:
		PodSpec("spec.template.spec", &o.Spec.Template.Spec, visit)
	case *appsv1.DaemonSet:
		PodSpec("spec.template.spec", &o.Spec.Template.Spec, visit)
	case *batchv1.Job:
		PodSpec("spec.template.spec", &o.Spec.Template.Spec, visit)
	case *batchv1.CronJob:
		PodSpec("spec.jobTemplate.spec.template.spec", &o.Spec.JobTemplate.Spec.Template.Spec, visit)
	case *corev1.ReplicationController:
		if o.Spec.Template != nil {
			PodSpec("spec.template.spec", &o.Spec.Template.Spec, visit)
		}
	case *appsv1.ControllerRevision:
		return controllerRevision(o, visit)
	case *corev1.ServiceAccount:
		serviceAccount(o, visit)
	case *networkingv1.Ingress:
		for i := range o.Spec.TLS {
			tls := &o.Spec.TLS[i]
			if tls.SecretName == "" {
				continue
			}
			if !visit(Ref{Path: indexPath("spec", "tls", i) + ".secretName", Name: tls.SecretName, Style: IngressTLS,
				Pointer: pointer("spec", "tls", i, "secretName"), set: func(n string) { tls.SecretName = n }}) {
				return nil
			}
		}
	default:
		return fmt.Errorf("secretref: unsupported type %T", obj)
	}
	return nil
}

// controllerRevision decodes the pod template a StatefulSet or DaemonSet revision
// stores (a patch of the owner's spec) and walks it as a tree.
func controllerRevision(cr *appsv1.ControllerRevision, visit Visitor) error {
	raw := cr.Data.Raw
	if len(raw) == 0 && cr.Data.Object != nil {
		b, err := json.Marshal(cr.Data.Object)
		if err != nil {
			return err
		}
		raw = b
	}
	if len(raw) == 0 {
		return nil
	}
	var data map[string]any
	if err := json.Unmarshal(raw, &data); err != nil {
		return fmt.Errorf("secretref: decoding ControllerRevision %s/%s: %w", cr.Namespace, cr.Name, err)
	}
	spec, ok := dig(data, "spec", "template", "spec")
	if !ok {
		return nil
	}
	TreePodSpec("data.spec.template.spec", MapNode(spec), visit)
	return nil
}

func serviceAccount(sa *corev1.ServiceAccount, visit Visitor) {
	for i := range sa.Secrets {
		s := &sa.Secrets[i]
		if s.Name == "" {
			continue
		}
		if !visit(Ref{Path: indexPath("", "secrets", i)[1:], Name: s.Name, Style: ServiceAccountSecret,
			Pointer: pointer("", "secrets", i, "name"), set: func(n string) { s.Name = n }}) {
			return
		}
	}
	for i := range sa.ImagePullSecrets {
		s := &sa.ImagePullSecrets[i]
		if s.Name == "" {
			continue
		}
		if !visit(Ref{Path: indexPath("", "imagePullSecrets", i)[1:], Name: s.Name, Style: ImagePullSecret,
			Pointer: pointer("", "imagePullSecrets", i, "name"), set: func(n string) { s.Name = n }}) {
			return
		}
	}
}

// container is the part of a container, init container or ephemeral container that
// can name a Secret.
type container struct {
	field, name string
	index       int
	env         []corev1.EnvVar
	envFrom     []corev1.EnvFromSource
}

func containersOf(spec *corev1.PodSpec) []container {
	var cs []container
	for i, c := range spec.InitContainers {
		cs = append(cs, container{"initContainers", c.Name, i, c.Env, c.EnvFrom})
	}
	for i, c := range spec.Containers {
		cs = append(cs, container{"containers", c.Name, i, c.Env, c.EnvFrom})
	}
	for i, c := range spec.EphemeralContainers {
		cs = append(cs, container{"ephemeralContainers", c.Name, i, c.Env, c.EnvFrom})
	}
	return cs
}

// PodSpec walks a typed pod spec whose field path is prefix. It returns false when
// the visitor stopped the walk.
func PodSpec(prefix string, spec *corev1.PodSpec, visit Visitor) bool {
	// The env and envFrom slices share their backing arrays with spec, so Set through
	// the pointers below rewrites spec itself.
	for _, c := range containersOf(spec) {
		cp := containerPath(prefix, c.field, c.name)
		cptr := pointer(prefix, c.field, c.index)
		for j := range c.env {
			vf := c.env[j].ValueFrom
			if vf == nil || vf.SecretKeyRef == nil || vf.SecretKeyRef.Name == "" {
				continue
			}
			ref := vf.SecretKeyRef
			if !visit(Ref{Path: namedPath(cp, "env", c.env[j].Name) + ".valueFrom.secretKeyRef", Name: ref.Name,
				Style: EnvSecretKeyRef, Optional: isTrue(ref.Optional), Keys: []string{ref.Key}, Container: c.name,
				Pointer: cptr + pointer("", "env", j, "valueFrom", "secretKeyRef", "name"),
				set:     func(n string) { ref.Name = n }}) {
				return false
			}
		}
		for j := range c.envFrom {
			ref := c.envFrom[j].SecretRef
			if ref == nil || ref.Name == "" {
				continue
			}
			if !visit(Ref{Path: indexPath(cp, "envFrom", j) + ".secretRef", Name: ref.Name,
				Style: EnvFromSecretRef, Optional: isTrue(ref.Optional), Container: c.name,
				Pointer: cptr + pointer("", "envFrom", j, "secretRef", "name"),
				set:     func(n string) { ref.Name = n }}) {
				return false
			}
		}
	}
	for i := range spec.Volumes {
		v := &spec.Volumes[i]
		vp := namedPath(prefix, "volumes", v.Name)
		if s := v.Secret; s != nil && s.SecretName != "" {
			if !visit(Ref{Path: vp + ".secret", Name: s.SecretName, Style: VolumeSecret,
				Optional: isTrue(s.Optional), Keys: itemKeys(s.Items),
				Pointer: pointer(prefix, "volumes", i, "secret", "secretName"),
				set:     func(n string) { s.SecretName = n }}) {
				return false
			}
		}
		if p := v.Projected; p != nil {
			for j := range p.Sources {
				s := p.Sources[j].Secret
				if s == nil || s.Name == "" {
					continue
				}
				if !visit(Ref{Path: indexPath(vp+".projected", "sources", j) + ".secret", Name: s.Name,
					Style: ProjectedSecret, Optional: isTrue(s.Optional), Keys: itemKeys(s.Items),
					Pointer: pointer(prefix, "volumes", i, "projected", "sources", j, "secret", "name"),
					set:     func(n string) { s.Name = n }}) {
					return false
				}
			}
		}
	}
	for i := range spec.ImagePullSecrets {
		s := &spec.ImagePullSecrets[i]
		if s.Name == "" {
			continue
		}
		if !visit(Ref{Path: indexPath(prefix, "imagePullSecrets", i), Name: s.Name, Style: ImagePullSecret,
			Pointer: pointer(prefix, "imagePullSecrets", i, "name"), set: func(n string) { s.Name = n }}) {
			return false
		}
	}
	return true
}

func isTrue(b *bool) bool { return b != nil && *b }

func itemKeys(items []corev1.KeyToPath) []string {
	if len(items) == 0 {
		return nil
	}
	keys := make([]string, 0, len(items))
	for _, it := range items {
		keys = append(keys, it.Key)
	}
	return keys
}
