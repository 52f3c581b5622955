package secretref

import (
	"encoding/json"
	"fmt"
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// ControllerRevision decodes the pod template a StatefulSet or DaemonSet revision
// stores (a patch of the owner's spec) and walks it as a tree (read only: Set changes
// a decoded copy).
func ControllerRevision(cr *appsv1.ControllerRevision, visit Visitor) error {
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

// Annotations walks the well-known annotations of a typed object's annotations (or a
// pod template's) whose field path is prefix ("metadata" or
// "spec.template.metadata"). Set writes into the map.
func Annotations(prefix string, ann map[string]string, visit Visitor) bool {
	if len(ann) == 0 {
		return true
	}
	for _, key := range WellKnownAnnotations {
		v, ok := ann[key]
		if !ok {
			continue
		}
		r, ok := annotationRef(prefix, key, v)
		if !ok {
			continue
		}
		r.set = func(n string) { ann[key] = n }
		if !visit(r) {
			return false
		}
	}
	return true
}

// annotationRef reads "name" or "namespace/name".
func annotationRef(prefix, key, value string) (Ref, bool) {
	if value == "" {
		return Ref{}, false
	}
	r := Ref{Path: keyPath(prefix, "annotations", key), Name: value, Style: Annotation, Pointer: pointer(prefix, "annotations", key)}
	for i := 0; i < len(value); i++ {
		if value[i] == '/' {
			r.Namespace, r.Name, r.Prefix = value[:i], value[i+1:], value[:i+1]
			break
		}
	}
	return r, r.Name != ""
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

// typedVolumeNames returns, for each entry of volumeSources, the address of the
// Secret name the volume's source holds (nil when the volume is not of that source or
// names no Secret).
func typedVolumeNames(v *corev1.Volume) [8]*string {
	var out [8]*string
	s := v.VolumeSource
	if s.CSI != nil && s.CSI.NodePublishSecretRef != nil {
		out[0] = &s.CSI.NodePublishSecretRef.Name
	}
	if s.CephFS != nil && s.CephFS.SecretRef != nil {
		out[1] = &s.CephFS.SecretRef.Name
	}
	if s.RBD != nil && s.RBD.SecretRef != nil {
		out[2] = &s.RBD.SecretRef.Name
	}
	if s.ISCSI != nil && s.ISCSI.SecretRef != nil {
		out[3] = &s.ISCSI.SecretRef.Name
	}
	if s.FlexVolume != nil && s.FlexVolume.SecretRef != nil {
		out[4] = &s.FlexVolume.SecretRef.Name
	}
	if s.AzureFile != nil {
		out[5] = &s.AzureFile.SecretName
	}
	if s.ScaleIO != nil && s.ScaleIO.SecretRef != nil {
		out[6] = &s.ScaleIO.SecretRef.Name
	}
	if s.StorageOS != nil && s.StorageOS.SecretRef != nil {
		out[7] = &s.StorageOS.SecretRef.Name
	}
	return out
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
		for k, name := range typedVolumeNames(v) {
			if name == nil || *name == "" {
				continue
			}
			src := volumeSources[k]
			segs := append([]any{"volumes", i, src.field}, toAny(src.path)...)
			if !visit(Ref{Path: vp + "." + src.field + volumeRefSuffix(src.path), Name: *name, Style: src.style,
				Pointer: pointer(prefix, segs...), set: func(n string) { *name = n }}) {
				return false
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

// volumeRefSuffix is the path of a volume source's reference as reported:
// ".nodePublishSecretRef" for csi, ".secretName" for azureFile.
func volumeRefSuffix(path []string) string { return "." + path[0] }

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
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

// sortedKeys returns a map's keys in order, for a stable walk.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
