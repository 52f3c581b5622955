package refs

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"

	"github.com/rotor-project/rotor/internal/boundedyaml"
	"github.com/rotor-project/rotor/internal/kinds"
	"github.com/rotor-project/rotor/internal/secretref"
)

// Helm's storage of release history: one Secret (the default driver) or ConfigMap per
// release revision, named sh.helm.release.v1.<release>.v<revision>, labelled
// owner=helm, whose data.release is base64 of gzip of the release as JSON. Its
// manifest is every object the chart rendered for that revision: `helm rollback`
// applies it again, so a Secret it names is a rollback target of that revision.
const (
	helmOwnerSelector = "owner=helm"
	helmSecretType    = "helm.sh/release.v1"
	// helmPage is small: a stored release can be up to a megabyte.
	helmPage = 20
)

// HelmRelease is the owner reported for a reference in a stored Helm release.
var helmReleaseKind = struct{ kind, apiVersion string }{"Release", "helm.sh/release.v1"}

// helmRelease is the little of a stored release rotor reads. Everything else (the
// chart, its values, the rendered Secret values in the manifest) is never kept: the
// manifest is walked for references and dropped.
type helmRelease struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	Version   int64  `json:"version"`
	Manifest  string `json:"manifest"`
	Hooks     []struct {
		Manifest string `json:"manifest"`
	} `json:"hooks"`
}

// scanHelmReleases reads every stored Helm release revision (Secrets, and ConfigMaps
// of Helm's configmap driver) and records the references of its manifests as rollback
// targets of that release revision.
func (s *scan) scanHelmReleases(ctx context.Context) error {
	opts := metav1.ListOptions{LabelSelector: helmOwnerSelector, FieldSelector: fields.OneTermEqualSelector("type", helmSecretType).String(), Limit: firstPage}
	for {
		l, err := s.client.CoreV1().Secrets(s.ns).List(ctx, opts)
		if err != nil {
			return err
		}
		for i := range l.Items {
			sec := &l.Items[i]
			s.helmRevision(sec, "Secret", sec.Data["release"])
			sec.Data = nil
		}
		if l.Continue == "" {
			break
		}
		opts.Continue, opts.Limit = l.Continue, helmPage
	}
	return nil
}

// scanHelmConfigMaps reads the releases Helm's configmap driver stores.
func (s *scan) scanHelmConfigMaps(ctx context.Context) error {
	opts := metav1.ListOptions{LabelSelector: helmOwnerSelector, Limit: firstPage}
	for {
		l, err := s.client.CoreV1().ConfigMaps(s.ns).List(ctx, opts)
		if err != nil {
			return err
		}
		for i := range l.Items {
			cm := &l.Items[i]
			if strings.HasPrefix(cm.Name, "sh.helm.release.v1.") {
				s.helmRevision(cm, "ConfigMap", []byte(cm.Data["release"]))
			}
			cm.Data = nil
		}
		if l.Continue == "" {
			return nil
		}
		opts.Continue, opts.Limit = l.Continue, helmPage
	}
}

// helmRevision records the references of one stored revision; a revision that cannot
// be decoded makes the search incomplete.
func (s *scan) helmRevision(meta metav1.Object, kind string, data []byte) {
	rel, err := decodeHelmRelease(data)
	if err != nil {
		s.mu.Lock()
		s.notChecked = append(s.notChecked, NotChecked{Kind: "Helm release", Namespace: meta.GetNamespace(),
			Reason: fmt.Sprintf("cannot read the stored release %s: %v", meta.GetName(), err)})
		s.mu.Unlock()
		return
	}
	ns := rel.Namespace
	if ns == "" {
		ns = meta.GetNamespace()
	}
	var found []Reference
	manifests := []string{rel.Manifest}
	for _, h := range rel.Hooks {
		manifests = append(manifests, h.Manifest)
	}
	for _, m := range manifests {
		err := walkManifest(m, func(obj secretref.Node, objKind, objName, objNS string) {
			if objNS == "" {
				objNS = ns
			}
			kinds.Walk(objKind, obj, func(r secretref.Ref) bool {
				if !s.match.match(r.Name) {
					return true
				}
				found = append(found, Reference{
					Path: "manifest[" + objKind + "/" + objName + "]." + r.Path, Secret: r.Name,
					SecretNamespace: secretNamespace(r, objNS), Style: r.Style, Optional: r.Optional, Keys: r.Keys, Container: r.Container,
				})
				return true
			})
		})
		if err != nil {
			s.mu.Lock()
			s.notChecked = append(s.notChecked, NotChecked{Kind: "Helm release", Namespace: meta.GetNamespace(),
				Reason: fmt.Sprintf("cannot read the manifest of the stored release %s: %v", meta.GetName(), err)})
			s.mu.Unlock()
		}
	}
	rel.Manifest, rel.Hooks = "", nil
	if len(found) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	self := ObjectRef{Kind: kind, APIVersion: "v1", Namespace: s.strs.str(meta.GetNamespace()), Name: meta.GetName(), UID: meta.GetUID()}
	owners := []ObjectRef{{Kind: helmReleaseKind.kind, APIVersion: helmReleaseKind.apiVersion, Namespace: self.Namespace, Name: rel.Name}}
	for _, r := range found {
		if s.ns != "" && r.SecretNamespace != "" && r.SecretNamespace != s.ns {
			continue
		}
		r.Object, r.Owners, r.Role, r.Revision = self, owners, RoleRollbackTarget, strconv.FormatInt(rel.Version, 10)
		r.Path, r.Secret, r.SecretNamespace = s.strs.str(r.Path), s.strs.str(r.Secret), s.strs.str(r.SecretNamespace)
		s.found = append(s.found, r)
		s.pending = append(s.pending, pending{})
	}
}

// decodeHelmRelease decodes data.release: base64, then gzip (Helm compresses; a
// release stored uncompressed is plain JSON), then the fields rotor reads.
func decodeHelmRelease(data []byte) (*helmRelease, error) {
	if len(data) == 0 {
		return nil, errors.New("no release data")
	}
	raw := make([]byte, base64.StdEncoding.DecodedLen(len(data)))
	n, err := base64.StdEncoding.Decode(raw, data)
	if err != nil {
		return nil, fmt.Errorf("not base64: %w", err)
	}
	raw = raw[:n]
	if bytes.HasPrefix(raw, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("not gzip: %w", err)
		}
		raw, err = io.ReadAll(zr)
		if err != nil {
			return nil, fmt.Errorf("not gzip: %w", err)
		}
	}
	var rel helmRelease
	if err := json.Unmarshal(raw, &rel); err != nil {
		return nil, fmt.Errorf("not a release: %w", err)
	}
	clear(raw)
	return &rel, nil
}

// walkManifest calls fn for every object of a multi-document YAML manifest, read
// through the bounded reader: a chart's anchors and aliases cannot make it loop or
// explode. A manifest it refuses is an error (the search is then incomplete).
func walkManifest(manifest string, fn func(obj secretref.Node, kind, name, namespace string)) error {
	docs, err := boundedyaml.Decode("manifest", []byte(manifest), boundedyaml.ManifestDefaults)
	if err != nil {
		return err
	}
	for _, doc := range docs {
		obj := secretref.YAMLNode(doc)
		meta, _ := obj.Get("metadata")
		fn(obj, field(obj, "kind"), field(meta, "name"), field(meta, "namespace"))
	}
	return nil
}
