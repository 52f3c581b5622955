package config

import (
	"fmt"
	"strings"
)

// crossCheck finds what no single field shows: duplicate names, `requires` naming
// unknown environments or forming a cycle, two environments claiming the same namespace
// of the same cluster, overrides of unknown environments, and effective policies that
// contradict themselves. Names are checked even when fields had problems (unless an
// environment's name could not be read); whole policies only in a file without any.
func (d *decoder) crossCheck(c *Config, clean bool) {
	if d.bomb {
		return
	}
	d.duplicates(c)
	known := c.EnvironmentNames()
	for _, e := range c.Environments {
		if d.unnamed {
			break
		}
		for i, r := range e.Requires {
			switch {
			case r == e.Name:
				d.errs = append(d.errs, Error{File: d.file, Pos: e.requirePos[i], Msg: fmt.Sprintf(
					"environments[%s].requires: %s requires itself: list the environments that must go first", e.Name, e.Name)})
			case !contains(known, r):
				d.errs = append(d.errs, Error{File: d.file, Pos: e.requirePos[i], Msg: fmt.Sprintf(
					"environments[%s].requires: unknown environment %q: the environments are %s", e.Name, r, quoteList(known))})
			}
		}
	}
	if !clean || len(d.errs) > 0 {
		return
	}
	d.cycles(c)
	d.overlaps(c)
	d.overrides(c, known)
	if len(d.errs) > 0 {
		return
	}
	for _, e := range c.Environments {
		d.consistent(c, e.Name, "")
		for _, f := range c.Families {
			d.consistent(c, e.Name, f.Name)
		}
	}
}

// overrides refuses overrides of unknown environments, and two for the same one.
func (d *decoder) overrides(c *Config, known []string) {
	for _, f := range c.Families {
		seen := map[string]Pos{}
		for _, o := range f.Overrides {
			where := fmt.Sprintf("families[%s].overrides", f.Name)
			if o.Environment != "" && !contains(known, o.Environment) {
				d.errs = append(d.errs, Error{File: d.file, Pos: o.Pos, Msg: fmt.Sprintf(
					"%s: unknown environment %q: the environments are %s", where, o.Environment, quoteList(known))})
				continue
			}
			if p, dup := seen[o.Environment]; dup {
				what := "every environment"
				if o.Environment != "" {
					what = "environment " + o.Environment
				}
				d.errs = append(d.errs, Error{File: d.file, Pos: o.Pos, Msg: fmt.Sprintf(
					"%s: a second override for %s (the first is at line %d): merge them into one", where, what, p.Line)})
				continue
			}
			seen[o.Environment] = o.Pos
		}
	}
}

func (d *decoder) duplicates(c *Config) {
	envs := map[string]Pos{}
	for _, e := range c.Environments {
		if p, dup := envs[e.Name]; dup {
			d.errs = append(d.errs, Error{File: d.file, Pos: e.Pos, Msg: fmt.Sprintf(
				"environments: %q is defined twice (first at line %d): environment names are unique", e.Name, p.Line)})
			continue
		}
		envs[e.Name] = e.Pos
	}
	fams := map[string]Pos{}
	for _, f := range c.Families {
		if p, dup := fams[f.Name]; dup {
			d.errs = append(d.errs, Error{File: d.file, Pos: f.Pos, Msg: fmt.Sprintf(
				"families: %q is defined twice (first at line %d): merge the two entries", f.Name, p.Line)})
			continue
		}
		fams[f.Name] = f.Pos
	}
}

// cycles reports each `requires` cycle once, at the entry that closes it.
func (d *decoder) cycles(c *Config) {
	const (
		unvisited = iota
		active
		done
	)
	state := map[string]int{}
	var stack []string
	var visit func(name string)
	visit = func(name string) {
		state[name] = active
		stack = append(stack, name)
		e, _ := c.Environment(name)
		for i, r := range e.Requires {
			switch state[r] {
			case active:
				start := 0
				for j, s := range stack {
					if s == r {
						start = j
					}
				}
				loop := append(append([]string(nil), stack[start:]...), r)
				d.errs = append(d.errs, Error{File: d.file, Pos: e.requirePos[i], Msg: fmt.Sprintf(
					"environments[%s].requires: a cycle: %s — no environment could ever go first; remove one of these requires",
					e.Name, strings.Join(loop, " requires "))})
			case unvisited:
				visit(r)
			}
		}
		stack = stack[:len(stack)-1]
		state[name] = done
	}
	for _, e := range c.Environments {
		if state[e.Name] == unvisited {
			visit(e.Name)
		}
	}
}

// overlaps refuses two environments on the same namespace of the same cluster: a
// rotation in one would be a rotation in the other, and the gate between them void.
func (d *decoder) overlaps(c *Config) {
	type place struct{ context, namespace string }
	owner := map[place]string{}
	for _, e := range c.Environments {
		contexts := e.Contexts
		if len(contexts) == 0 {
			contexts = []string{""}
		}
		for _, ctx := range contexts {
			for _, ns := range e.Namespaces {
				p := place{ctx, ns}
				if other, taken := owner[p]; taken && other != e.Name {
					where := "the current context"
					if ctx != "" {
						where = "context " + ctx
					}
					d.errs = append(d.errs, Error{File: d.file, Pos: e.Pos, Msg: fmt.Sprintf(
						"environments[%s]: namespace %s in %s is already environment %s: an environment's namespaces are its own", e.Name, ns, where, other)})
					continue
				}
				owner[p] = e.Name
			}
		}
	}
}

// consistent checks one effective policy: blue-green settings on a rolling strategy,
// and versioned-only settings in an unversioned environment, come from somewhere.
func (d *decoder) consistent(c *Config, env, fam string) {
	p, err := c.Policy(env, fam)
	if err != nil {
		return
	}
	where := fmt.Sprintf("environment %s", env)
	if fam != "" {
		where = fmt.Sprintf("family %s in environment %s", fam, env)
	}
	// Each problem is reported once, by the policy that introduces it.
	mine := func(s Source) bool {
		return (fam == "" && s.Kind == FromEnvironment) || (fam != "" && s.Kind == FromFamily)
	}
	if p.Strategy.Value != BlueGreen {
		for _, v := range []struct {
			name string
			from Source
		}{{"strategy.steps", p.Steps.From}, {"strategy.pause", p.Pause.From}} {
			if mine(v.from) {
				d.errs = append(d.errs, Error{File: d.file, Pos: v.from.Pos, Msg: fmt.Sprintf(
					"%s: %s applies to the bluegreen strategy only, and the strategy of %s is %s (%s)", v.from.what(), v.name, where, p.Strategy.Value, p.Strategy.From)})
			}
		}
	}
	if !p.Versioned.Value {
		for _, v := range []struct {
			name string
			from Source
		}{{"strategy", p.Strategy.From}, {"strategy.steps", p.Steps.From}, {"strategy.pause", p.Pause.From}, {"retention.retain", p.Retain.From}, {"retention.keep", p.Keep.From}} {
			if fam != "" && v.from.Kind == FromFamily {
				d.errs = append(d.errs, Error{File: d.file, Pos: v.from.Pos, Msg: fmt.Sprintf(
					"%s: %s applies to versioned environments; %s is versioned: false", v.from.what(), v.name, env)})
			}
		}
	}
}

// Checks are the questions about the outside world that validation asks through the
// caller: the CLI answers them from the kubeconfig and the file system.
type Checks struct {
	// ContextExists reports whether the kubeconfig has a context of this name.
	ContextExists func(name string) bool
	// ReadableFile returns nil when the file at path can be read.
	ReadableFile func(path string) error
}

// Check asks the hooks about every context and analysis template the file names and
// returns the problems as Errors. A nil hook skips its check.
func (c *Config) Check(h Checks) error {
	var errs Errors
	for _, e := range c.Environments {
		if h.ContextExists != nil {
			for i, ctx := range e.Contexts {
				if !h.ContextExists(ctx) {
					errs = append(errs, Error{File: c.File, Pos: e.contextPos[i], Msg: fmt.Sprintf(
						"environments[%s].contexts: the kubeconfig has no context %q: add it (kubectl config get-contexts lists them), or pass the kubeconfig that has it", e.Name, ctx)})
				}
			}
		}
		errs = append(errs, c.checkAnalysis(h, fmt.Sprintf("environments[%s]", e.Name), e.Policy)...)
	}
	for _, f := range c.Families {
		for _, o := range f.Overrides {
			errs = append(errs, c.checkAnalysis(h, fmt.Sprintf("families[%s].overrides", f.Name), o.Policy)...)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return errs.sorted()
}

func (c *Config) checkAnalysis(h Checks, where string, p PolicySpec) Errors {
	if h.ReadableFile == nil || !p.Analysis.Set {
		return nil
	}
	if err := h.ReadableFile(p.Analysis.Value.Path); err != nil {
		return Errors{{File: c.File, Pos: p.Analysis.Pos, Msg: fmt.Sprintf(
			"%s.analysis.template: cannot read %s: %v (paths are relative to the directory of %s)", where, p.Analysis.Value.Template, err, c.File)}}
	}
	return nil
}
