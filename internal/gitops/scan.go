package gitops

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/rotor-project/rotor/internal/boundedyaml"
	"github.com/rotor-project/rotor/internal/family"
	"github.com/rotor-project/rotor/internal/kinds"
	"github.com/rotor-project/rotor/internal/secretref"
)

// manifestExtensions are the files read under a directory. JSON is YAML.
var manifestExtensions = map[string]bool{".yaml": true, ".yml": true, ".json": true}

// maxFileSize bounds one manifest file; bigger ones are reported, not read.
const maxFileSize = 4 << 20

// Scan is what a directory of manifests says about a family.
type Scan struct {
	Root   string
	Family string
	// References name a version of the family; they are what Set rewrites.
	References []Reference
	// Unversioned references name the Secret FAMILY itself; Set leaves them.
	Unversioned []Reference
	// Producers are manifests that define a version (left alone).
	Producers []Location
	// ValuesInGit are Secrets with data or stringData, and secretGenerators with
	// literals: Set refuses while there are any.
	ValuesInGit []Location
	// Skipped are files that were not read, or not parsed: they are left untouched.
	Skipped []Location
	// Files is how many files were read.
	Files int

	files map[string]*sourceFile
}

// sourceFile is one file read and the byte spans of its rewritable references.
type sourceFile struct {
	path  string
	data  []byte
	mode  fs.FileMode
	lines []int
	// spans are the scalars to rewrite, by start offset; refs index Scan.References.
	spans map[int]span
	// unrewritable are references whose bytes cannot be spliced.
	unrewritable []Location
}

type span struct {
	start, end int
	refs       []int
}

// ScanDir reads every manifest file under root (or root itself, if it is a file) and
// finds the references to versions of fam. Hidden directories (.git) are skipped.
func ScanDir(root, fam string) (*Scan, error) {
	if err := family.ValidateFamily(fam); err != nil {
		return nil, err
	}
	info, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("cannot read manifests at %s: %w (give an existing directory)", root, err)
	}
	s := &Scan{Root: root, Family: fam, files: map[string]*sourceFile{}}
	if !info.IsDir() {
		s.readFile(root, info.Mode())
		return s, nil
	}
	var charts []string
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			s.Skipped = append(s.Skipped, Location{File: path, Reason: "cannot read: " + err.Error()})
			return nil
		}
		if d.IsDir() {
			if path != root && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(path, "Chart.yaml")); err == nil {
				charts = append(charts, filepath.Join(path, "templates")+string(filepath.Separator))
			}
			return nil
		}
		if !manifestExtensions[strings.ToLower(filepath.Ext(path))] {
			return nil
		}
		if d.Type()&fs.ModeSymlink != 0 {
			s.Skipped = append(s.Skipped, Location{File: path, Reason: "a symbolic link: not followed, left untouched"})
			return nil
		}
		for _, c := range charts {
			if strings.HasPrefix(path, c) {
				s.skipUnparsed(path, "a Helm template: not parsed, left untouched")
				return nil
			}
		}
		info, err := d.Info()
		if err != nil {
			s.Skipped = append(s.Skipped, Location{File: path, Reason: "cannot read: " + err.Error()})
			return nil
		}
		s.readFile(path, info.Mode())
		return nil
	})
	return s, err
}

// skipUnparsed reports a file left untouched, and where it seems to name a version.
func (s *Scan) skipUnparsed(path, reason string) {
	data, err := readBounded(path)
	if err == nil {
		if line, name := mentionsVersion(data, s.Family); line > 0 {
			reason += fmt.Sprintf("; it mentions %s on line %d: change that by hand", name, line)
			s.Skipped = append(s.Skipped, Location{File: path, Line: line, Reason: reason})
			return
		}
	}
	s.Skipped = append(s.Skipped, Location{File: path, Reason: reason})
}

// mentionsVersion finds the first FAMILY-<14 digits> in data (text search, for a
// message only).
func mentionsVersion(data []byte, fam string) (int, string) {
	prefix := []byte(fam + "-")
	for off := 0; off < len(data); {
		i := bytes.Index(data[off:], prefix)
		if i < 0 {
			return 0, ""
		}
		start := off + i
		end := start + len(prefix) + len(family.TimestampLayout)
		if end <= len(data) {
			if v, ok := family.ParseIn(fam, string(data[start:end])); ok {
				return bytes.Count(data[:start], []byte("\n")) + 1, v.Name()
			}
		}
		off = start + 1
	}
	return 0, ""
}

func readBounded(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("larger than %d MiB", maxFileSize>>20)
	}
	return data, nil
}

// readFile parses one file and records what it says.
func (s *Scan) readFile(path string, mode fs.FileMode) {
	data, err := readBounded(path)
	if err != nil {
		s.Skipped = append(s.Skipped, Location{File: path, Reason: "not read: " + err.Error()})
		return
	}
	s.Files++
	s.parse(path, mode, data)
}

// parse records what the documents of one file say.
func (s *Scan) parse(path string, mode fs.FileMode, data []byte) {
	// Alias cycles and fan-out are refused before any walk follows an alias.
	if _, err := boundedyaml.Decode(path, data, boundedyaml.ManifestDefaults); err != nil {
		var be *boundedyaml.Error
		if errors.As(err, &be) && be.Err == nil {
			s.skipUnparsed(path, fmt.Sprintf("line %d: %s; left untouched", be.Line, be.Reason))
			return
		}
	}
	var docs []*yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			s.skipUnparsed(path, "not valid YAML or JSON (a template?): "+err.Error()+"; left untouched")
			return
		}
		if line := templateLine(&doc); line > 0 {
			s.skipUnparsed(path, fmt.Sprintf("a template (a mapping used as a key on line %d, as {{ … }} parses): not rewritten, left untouched", line))
			return
		}
		docs = append(docs, &doc)
	}
	f := &sourceFile{path: path, data: data, mode: mode, lines: lineStarts(data), spans: map[int]span{}}
	w := &walk{}
	sc := scanner{s: s, f: f, w: w}
	for _, doc := range docs {
		sc.document(documentRoot(doc), frame{}, "")
	}
	if w.exceeded {
		s.Skipped = append(s.Skipped, Location{File: path, Reason: fmt.Sprintf("expands to more than %d nodes through aliases: not read, left untouched", maxVisits)})
		s.dropFile(path)
		return
	}
	s.files[path] = f
}

// dropFile forgets what was found in a file abandoned half-way.
func (s *Scan) dropFile(path string) {
	keep := func(refs []Reference) []Reference {
		out := refs[:0]
		for _, r := range refs {
			if r.File != path {
				out = append(out, r)
			}
		}
		return out
	}
	s.References, s.Unversioned = keep(s.References), keep(s.Unversioned)
}

// scanner walks the documents of one file.
type scanner struct {
	s *Scan
	f *sourceFile
	w *walk
}

// frame maps positions in an embedded document (a patch written as a literal block) to
// the file: line+lineOff, column+colOff. ok is false when no mapping exists (a patch in
// a quoted or folded string): references found there cannot be rewritten.
type frame struct {
	lineOff, colOff int
	embedded        bool
	unmappable      string
}

func (sc *scanner) document(n *yaml.Node, fr frame, via string) {
	n = sc.w.resolve(n)
	if n == nil {
		return
	}
	if n.Kind == yaml.SequenceNode {
		if isJSONPatch(sc.w, n) {
			v := via
			if v == "" {
				v = "JSON 6902 patch"
			}
			sc.jsonPatch(n, ObjectRef{}, fr, v)
		}
		return
	}
	if n.Kind != yaml.MappingNode {
		return
	}
	kind, apiVersion := sc.w.str(n, "kind"), sc.w.str(n, "apiVersion")
	if strings.HasSuffix(kind, "List") {
		if items := sc.w.get(n, "items"); items != nil && items.Kind == yaml.SequenceNode {
			for _, it := range items.Content {
				sc.document(it, fr, via)
			}
			return
		}
	}
	meta := sc.w.get(n, "metadata")
	obj := ObjectRef{Kind: kind, APIVersion: apiVersion, Namespace: sc.w.str(meta, "namespace"), Name: sc.w.str(meta, "name")}
	switch {
	case kind == "Secret" && !fr.embedded:
		sc.secret(n, obj)
		return
	case kind == "ExternalSecret" && sc.isVersion(obj.Name):
		sc.s.Producers = append(sc.s.Producers, Location{File: sc.f.path, Line: sc.outerLine(n, fr), Object: obj,
			Reason: "defines version " + obj.Name + ": a new version is a new ExternalSecret, never an edit of this one"})
		return
	case isKustomization(sc.f.path, kind, apiVersion) && !fr.embedded:
		sc.kustomization(n)
		return
	case kind == "Kustomization" && strings.HasPrefix(apiVersion, "kustomize.toolkit.fluxcd.io/") && !fr.embedded:
		sc.patches(sc.w.get(sc.w.get(n, "spec"), "patches"), "Flux Kustomization spec.patches")
		return
	}
	kinds.Walk(kind, node{n: n, w: sc.w}, func(r secretref.Ref) bool {
		sc.found(r.Name, r.Prefix, r.Path, r.Style, sc.w.scalarOf(r), obj, fr, via)
		return true
	})
}

// secret records a Secret manifest: values in git, or a version defined in git.
func (sc *scanner) secret(n *yaml.Node, obj ObjectRef) {
	for _, field := range []string{"data", "stringData"} {
		if v := sc.w.get(n, field); v != nil && v.Kind == yaml.MappingNode && len(v.Content) > 0 {
			sc.s.ValuesInGit = append(sc.s.ValuesInGit, Location{File: sc.f.path, Line: v.Line, Object: obj, Reason: "a Secret with " + field})
			break
		}
	}
	if sc.isVersion(obj.Name) {
		sc.s.Producers = append(sc.s.Producers, Location{File: sc.f.path, Line: n.Line, Object: obj, Reason: "defines version " + obj.Name})
	}
}

func (sc *scanner) isVersion(name string) bool {
	_, ok := family.ParseIn(sc.s.Family, name)
	return ok
}

// found records one Secret name at a reference place, if it is the family's. The
// scalar holds prefix + name ("namespace/" in an annotation): only the name is spliced.
func (sc *scanner) found(name, prefix, path string, style secretref.Style, scalar *yaml.Node, obj ObjectRef, fr frame, via string) {
	versioned := sc.isVersion(name)
	if !versioned && name != sc.s.Family {
		return
	}
	ref := Reference{File: sc.f.path, Object: obj, Path: path, Secret: name, Style: style, Via: via}
	if scalar != nil {
		ref.Line, ref.Column = scalar.Line+fr.lineOff, scalar.Column+fr.colOff
	}
	if !versioned {
		sc.s.Unversioned = append(sc.s.Unversioned, ref)
		return
	}
	sc.s.References = append(sc.s.References, ref)
	idx := len(sc.s.References) - 1
	fail := func(reason string) {
		sc.f.unrewritable = append(sc.f.unrewritable, Location{File: sc.f.path, Line: ref.Line, Object: obj, Reason: path + ": " + reason})
	}
	switch {
	case scalar == nil:
		fail("the name is not a field of its own")
	case fr.unmappable != "":
		fail(fr.unmappable)
	default:
		sp, err := scalarSpan(sc.f.data, sc.f.lines, ref.Line, ref.Column, scalar)
		if err != nil {
			fail(err.Error())
			return
		}
		if !strings.HasPrefix(scalar.Value, prefix) || scalar.Value[len(prefix):] != name {
			fail(errLocate.Error())
			return
		}
		sp.start += len(prefix)
		prev := sc.f.spans[sp.start]
		sp.refs = append(prev.refs, idx)
		sc.f.spans[sp.start] = sp
	}
}

func (sc *scanner) outerLine(n *yaml.Node, fr frame) int { return n.Line + fr.lineOff }

// sortedSpans are a file's spans in order.
func (f *sourceFile) sortedSpans() []span {
	out := make([]span, 0, len(f.spans))
	for _, sp := range f.spans {
		out = append(out, sp)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].start < out[j].start })
	return out
}

// templateLine finds a mapping key that is itself a mapping or list: what a template
// action such as {{ .Values.name }} parses as. Real manifests never have one. 0 when
// there is none. Aliases are not followed: the walk is linear in the file.
func templateLine(n *yaml.Node) int {
	if n == nil {
		return 0
	}
	if n.Kind == yaml.MappingNode {
		for i := 0; i < len(n.Content); i += 2 {
			if k := n.Content[i]; k.Kind == yaml.MappingNode || k.Kind == yaml.SequenceNode {
				return k.Line
			}
		}
	}
	for _, c := range n.Content {
		if l := templateLine(c); l > 0 {
			return l
		}
	}
	return 0
}
