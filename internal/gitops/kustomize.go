package gitops

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/rotor-project/rotor/internal/boundedyaml"
	"github.com/rotor-project/rotor/internal/secretref"
)

// kustomizationFiles are the names kustomize reads a kustomization from.
var kustomizationFiles = map[string]bool{"kustomization.yaml": true, "kustomization.yml": true, "Kustomization": true}

func isKustomization(path, kind, apiVersion string) bool {
	if kind == "Kustomization" && strings.HasPrefix(apiVersion, "kustomize.config.k8s.io/") {
		return true
	}
	return kind == "" && apiVersion == "" && kustomizationFiles[filepath.Base(path)]
}

// kustomization reads a kustomization: its inline patches, and its secretGenerators
// (values in git, or a version defined in git). Its resources name files, and its
// replacements and vars name objects it builds, never a version (versions are not in
// git), so neither is rewritten.
func (sc *scanner) kustomization(n *yaml.Node) {
	sc.patches(sc.w.get(n, "patches"), "kustomization patches")
	sc.patches(sc.w.get(n, "patchesJson6902"), "kustomization patchesJson6902")
	if sm := sc.w.get(n, "patchesStrategicMerge"); sm != nil && sm.Kind == yaml.SequenceNode {
		for i, p := range sm.Content {
			p = sc.w.resolve(p)
			if p != nil && p.Kind == yaml.ScalarNode && strings.Contains(p.Value, "\n") {
				sc.inlinePatch(p, ObjectRef{}, fmt.Sprintf("kustomization patchesStrategicMerge[%d]", i))
			}
		}
	}
	if gens := sc.w.get(n, "secretGenerator"); gens != nil && gens.Kind == yaml.SequenceNode {
		for _, g := range gens.Content {
			g = sc.w.resolve(g)
			name := sc.w.str(g, "name")
			obj := ObjectRef{Kind: "Secret", Name: name, Namespace: sc.w.str(g, "namespace")}
			if lits := sc.w.get(g, "literals"); lits != nil && lits.Kind == yaml.SequenceNode && len(lits.Content) > 0 {
				sc.s.ValuesInGit = append(sc.s.ValuesInGit, Location{File: sc.f.path, Line: lits.Line, Object: obj, Reason: "a secretGenerator with literals"})
			}
			if sc.isVersion(name) {
				sc.s.Producers = append(sc.s.Producers, Location{File: sc.f.path, Line: g.Line, Object: obj, Reason: "a secretGenerator that defines version " + name})
			}
		}
	}
}

// patches reads a list of {patch, path, target} entries; path-named patches are files
// of their own under the directory.
func (sc *scanner) patches(list *yaml.Node, via string) {
	if list == nil || list.Kind != yaml.SequenceNode {
		return
	}
	for i, p := range list.Content {
		p = sc.w.resolve(p)
		text := sc.w.get(p, "patch")
		if text == nil || text.Kind != yaml.ScalarNode {
			continue
		}
		t := sc.w.get(p, "target")
		target := ObjectRef{Kind: sc.w.str(t, "kind"), Name: sc.w.str(t, "name"), Namespace: sc.w.str(t, "namespace")}
		sc.inlinePatch(text, target, fmt.Sprintf("%s[%d]", via, i))
	}
}

// inlinePatch parses a patch written as a string and walks it: a strategic-merge patch
// like an object, a JSON 6902 patch operation by operation. Positions inside a literal
// block (|) map line for line onto the file; inside a quoted or folded string they do
// not, and references found there are reported as not rewritable.
func (sc *scanner) inlinePatch(text *yaml.Node, target ObjectRef, via string) {
	fr := sc.blockFrame(text)
	if _, err := boundedyaml.Decode(sc.f.path, []byte(text.Value), boundedyaml.ManifestDefaults); err != nil {
		var be *boundedyaml.Error
		if errors.As(err, &be) && be.Err == nil {
			sc.s.Skipped = append(sc.s.Skipped, Location{File: sc.f.path, Line: text.Line, Reason: via + ": the patch " + be.Reason + "; left untouched"})
			return
		}
	}
	dec := yaml.NewDecoder(strings.NewReader(text.Value))
	for {
		var doc yaml.Node
		if err := dec.Decode(&doc); err != nil {
			if !errors.Is(err, io.EOF) {
				sc.s.Skipped = append(sc.s.Skipped, Location{File: sc.f.path, Line: text.Line, Reason: via + ": the patch is not valid YAML: " + err.Error() + "; left untouched"})
			}
			return
		}
		root := sc.w.resolve(documentRoot(&doc))
		if root != nil && root.Kind == yaml.SequenceNode {
			sc.jsonPatch(root, target, fr, via)
			continue
		}
		sc.document(root, fr, via)
	}
}

// blockFrame maps positions in a literal block scalar's content to the file.
func (sc *scanner) blockFrame(text *yaml.Node) frame {
	fr := frame{embedded: true}
	if text.Style&^yaml.TaggedStyle != yaml.LiteralStyle {
		fr.unmappable = "inside a patch written as a quoted or folded string (write it as a literal block, patch: |)"
		return fr
	}
	start, ok := offset(sc.f.data, sc.f.lines, text.Line, text.Column)
	if !ok {
		fr.unmappable = "inside a patch whose position is unknown"
		return fr
	}
	header := sc.f.data[start:]
	if i := bytes.IndexAny(header, "\r\n"); i >= 0 {
		header = header[:i]
	}
	if bytes.ContainsAny(header, "123456789") {
		fr.unmappable = "inside a literal block with an indentation indicator"
		return fr
	}
	for l := text.Line; l < len(sc.f.lines); l++ {
		line := sc.f.data[sc.f.lines[l]:]
		if i := bytes.IndexAny(line, "\r\n"); i >= 0 {
			line = line[:i]
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		fr.lineOff = text.Line
		fr.colOff = len(line) - len(bytes.TrimLeft(line, " "))
		return fr
	}
	fr.unmappable = "inside an empty patch"
	return fr
}

// isJSONPatch reports whether a sequence is JSON 6902 operations.
func isJSONPatch(w *walk, seq *yaml.Node) bool {
	if len(seq.Content) == 0 {
		return false
	}
	for _, op := range seq.Content {
		op = w.resolve(op)
		if op == nil || op.Kind != yaml.MappingNode || w.str(op, "op") == "" || w.str(op, "path") == "" {
			return false
		}
	}
	return true
}

// jsonPatch reads JSON 6902 operations: a value that is a Secret name at a Secret-name
// path, or Secret references inside a value that is an object (an added envFrom entry,
// volume or container).
func (sc *scanner) jsonPatch(ops *yaml.Node, target ObjectRef, fr frame, via string) {
	for _, op := range ops.Content {
		op = sc.w.resolve(op)
		switch sc.w.str(op, "op") {
		case "add", "replace", "test":
		default:
			continue
		}
		path := sc.w.str(op, "path")
		v := sc.w.get(op, "value")
		if v == nil {
			continue
		}
		if v.Kind == yaml.ScalarNode {
			if style, ok := secretNamePath(path, target.Kind); ok && (v.Tag == "!!str" || v.Tag == "") {
				sc.found(v.Value, "", path, style, v, target, fr, via)
			}
			continue
		}
		sc.fragment(v, path, target, fr, via)
	}
}

// secretNamePath reports whether a JSON pointer ends at a field that names a Secret.
func secretNamePath(p, kind string) (secretref.Style, bool) {
	seg := strings.Split(strings.TrimPrefix(p, "/"), "/")
	n := len(seg)
	last := seg[n-1]
	at := func(i int) string {
		if n-i < 0 {
			return ""
		}
		return seg[n-i]
	}
	isIndex := func(s string) bool { _, err := strconv.Atoi(s); return err == nil || s == "-" }
	switch {
	case last == "secretName" && at(3) == "tls":
		return secretref.IngressTLS, true
	case last == "secretName":
		return secretref.VolumeSecret, true
	case last == "name" && at(2) == "secretKeyRef":
		return secretref.EnvSecretKeyRef, true
	case last == "name" && at(2) == "secretRef":
		return secretref.EnvFromSecretRef, true
	case last == "name" && at(2) == "secret":
		return secretref.ProjectedSecret, true
	case last == "name" && at(3) == "imagePullSecrets" && isIndex(at(2)):
		return secretref.ImagePullSecret, true
	case last == "name" && at(3) == "secrets" && isIndex(at(2)) && kind == "ServiceAccount":
		return secretref.ServiceAccountSecret, true
	case p == "/spec/target/name" && kind == "ExternalSecret":
		return secretref.ExternalSecretTarget, true
	}
	return "", false
}

// fragment finds Secret names inside a patch value that is part of an object: under
// secretRef, secretKeyRef, secret (volumes and projected sources), imagePullSecrets and
// tls. A fragment has no kind, so the places are recognised by their field names.
func (sc *scanner) fragment(v *yaml.Node, path string, target ObjectRef, fr frame, via string) {
	v = sc.w.resolve(v)
	if v == nil {
		return
	}
	switch v.Kind {
	case yaml.SequenceNode:
		for i, it := range v.Content {
			sc.fragment(it, fmt.Sprintf("%s/%d", path, i), target, fr, via)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(v.Content); i += 2 {
			key, val := v.Content[i].Value, sc.w.resolve(v.Content[i+1])
			if val == nil {
				continue
			}
			p := path + "/" + key
			switch key {
			case "secretRef", "secretKeyRef", "secret":
				for _, f := range []string{"name", "secretName"} {
					if s := sc.w.get(val, f); s != nil && s.Kind == yaml.ScalarNode {
						style, _ := secretNamePath(p+"/"+f, target.Kind)
						sc.found(s.Value, "", p+"/"+f, style, s, target, fr, via)
					}
				}
			case "imagePullSecrets", "tls":
				field := map[string]string{"imagePullSecrets": "name", "tls": "secretName"}[key]
				if val.Kind == yaml.SequenceNode {
					for j, it := range val.Content {
						if s := sc.w.get(sc.w.resolve(it), field); s != nil && s.Kind == yaml.ScalarNode {
							ip := fmt.Sprintf("%s/%d/%s", p, j, field)
							style, _ := secretNamePath(ip, target.Kind)
							sc.found(s.Value, "", ip, style, s, target, fr, via)
						}
					}
				}
			default:
				sc.fragment(val, p, target, fr, via)
			}
		}
	}
}
