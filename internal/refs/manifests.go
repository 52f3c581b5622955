package refs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/rotor-project/rotor/internal/kinds"
	"github.com/rotor-project/rotor/internal/secretref"
)

// manifestExtensions are the files read under a directory. JSON is YAML.
var manifestExtensions = map[string]bool{".yaml": true, ".yml": true, ".json": true}

// scanPath reads a manifest file, or every manifest file under a directory (hidden
// directories such as .git are skipped), and adds the references found. Files that are
// not valid YAML are reported in NotChecked; a path that does not exist is an error.
func scanPath(root, namespace string, m matcher, res *Result) error {
	info, err := os.Stat(root)
	if err != nil {
		return fmt.Errorf("cannot read manifests at %s: %w (give an existing file or directory to --path)", root, err)
	}
	if !info.IsDir() {
		scanFile(root, namespace, m, res)
		return nil
	}
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			res.NotChecked = append(res.NotChecked, NotChecked{Kind: "File", File: path, Reason: err.Error()})
			return nil
		}
		if d.IsDir() {
			if path != root && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		if manifestExtensions[strings.ToLower(filepath.Ext(path))] {
			scanFile(path, namespace, m, res)
		}
		return nil
	})
}

func scanFile(path, namespace string, m matcher, res *Result) {
	f, err := os.Open(path)
	if err != nil {
		res.NotChecked = append(res.NotChecked, NotChecked{Kind: "File", File: path, Reason: err.Error()})
		return
	}
	defer func() { _ = f.Close() }()
	dec := yaml.NewDecoder(f)
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			res.NotChecked = append(res.NotChecked, NotChecked{Kind: "File", File: path, Reason: "not valid YAML or JSON: " + err.Error()})
			return
		}
		manifestObject(path, secretref.YAMLNode(&doc), namespace, m, res)
	}
}

// manifestObject adds the references of one document, or of each item of a List.
func manifestObject(path string, obj secretref.Node, namespace string, m matcher, res *Result) {
	kind := field(obj, "kind")
	if strings.HasSuffix(kind, "List") {
		if items, ok := obj.Get("items"); ok {
			for _, it := range items.Items() {
				manifestObject(path, it, namespace, m, res)
			}
			return
		}
	}
	meta, _ := obj.Get("metadata")
	ns, name := field(meta, "namespace"), field(meta, "name")
	if namespace != "" && ns != "" && ns != namespace {
		return
	}
	self := ObjectRef{Kind: kind, APIVersion: field(obj, "apiVersion"), Namespace: ns, Name: name}
	kinds.Walk(kind, obj, func(r secretref.Ref) bool {
		if m.match(r.Name) {
			res.References = append(res.References, Reference{
				Object: self, Path: r.Path, Pointer: r.Pointer, Secret: r.Name, SecretNamespace: secretNamespace(r, ns),
				Style: r.Style, Optional: r.Optional, Keys: r.Keys, Container: r.Container, Role: RoleLive, File: path, Line: r.Line,
			})
		}
		return true
	})
}

func field(n secretref.Node, key string) string {
	if n == nil {
		return ""
	}
	v, ok := n.Get(key)
	if !ok {
		return ""
	}
	s, _ := v.Str()
	return s
}
