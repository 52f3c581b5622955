package config

import (
	"fmt"
	"time"
)

// SourceKind says where an effective value came from.
type SourceKind string

// The sources, from weakest to strongest.
const (
	FromDefault     SourceKind = "default"
	FromEnvironment SourceKind = "environment"
	// FromFamily is a family's override (for one environment, or for all).
	FromFamily SourceKind = "family"
)

// Source is where one effective value came from.
type Source struct {
	Kind SourceKind
	// Name is the environment's or family's name; empty for a default.
	Name string
	// Override is true for a family's override, false for the family's own settings
	// (requiredKeys, rotateAfter).
	Override bool
	// Environment is the environment a family override is for; empty when it is for
	// every environment.
	Environment string
	File        string
	Pos         Pos
}

// String is e.g. "default", "environment production (rotor.yaml:17:5)" or
// "family auth-api-secrets, override for production (rotor.yaml:40:7)".
func (s Source) String() string {
	switch s.Kind {
	case FromEnvironment:
		return fmt.Sprintf("environment %s (%s:%d:%d)", s.Name, s.File, s.Pos.Line, s.Pos.Column)
	case FromFamily:
		return fmt.Sprintf("%s (%s:%d:%d)", s.what(), s.File, s.Pos.Line, s.Pos.Column)
	}
	return "default"
}

func (s Source) what() string {
	switch s.Kind {
	case FromEnvironment:
		return fmt.Sprintf("environments[%s]", s.Name)
	case FromFamily:
		if !s.Override {
			return fmt.Sprintf("families[%s]", s.Name)
		}
		if s.Environment == "" {
			return fmt.Sprintf("family %s, override for every environment", s.Name)
		}
		return fmt.Sprintf("family %s, override for %s", s.Name, s.Environment)
	}
	return "default"
}

// Value is an effective value and its source.
type Value[T any] struct {
	Value T
	From  Source
}

// Policy is the effective policy of a family in an environment (or of the environment
// alone, Family empty): what rotate and promote consult. Every value says where it came
// from.
type Policy struct {
	Environment string
	Family      string
	// Contexts, Namespaces and Requires are the environment's own (families cannot
	// override where an environment is or what it follows).
	Contexts   []string
	Namespaces []string
	Requires   []string
	Versioned  Value[bool]
	// RequiredKeys and RotateAfter are the family's (empty and 0 without one).
	RequiredKeys Value[[]string]
	RotateAfter  Value[time.Duration]

	Strategy      Value[StrategyType]
	Steps         Value[[]int]
	Pause         Value[time.Duration]
	Soak          Value[time.Duration]
	Verify        Value[*Verify]
	Analysis      Value[*Analysis]
	Watch         Value[time.Duration]
	Windows       Value[Schedule]
	OnWindowEnd   Value[OnWindowEnd]
	FleetRollback Value[FleetRollback]
	Retain        Value[time.Duration]
	Keep          Value[int]
}

// The built-in defaults: those of `rotor rollout` and `rotor cleanup`.
const (
	DefaultStrategy      = Rolling
	DefaultPause         = time.Minute
	DefaultRetain        = 14 * 24 * time.Hour
	DefaultKeep          = 2
	DefaultOnWindowEnd   = WaitForNextWindow
	DefaultFleetRollback = RollbackCluster
)

// DefaultSteps are blue-green's default steps, in percent.
func DefaultSteps() []int { return []int{10, 50, 100} }

func defaultPolicy(env, fam string) Policy {
	def := Source{Kind: FromDefault}
	return Policy{
		Environment: env, Family: fam,
		Versioned:     Value[bool]{true, def},
		RequiredKeys:  Value[[]string]{nil, def},
		RotateAfter:   Value[time.Duration]{0, def},
		Strategy:      Value[StrategyType]{DefaultStrategy, def},
		Steps:         Value[[]int]{DefaultSteps(), def},
		Pause:         Value[time.Duration]{DefaultPause, def},
		Soak:          Value[time.Duration]{0, def},
		Verify:        Value[*Verify]{nil, def},
		Analysis:      Value[*Analysis]{nil, def},
		Watch:         Value[time.Duration]{0, def},
		Windows:       Value[Schedule]{nil, def},
		OnWindowEnd:   Value[OnWindowEnd]{DefaultOnWindowEnd, def},
		FleetRollback: Value[FleetRollback]{DefaultFleetRollback, def},
		Retain:        Value[time.Duration]{DefaultRetain, def},
		Keep:          Value[int]{DefaultKeep, def},
	}
}

// Policy is the effective policy of family fam in environment env: the defaults, then
// the environment's settings, then the family's override for every environment, then
// its override for env, each replacing only what it sets. fam may be empty (the
// environment alone) or a family rotor.yaml does not list (it gets the environment's
// policy). An unknown env is an *UnknownEnvironmentError.
func (c *Config) Policy(env, fam string) (Policy, error) {
	e, ok := c.Environment(env)
	if !ok {
		return Policy{}, &UnknownEnvironmentError{Name: env, File: c.File, Known: c.EnvironmentNames()}
	}
	p := defaultPolicy(env, fam)
	p.Contexts, p.Namespaces, p.Requires = e.Contexts, e.Namespaces, e.Requires
	if e.Versioned.Set {
		p.Versioned = Value[bool]{e.Versioned.Value, Source{Kind: FromEnvironment, Name: env, File: c.File, Pos: e.Versioned.Pos}}
	}
	apply(&p, e.Policy, Source{Kind: FromEnvironment, Name: env, File: c.File})
	if f, ok := c.Family(fam); ok {
		if f.RequiredKeys.Set {
			p.RequiredKeys = Value[[]string]{f.RequiredKeys.Value, Source{Kind: FromFamily, Name: fam, File: c.File, Pos: f.RequiredKeys.Pos}}
		}
		if f.RotateAfter.Set {
			p.RotateAfter = Value[time.Duration]{f.RotateAfter.Value, Source{Kind: FromFamily, Name: fam, File: c.File, Pos: f.RotateAfter.Pos}}
		}
		for _, scope := range []string{"", env} {
			for _, o := range f.Overrides {
				if o.Environment == scope {
					apply(&p, o.Policy, Source{Kind: FromFamily, Name: fam, Override: true, Environment: scope, File: c.File})
				}
			}
		}
	}
	return p, nil
}

// apply lays the settings of spec over p; src is its source without a position.
func apply(p *Policy, spec PolicySpec, src Source) {
	at := func(pos Pos) Source { s := src; s.Pos = pos; return s }
	over(&p.Strategy, spec.Strategy, at)
	over(&p.Steps, spec.Steps, at)
	over(&p.Pause, spec.Pause, at)
	over(&p.Soak, spec.Soak, at)
	over(&p.Watch, spec.Watch, at)
	over(&p.Windows, spec.Windows, at)
	over(&p.OnWindowEnd, spec.OnWindowEnd, at)
	over(&p.FleetRollback, spec.FleetRollback, at)
	over(&p.Retain, spec.Retain, at)
	over(&p.Keep, spec.Keep, at)
	if spec.Verify.Set {
		v := spec.Verify.Value
		p.Verify = Value[*Verify]{&v, at(spec.Verify.Pos)}
	}
	if spec.Analysis.Set {
		a := spec.Analysis.Value
		p.Analysis = Value[*Analysis]{&a, at(spec.Analysis.Pos)}
	}
}

func over[T any](v *Value[T], s Setting[T], at func(Pos) Source) {
	if s.Set {
		*v = Value[T]{s.Value, at(s.Pos)}
	}
}
