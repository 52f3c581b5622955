package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/rotor-project/rotor/internal/boundedyaml"
	"github.com/rotor-project/rotor/internal/family"
)

// NotFoundError says no rotor.yaml was given or found.
type NotFoundError struct{ Dir string }

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("no %s in %s and %s is not set: write one (see docs/environments.md), or name it with %s", FileName, e.Dir, EnvVar, "the --config flag")
}

// Locate decides which file to read: explicit (the --config flag) when given, else the
// variable EnvVar, else FileName in dir if it exists. exists reports whether a path
// exists; getenv reads the environment.
func Locate(explicit string, getenv func(string) string, exists func(string) bool, dir string) (string, error) {
	if explicit != "" {
		return explicit, nil
	}
	if p := getenv(EnvVar); p != "" {
		return p, nil
	}
	p := filepath.Join(dir, FileName)
	if exists(p) {
		return FileName, nil
	}
	return "", &NotFoundError{Dir: dir}
}

// Load reads and validates the file at path: Parse over a bounded read.
func Load(path string) (*Config, error) {
	r, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("cannot read %s: it does not exist (give an existing file to --config or %s)", path, EnvVar)
		}
		return nil, fmt.Errorf("cannot read %s: %w", path, err)
	}
	defer func() { _ = r.Close() }()
	data, err := readBounded(r, maxFileSize)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", path, err)
	}
	return Parse(path, data)
}

// Parse validates data as the rotor.yaml at path (path is used in messages and to
// resolve relative analysis templates). Every problem is returned, as Errors.
func Parse(path string, data []byte) (*Config, error) {
	// The shape first: alias cycles and fan-out are refused with their line before any
	// walk follows an alias (boundedyaml); syntax errors are reported below.
	if _, err := boundedyaml.Decode(path, data, boundedyaml.Defaults); err != nil {
		var be *boundedyaml.Error
		if errors.As(err, &be) && be.Err == nil {
			return nil, Errors{{File: path, Pos: Pos{Line: be.Line, Column: 1}, Msg: be.Reason}}
		}
	}
	d := &decoder{file: path}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, Errors{{File: path, Pos: Pos{Line: 1, Column: 1}, Msg: "the file is empty: it needs apiVersion: " + APIVersion + ", kind: " + Kind + " and environments"}}
		}
		return nil, Errors{syntaxError(path, err)}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, Errors{{File: path, Pos: posOf(&extra), Msg: "a second document: rotor.yaml holds exactly one (remove the ---)"}}
	} else if !errors.Is(err, io.EOF) {
		return nil, Errors{syntaxError(path, err)}
	}
	c := &Config{File: path}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	d.config(root, c, filepath.Dir(path))
	d.crossCheck(c, len(d.errs) == 0)
	if len(d.errs) > 0 {
		return nil, d.errs.sorted()
	}
	return c, nil
}

// syntaxError turns yaml.v3's "yaml: line N: …" into a positioned Error.
func syntaxError(path string, err error) Error {
	msg := err.Error()
	var line int
	var rest string
	if n, _ := fmt.Sscanf(msg, "yaml: line %d:", &line); n == 1 {
		if i := bytes.IndexByte([]byte(msg), ':'); i >= 0 {
			if j := bytes.IndexByte([]byte(msg[i+1:]), ':'); j >= 0 {
				rest = msg[i+1+j+2:]
			}
		}
		return Error{File: path, Pos: Pos{Line: line, Column: 1}, Msg: "not valid YAML: " + rest}
	}
	return Error{File: path, Msg: "not valid YAML: " + msg}
}

var topFields = []string{"apiVersion", "kind", "environments", "families"}

func (d *decoder) config(root *yaml.Node, c *Config, dir string) {
	f, ok := d.fields(root, "", topFields...)
	if !ok {
		return
	}
	if v, ok := f["apiVersion"]; !ok {
		d.errorf(root, "", "apiVersion is missing: the first line should be apiVersion: %s", APIVersion)
	} else if s, ok := d.str(v.val, "apiVersion", APIVersion); ok && s != APIVersion {
		d.errorf(d.resolve(v.val), "apiVersion", "%q is not supported: this rotor reads %s", s, APIVersion)
	}
	if v, ok := f["kind"]; !ok {
		d.errorf(root, "", "kind is missing: add kind: %s", Kind)
	} else if s, ok := d.str(v.val, "kind", Kind); ok && s != Kind {
		d.errorf(d.resolve(v.val), "kind", "%q is not a rotor.yaml document: use kind: %s", s, Kind)
	}
	envs, ok := f["environments"]
	if !ok {
		d.errorf(root, "", "environments are missing: list at least one, e.g. - name: staging, namespaces: [stg]")
	} else {
		listed := d.list(envs.val, "environments", func(i int, n *yaml.Node) {
			if e, ok := d.environment(n, i, dir); ok {
				c.Environments = append(c.Environments, e)
			}
		})
		if listed && isEmptyList(envs.val) {
			d.errorf(envs.key, "environments", "the list is empty: define at least one environment")
		}
	}
	if fams, ok := f["families"]; ok {
		d.list(fams.val, "families", func(i int, n *yaml.Node) {
			if fam, ok := d.family(n, i, dir); ok {
				c.Families = append(c.Families, fam)
			}
		})
	}
}

var environmentFields = append([]string{"name", "contexts", "namespaces", "versioned", "requires"}, policyFields...)

func (d *decoder) environment(n *yaml.Node, i int, dir string) (Environment, bool) {
	path := fmt.Sprintf("environments[%d]", i)
	f, ok := d.fields(n, path, environmentFields...)
	if !ok {
		return Environment{}, false
	}
	n = d.resolve(n)
	e := Environment{Pos: posOf(n)}
	nameF, ok := f["name"]
	if !ok {
		d.unnamed = true
		d.errorf(n, path, "name is missing: every environment needs one, e.g. name: staging")
		return Environment{}, false
	}
	if e.Name, ok = d.str(nameF.val, path+".name", "a name such as staging"); !ok {
		d.unnamed = true
		return Environment{}, false
	}
	if errs := validation.IsDNS1123Label(e.Name); len(errs) > 0 {
		d.errorf(d.resolve(nameF.val), path+".name", "%q is not a valid environment name: use lower-case letters, digits and '-' (a DNS label)", e.Name)
	}
	path = fmt.Sprintf("environments[%s]", e.Name)
	if v, ok := f["contexts"]; ok {
		e.Contexts, e.contextPos, _ = d.names(v.val, path+".contexts", "a kubeconfig context name", func(string) string { return "" })
	}
	if v, ok := f["namespaces"]; ok {
		var listed bool
		e.Namespaces, _, listed = d.names(v.val, path+".namespaces", "a namespace", dnsLabel)
		if listed && isEmptyList(v.val) {
			d.errorf(v.key, path+".namespaces", "the list is empty: name the namespaces of %s", e.Name)
		}
	} else {
		d.errorf(n, path, "namespaces are missing: name the namespaces this environment is, e.g. namespaces: [stg]")
	}
	if v, ok := f["versioned"]; ok {
		if b, ok := d.boolean(v.val, path+".versioned"); ok {
			e.Versioned = set(b, posOf(d.resolve(v.val)))
		}
	}
	if v, ok := f["requires"]; ok {
		e.Requires, e.requirePos, _ = d.names(v.val, path+".requires", "an environment name", func(string) string { return "" })
	}
	e.Policy = d.policy(f, path, dir)
	if e.Versioned.Set && !e.Versioned.Value {
		for _, s := range []struct {
			name string
			set  bool
		}{{"strategy", e.Policy.Strategy.Set || e.Policy.Steps.Set || e.Policy.Pause.Set}, {"retention", e.Policy.Retain.Set || e.Policy.Keep.Set}} {
			if s.set {
				d.errorf(f[s.name].key, path+"."+s.name, "%s applies to versioned environments; %s is versioned: false (the dev flow updates the Secret in place and restarts its consumers)", s.name, e.Name)
			}
		}
	}
	return e, true
}

var familyFields = []string{"name", "requiredKeys", "rotateAfter", "overrides"}

func (d *decoder) family(n *yaml.Node, i int, dir string) (Family, bool) {
	path := fmt.Sprintf("families[%d]", i)
	f, ok := d.fields(n, path, familyFields...)
	if !ok {
		return Family{}, false
	}
	n = d.resolve(n)
	fam := Family{Pos: posOf(n)}
	nameF, ok := f["name"]
	if !ok {
		d.errorf(n, path, "name is missing: give the family's name, e.g. name: auth-api-secrets")
		return Family{}, false
	}
	if fam.Name, ok = d.str(nameF.val, path+".name", "a family name"); !ok {
		return Family{}, false
	}
	if err := family.ValidateFamily(fam.Name); err != nil {
		d.errorf(d.resolve(nameF.val), path+".name", "%v", err)
	}
	path = fmt.Sprintf("families[%s]", fam.Name)
	if v, ok := f["requiredKeys"]; ok {
		keys, _, ok := d.names(v.val, path+".requiredKeys", "a Secret key", func(s string) string {
			if errs := validation.IsConfigMapKey(s); len(errs) > 0 {
				return "is not a valid Secret key: use letters, digits, '-', '_' and '.'"
			}
			return ""
		})
		if ok {
			fam.RequiredKeys = set(keys, posOf(d.resolve(v.val)))
		}
	}
	if v, ok := f["rotateAfter"]; ok {
		if dur, ok := d.duration(v.val, path+".rotateAfter"); ok {
			if dur == 0 {
				d.errorf(d.resolve(v.val), path+".rotateAfter", "must be longer than 0: leave it out when versions are not due by age")
			} else {
				fam.RotateAfter = set(dur, posOf(d.resolve(v.val)))
			}
		}
	}
	if v, ok := f["overrides"]; ok {
		d.list(v.val, path+".overrides", func(j int, on *yaml.Node) {
			op := fmt.Sprintf("%s.overrides[%d]", path, j)
			of, ok := d.fields(on, op, append([]string{"environment"}, policyFields...)...)
			if !ok {
				return
			}
			o := Override{Pos: posOf(d.resolve(on))}
			if ev, ok := of["environment"]; ok {
				if o.Environment, ok = d.str(ev.val, op+".environment", "an environment name"); !ok {
					return
				}
			}
			o.Policy = d.policy(of, op, dir)
			fam.Overrides = append(fam.Overrides, o)
		})
	}
	return fam, true
}

func dnsLabel(s string) string {
	if errs := validation.IsDNS1123Label(s); len(errs) > 0 {
		return "is not a valid namespace name: use lower-case letters, digits and '-'"
	}
	return ""
}

// isEmptyList reports whether n (an alias followed) is a list without items.
func isEmptyList(n *yaml.Node) bool {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	return n != nil && n.Kind == yaml.SequenceNode && len(n.Content) == 0
}
