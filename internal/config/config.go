// Package config reads rotor.yaml: the environments a Secret family moves through (dev,
// staging, production…), the policy of each (strategy, soak, verification Job, analysis,
// post-rollout watch, maintenance windows, retention, what a fleet does on failure), and
// per-family settings and overrides. It turns that file into an effective policy per
// environment and family, each value with where it came from (a built-in default, the
// environment, or a family's override), and answers the time questions the policy asks:
// is an instant inside a maintenance window, when does the next window open, when does
// the current one end, when does a soak end.
//
// Loading is strict: every problem is reported with file:line:column (unknown keys, bad
// durations, unknown strategies or time zones, a `requires` cycle or unknown name,
// duplicate names, values that contradict each other), never replaced by a silent
// default. The package is pure: it reads bytes the caller hands it (Load reads one
// bounded file), and checks that need the outside world — does a kube context exist, is
// an analysis template readable — go through the Checks hooks the caller provides. Time
// is always passed in; nothing here reads a clock.
package config

import (
	"fmt"
	"time"
)

// APIVersion and Kind identify a rotor.yaml document.
const (
	APIVersion = "rotor.dev/v1alpha1"
	Kind       = "Config"
)

// FileName is the file looked for in the working directory, and EnvVar the environment
// variable that names one, when no --config is given.
const (
	FileName = "rotor.yaml"
	EnvVar   = "ROTOR_CONFIG"
)

// Pos is a 1-based line and column in the file.
type Pos struct {
	Line   int `json:"line"`
	Column int `json:"column"`
}

// Setting is a value the file may set. Set is false when the file does not mention it;
// Pos is where the value is.
type Setting[T any] struct {
	Value T
	Set   bool
	Pos   Pos
}

func set[T any](v T, p Pos) Setting[T] { return Setting[T]{Value: v, Set: true, Pos: p} }

// StrategyType is how consumers move to a new version.
type StrategyType string

// The strategies; they are rollout's --strategy values.
const (
	Rolling   StrategyType = "rolling"
	BlueGreen StrategyType = "bluegreen"
)

// OnWindowEnd is what a rotation does when its maintenance window ends before it does.
type OnWindowEnd string

// The window-end policies.
const (
	// WaitForNextWindow stops at the next step boundary and resumes in the next window.
	WaitForNextWindow OnWindowEnd = "wait"
	// FailAtWindowEnd stops at the next step boundary and fails (rolling back).
	FailAtWindowEnd OnWindowEnd = "fail"
)

// FleetRollback is what a fleet (an environment with several contexts) rolls back when
// one of its clusters fails.
type FleetRollback string

// The fleet rollback policies.
const (
	// RollbackCluster rolls back only the cluster that failed; the wave stops there.
	RollbackCluster FleetRollback = "cluster"
	// RollbackFleet also rolls back every cluster of the wave before it.
	RollbackFleet FleetRollback = "fleet"
)

// Verify names a Job template (a Job or CronJob in the namespace) run against the new
// version after the rollout; its success is part of the environment's health.
type Verify struct {
	Job string `json:"job"`
}

// Analysis is a metric analysis (an Argo Rollouts AnalysisTemplate file) and its
// arguments.
type Analysis struct {
	// Template is the file as written in rotor.yaml.
	Template string `json:"template"`
	// Path is Template resolved against the directory of rotor.yaml.
	Path string            `json:"path"`
	Args map[string]string `json:"args,omitempty"`
}

// PolicySpec is what an environment, or a family's override, sets. Blocks of the file
// (strategy, retention) are flattened: each leaf is set, or not, on its own, so an
// override of strategy.pause keeps the environment's strategy.type.
type PolicySpec struct {
	Strategy      Setting[StrategyType]
	Steps         Setting[[]int]
	Pause         Setting[time.Duration]
	Soak          Setting[time.Duration]
	Verify        Setting[Verify]
	Analysis      Setting[Analysis]
	Watch         Setting[time.Duration]
	Windows       Setting[Schedule]
	OnWindowEnd   Setting[OnWindowEnd]
	FleetRollback Setting[FleetRollback]
	Retain        Setting[time.Duration]
	Keep          Setting[int]
}

// Environment is one stage a rotation goes through.
type Environment struct {
	Name string
	Pos  Pos
	// Contexts are kubeconfig contexts, rolled out one after another; empty means the
	// current context.
	Contexts   []string
	Namespaces []string
	Versioned  Setting[bool]
	// Requires are environments that must have run a rotation healthily (for their
	// soak) before this one may start it.
	Requires []string
	Policy   PolicySpec

	contextPos []Pos
	requirePos []Pos
}

// Override is a family's policy for one environment, or for every environment when
// Environment is empty.
type Override struct {
	Environment string
	Pos         Pos
	Policy      PolicySpec
}

// Family is a Secret family rotor.yaml says something about.
type Family struct {
	Name string
	Pos  Pos
	// RequiredKeys are the keys every version must have.
	RequiredKeys Setting[[]string]
	// RotateAfter is the age after which a version is due for rotation; 0 when unset.
	RotateAfter Setting[time.Duration]
	Overrides   []Override
}

// Config is a loaded, validated rotor.yaml.
type Config struct {
	// File is the path it was read from, as given.
	File         string
	Environments []Environment
	Families     []Family
}

// Environment returns the environment named name.
func (c *Config) Environment(name string) (*Environment, bool) {
	for i := range c.Environments {
		if c.Environments[i].Name == name {
			return &c.Environments[i], true
		}
	}
	return nil, false
}

// Family returns the family named name.
func (c *Config) Family(name string) (*Family, bool) {
	for i := range c.Families {
		if c.Families[i].Name == name {
			return &c.Families[i], true
		}
	}
	return nil, false
}

// EnvironmentNames lists the environments in file order.
func (c *Config) EnvironmentNames() []string {
	out := make([]string, len(c.Environments))
	for i, e := range c.Environments {
		out[i] = e.Name
	}
	return out
}

// UnknownEnvironmentError is returned when a caller names an environment rotor.yaml does
// not define.
type UnknownEnvironmentError struct {
	Name  string
	File  string
	Known []string
}

func (e *UnknownEnvironmentError) Error() string {
	return fmt.Sprintf("environment %q is not defined in %s: the environments are %s", e.Name, e.File, quoteList(e.Known))
}
