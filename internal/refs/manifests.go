package refs

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/rotor-project/rotor/internal/boundedyaml"
	"github.com/rotor-project/rotor/internal/kinds"
	"github.com/rotor-project/rotor/internal/secretref"
)

// manifestExtensions are the files read under a directory. JSON is YAML.
var manifestExtensions = map[string]bool{".yaml": true, ".yml": true, ".json": true}

// scanPath reads a manifest file, or every manifest file under a directory (hidden
// directories such as .git are skipped), and adds the references found. Files that are
// not valid YAML, too large, or shaped to explode when read (alias cycles and fan-out)
// are reported in NotChecked with their line; so are special files (FIFOs, devices),
// which are never opened under a directory. A path that does not exist is an error.
func scanPath(ctx context.Context, root, namespace string, m matcher, res *Result) error {
	info, err := os.Stat(root)
	if err != nil {
		return fmt.Errorf("cannot read manifests at %s: %w (give an existing file or directory to --path)", root, err)
	}
	if !info.IsDir() {
		return scanFile(ctx, root, namespace, m, res)
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
		if !manifestExtensions[strings.ToLower(filepath.Ext(path))] {
			return nil
		}
		mode := d.Type()
		if mode&fs.ModeSymlink != 0 {
			if fi, err := os.Stat(path); err == nil {
				mode = fi.Mode().Type()
			}
		}
		if !mode.IsRegular() {
			res.NotChecked = append(res.NotChecked, NotChecked{Kind: "File", File: path, Reason: "not a regular file (a FIFO, socket or device); not read"})
			return nil
		}
		return scanFile(ctx, path, namespace, m, res)
	})
}

// scanFile reads one file with the bounded reader; only the context's end is an error.
func scanFile(ctx context.Context, path, namespace string, m matcher, res *Result) error {
	docs, err := ReadManifests(ctx, path)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		res.NotChecked = append(res.NotChecked, NotChecked{Kind: "File", File: path, Reason: manifestReason(err)})
		return nil
	}
	for _, doc := range docs {
		manifestObject(path, secretref.YAMLNode(doc), namespace, m, res)
	}
	return nil
}

// ReadManifests reads every document of a manifest file, bounded in size and shape by
// boundedyaml.ManifestDefaults.
func ReadManifests(ctx context.Context, path string) ([]*yaml.Node, error) {
	return boundedyaml.DecodeFile(ctx, path, boundedyaml.ManifestDefaults)
}

// manifestReason is the NotChecked reason: the bounded reader's message without the
// file name (NotChecked has its own), with the line.
func manifestReason(err error) string {
	var e *boundedyaml.Error
	if errors.As(err, &e) {
		if e.Line > 0 {
			return fmt.Sprintf("line %d: %s", e.Line, e.Reason)
		}
		return e.Reason
	}
	return err.Error()
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
