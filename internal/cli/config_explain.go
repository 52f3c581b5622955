package cli

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rotor-project/rotor/internal/config"
	"github.com/rotor-project/rotor/internal/retention"
)

// EffectivePolicyList is the -o json|yaml document of `rotor config explain`; see
// docs/output.md.
type EffectivePolicyList struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	File       string            `json:"file"`
	Items      []EffectivePolicy `json:"items"`
}

// EffectivePolicy is the policy of a family in an environment (family "" for the
// environment alone).
type EffectivePolicy struct {
	Environment string   `json:"environment"`
	Family      string   `json:"family"`
	Contexts    []string `json:"contexts"`
	Namespaces  []string `json:"namespaces"`
	Requires    []string `json:"requires"`
	// Settings are in a fixed order; settings that do not apply (steps of a rolling
	// strategy, retention of an unversioned environment) are left out.
	Settings []PolicySetting `json:"settings"`
}

// PolicySetting is one effective value and where it came from.
type PolicySetting struct {
	Name string `json:"name"`
	// Value is a string, number, boolean, list or mapping; null when unset.
	Value any          `json:"value"`
	From  PolicySource `json:"from"`
}

// PolicySource is where a value came from.
type PolicySource struct {
	// Kind is default, environment or family.
	Kind string `json:"kind"`
	// Override is true for a family's override, false for the family's own settings.
	Override bool `json:"override"`
	// Name is the environment or family; "" for a default.
	Name string `json:"name"`
	// Environment is the environment a family's override is for; "" for all.
	Environment string `json:"environment"`
	File        string `json:"file"`
	Line        int    `json:"line"`
	Column      int    `json:"column"`
}

func policySource(s config.Source) PolicySource {
	return PolicySource{Kind: string(s.Kind), Override: s.Override, Name: s.Name, Environment: s.Environment, File: s.File, Line: s.Pos.Line, Column: s.Pos.Column}
}

// formatPeriod prints a duration as rotor.yaml would write it: hours up to a week
// (24h, 36h), whole days beyond (14d, 90d), Go's form otherwise (5m, 1h30m).
func formatPeriod(d time.Duration) string {
	switch {
	case d == 0:
		return "0s"
	case d%retention.Day == 0 && d >= retention.Week:
		return fmt.Sprintf("%dd", d/retention.Day)
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0 && d < time.Hour:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return d.String()
}

func effectivePolicy(p config.Policy) EffectivePolicy {
	out := EffectivePolicy{Environment: p.Environment, Family: p.Family,
		Contexts: nonNil(p.Contexts), Namespaces: nonNil(p.Namespaces), Requires: nonNil(p.Requires)}
	add := func(name string, v any, from config.Source) {
		out.Settings = append(out.Settings, PolicySetting{Name: name, Value: v, From: policySource(from)})
	}
	add("versioned", p.Versioned.Value, p.Versioned.From)
	if p.Versioned.Value {
		add("strategy.type", string(p.Strategy.Value), p.Strategy.From)
		if p.Strategy.Value == config.BlueGreen {
			add("strategy.steps", p.Steps.Value, p.Steps.From)
			add("strategy.pause", formatPeriod(p.Pause.Value), p.Pause.From)
		}
	}
	add("soak", formatPeriod(p.Soak.Value), p.Soak.From)
	var job any
	if p.Verify.Value != nil {
		job = p.Verify.Value.Job
	}
	add("verify.job", job, p.Verify.From)
	var tmpl, args any
	if a := p.Analysis.Value; a != nil {
		tmpl = a.Template
		if len(a.Args) > 0 {
			args = a.Args
		}
	}
	add("analysis.template", tmpl, p.Analysis.From)
	add("analysis.args", args, p.Analysis.From)
	add("watch", formatPeriod(p.Watch.Value), p.Watch.From)
	windows := []string{}
	for _, w := range p.Windows.Value {
		windows = append(windows, w.String())
	}
	add("windows", windows, p.Windows.From)
	add("onWindowEnd", string(p.OnWindowEnd.Value), p.OnWindowEnd.From)
	add("fleetRollback", string(p.FleetRollback.Value), p.FleetRollback.From)
	if p.Versioned.Value {
		add("retention.retain", formatPeriod(p.Retain.Value), p.Retain.From)
		add("retention.keep", p.Keep.Value, p.Keep.From)
	}
	if p.Family != "" {
		add("requiredKeys", nonNil(p.RequiredKeys.Value), p.RequiredKeys.From)
		var after any
		if p.RotateAfter.Value > 0 {
			after = formatPeriod(p.RotateAfter.Value)
		}
		add("rotateAfter", after, p.RotateAfter.From)
	}
	return out
}

// printPolicies prints each policy as a heading and a SETTING/VALUE/FROM table.
func printPolicies(w io.Writer, list EffectivePolicyList) error {
	for i, p := range list.Items {
		if i > 0 {
			fmt.Fprintln(w)
		}
		head := "environment " + p.Environment
		if p.Family != "" {
			head += ", family " + p.Family
		}
		contexts := "the current context"
		if len(p.Contexts) > 0 {
			contexts = strings.Join(p.Contexts, ", ")
		}
		requires := "-"
		if len(p.Requires) > 0 {
			requires = strings.Join(p.Requires, ", ")
		}
		fmt.Fprintf(w, "%s\n  contexts: %s; namespaces: %s; requires: %s\n", head, contexts, strings.Join(p.Namespaces, ", "), requires)
		tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
		fmt.Fprintln(tw, "  SETTING\tVALUE\tFROM")
		for _, s := range p.Settings {
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", s.Name, settingText(s.Value), sourceText(s.From))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

func settingText(v any) string {
	switch x := v.(type) {
	case nil:
		return "-"
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case int:
		return strconv.Itoa(x)
	case []int:
		parts := make([]string, len(x))
		for i, n := range x {
			parts[i] = strconv.Itoa(n)
		}
		return strings.Join(parts, ",")
	case []string:
		if len(x) == 0 {
			return "-"
		}
		return strings.Join(x, "; ")
	case map[string]string:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + "=" + x[k]
		}
		return strings.Join(parts, ",")
	}
	return fmt.Sprint(v)
}

func sourceText(s PolicySource) string {
	switch config.SourceKind(s.Kind) {
	case config.FromEnvironment:
		return fmt.Sprintf("environment %s (%s:%d:%d)", s.Name, s.File, s.Line, s.Column)
	case config.FromFamily:
		if !s.Override {
			return fmt.Sprintf("family %s (%s:%d:%d)", s.Name, s.File, s.Line, s.Column)
		}
		scope := "every environment"
		if s.Environment != "" {
			scope = s.Environment
		}
		return fmt.Sprintf("family %s, override for %s (%s:%d:%d)", s.Name, scope, s.File, s.Line, s.Column)
	}
	return "default"
}
