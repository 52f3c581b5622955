// Package runbook writes the runbook of the next rotation of a Secret family in an
// environment, as Markdown: the commands in order with their concrete names, what is
// monitored and for how long, the exact rollback command and the version it returns
// to, the earliest date cleanup may delete the old version, the window the rotation will
// run in, whether the promotion gate is met, and the references found now. "Document
// the rollback procedure" is generated from the policy and the cluster, not written by
// hand.
//
// The package is pure: the caller gathers the facts (policy, journals, references) and
// passes the time. It never sees a Secret value.
package runbook

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/rotor-project/rotor/internal/config"
	"github.com/rotor-project/rotor/internal/promotion"
)

// Reference is one live reference to the family found now.
type Reference struct {
	Kind, Name, Path, Secret string
}

// Scope is one namespace of one cluster of the environment, as it is now.
type Scope struct {
	// Context is the kube context ("" for the current one).
	Context   string
	Namespace string
	// InUse are the versions (or the unversioned Secret) consumers name now: what a
	// rollback returns them to. Latest is the newest version there.
	InUse  []string
	Latest string
	// Unversioned: the Secret named like the family exists there.
	Unversioned bool
	References  []Reference
}

// Metric summarises one metric of the analysis.
type Metric struct {
	Name, Provider, Interval, Count, Condition string
}

// Input are the facts of a runbook.
type Input struct {
	Family, Environment string
	// ConfigFile is the rotor.yaml the commands name.
	ConfigFile string
	Now        time.Time
	Policy     config.Policy
	// Gate is the promotion gate's answer now (nil: the environment requires none).
	Gate *promotion.Decision
	// Metrics are the analysis' metrics (none without one).
	Metrics []Metric
	Scopes  []Scope
	// Timeout is each namespace's rotation deadline.
	Timeout time.Duration
	// RequiredBy are the environments that require this one.
	RequiredBy []string
}

// Render writes the runbook.
func Render(in Input) string {
	var b strings.Builder
	p := in.Policy
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	verb := "rotate"
	if len(p.Requires) > 0 {
		verb = "promote"
	}
	cfgFlag := ""
	if in.ConfigFile != "" && in.ConfigFile != config.FileName {
		cfgFlag = " --config " + in.ConfigFile
	}
	w("# Runbook: %s `%s` in `%s`\n\n", verb, in.Family, in.Environment)
	w("Generated %s by `rotor plan %s --env %s%s` from %s. It names no Secret value.\n\n", stamp(in.Now), in.Family, in.Environment, cfgFlag, orFile(in.ConfigFile))
	if !p.Versioned.Value {
		renderDev(w, in, cfgFlag)
		return b.String()
	}

	w("## Where\n\n")
	w("| cluster | namespace | in use now (rollback target) | latest version |\n|---|---|---|---|\n")
	for _, s := range in.Scopes {
		w("| %s | %s | %s | %s |\n", cluster(s.Context), s.Namespace, codeList(s.InUse, "nothing names the family"), code(orNone(s.Latest)))
	}
	if len(in.Scopes) > 1 && len(p.Contexts) > 1 {
		w("\nThe clusters roll out one after another, in this order; a failure stops the wave there and rolls back that cluster%s.\n",
			map[bool]string{true: " and the clusters before it (fleetRollback: fleet)", false: " only (fleetRollback: cluster)"}[p.FleetRollback.Value == config.RollbackFleet])
	}

	w("\n## Before you start\n\n")
	start := in.Now
	if in.Gate == nil {
		w("- [x] %s requires no other environment.\n", in.Environment)
	} else {
		for _, l := range in.Gate.Links {
			soaked := !l.SoakEnded.After(in.Now)
			w("- [%s] %s: rotation `%s` in %s (ID `%s`) finished %s, %s %s.\n", tick(soaked), l.Environment, l.Name,
				where(l.Context, l.Namespace), l.Run, stamp(l.Finished.Time), map[bool]string{true: "soaked until", false: "its soak ends"}[soaked], stamp(l.SoakEnded.Time))
		}
		for _, u := range in.Gate.Unmet {
			w("- [ ] %s\n", u.Reason)
		}
		if in.Gate.Allowed() {
			w("- [x] every environment %s requires (%s) ran the change healthily: the promotion gate is met.\n", in.Environment, strings.Join(p.Requires, ", "))
		} else {
			w("- The promotion gate is not met: `promote` refuses until it is (`--break-glass --reason \"…\"` overrides it, recorded with your name).\n")
		}
		if se := in.Gate.SoakEnds; se.After(start) {
			start = se
		}
	}
	s := p.Windows.Value
	if s.Always() {
		w("- Window: none; any time%s.\n", soakNote(start, in.Now))
	} else {
		// The window that is open then, or the next one: the rotation starts at its
		// opening, or at once when it is open already.
		iv := config.EarliestStart(in.Now, start, s)
		if iv.Start.After(start) {
			start = iv.Start
		}
		w("- Window: %s. The rotation may start %s and should finish before %s; a rotation still running then %s.\n", s, stamp(start), stamp(iv.End), onEnd(p.OnWindowEnd.Value))
	}
	for _, sc := range in.Scopes {
		if sc.Unversioned && len(sc.InUse) == 1 && sc.InUse[0] == in.Family {
			w("- [ ] %s still uses the unversioned Secret `%s`: adopt it first (`rotor adopt %s --env %s%s`).\n", where(sc.Context, sc.Namespace), in.Family, in.Family, in.Environment, cfgFlag)
		}
	}

	w("\n## Commands, in order\n\n")
	w("1. Start the rotation (it creates `%s-YYYYMMDDHHMMSS` in each namespace, the UTC second it runs; the value enters on standard input):\n\n", in.Family)
	w("   ```sh\n   printf %%s \"$NEW_VALUE\" | rotor %s %s --env %s%s --from-previous --set KEY\n   ```\n\n", verb, in.Family, in.Environment, cfgFlag)
	w("   It prints the plan, asks, and stays until the rotation ends (its ID is printed at the end; `--yes` skips the question).\n")
	w("2. Follow it (another terminal):\n\n   ```sh\n   rotor status %s --env %s%s\n   ```\n\n", in.Family, in.Environment, cfgFlag)
	w("3. Read its checklist:\n\n   ```sh\n   rotor history %s --env %s%s\n   ```\n", in.Family, in.Environment, cfgFlag)
	for i, e := range in.RequiredBy {
		w("%d. After the soak (%s), %s may follow: `rotor plan %s --env %s%s`.\n", 4+i, duration(p.Soak.Value), e, in.Family, e, cfgFlag)
	}

	w("\n## What is monitored, and for how long\n\n")
	w("- Every consumer's rollout, as `kubectl rollout status` judges it, and the pods of the new version (CrashLoopBackOff, CreateContainerConfigError, image pull errors, restarts fail it at once); a failure rolls back every consumer.\n")
	min := time.Duration(0)
	if p.Strategy.Value == config.BlueGreen {
		steps := make([]string, len(p.Steps.Value))
		for i, x := range p.Steps.Value {
			steps[i] = fmt.Sprintf("%d%%", x)
		}
		w("- Blue-green: %s of the replicas on the new version, each step held %s once healthy.\n", strings.Join(steps, " → "), duration(p.Pause.Value))
		min += time.Duration(len(p.Steps.Value)) * p.Pause.Value
	} else {
		w("- Rolling: every consumer is re-pointed at once and rolls out by its own update strategy.\n")
	}
	if a := p.Analysis.Value; a != nil {
		w("- Analysis `%s` at every step:\n", a.Template)
		for _, m := range in.Metrics {
			w("  - `%s` (%s) every %s, %s measurement(s), success when `%s`\n", m.Name, m.Provider, orDefault(m.Interval, "1m"), orDefault(m.Count, "1"), orDefault(m.Condition, "-"))
		}
		if p.Watch.Value > 0 {
			w("- After the last step the analysis keeps running for %s (the post-rollout watch); a failure still rolls back.\n", duration(p.Watch.Value))
			min += p.Watch.Value
		}
	}
	if v := p.Verify.Value; v != nil {
		w("- After the last step the verification Job `%s` runs against the new version; its failure rolls back.\n", v.Job)
	}
	w("- At least %s per cluster when all is well; each namespace's rotation rolls back if it is not done within %s.\n", duration(min), duration(in.Timeout))
	if p.Soak.Value > 0 {
		w("- Then the soak: %s after it finished, environments that require %s may promote it.\n", duration(p.Soak.Value), in.Environment)
	}

	w("\n## Rollback\n\n")
	w("Automatic on any failure. By hand, after the rotation, per cluster and namespace:\n\n")
	w("| cluster | namespace | command | returns to |\n|---|---|---|---|\n")
	for _, sc := range in.Scopes {
		ctxFlag := ""
		if sc.Context != "" {
			ctxFlag = " --context " + sc.Context
		}
		w("| %s | %s | `rotor rollback %s -n %s%s --yes` | %s |\n", cluster(sc.Context), sc.Namespace, in.Family, sc.Namespace, ctxFlag, codeList(sc.InUse, "-"))
	}

	w("\n## Cleanup\n\n")
	// The rotation ends no sooner than its pauses and watch after its start.
	eligible := start.Add(min).Add(p.Retain.Value)
	w("The versions in use now may be deleted by cleanup from %s at the earliest (retention %s from the rotation's end; the newest %d are always kept), when nothing references them:\n\n",
		stamp(eligible), duration(p.Retain.Value), p.Keep.Value)
	for _, sc := range in.Scopes {
		w("- `rotor cleanup %s -n %s%s %s --dry-run`\n", in.Family, sc.Namespace, map[bool]string{true: " --context " + sc.Context, false: ""}[sc.Context != ""], CleanupFlags(p))
	}
	if hasUnversioned(in.Scopes) {
		w("\nThe unversioned Secret `%s` is never deleted by cleanup.\n", in.Family)
	}

	w("\n## References found now\n\n")
	w("| cluster | namespace | consumer | field | names |\n|---|---|---|---|---|\n")
	n := 0
	for _, sc := range in.Scopes {
		for _, r := range sc.References {
			w("| %s | %s | %s/%s | `%s` | `%s` |\n", cluster(sc.Context), sc.Namespace, r.Kind, r.Name, r.Path, r.Secret)
			n++
		}
	}
	if n == 0 {
		w("| - | - | nothing names the family | - | - |\n")
	}

	w("\n## Checklist (recorded in each rotation's journal)\n\n")
	items := []string{"created", "rollback documented (this runbook, and the rollback command in the journal)"}
	if p.Analysis.Value != nil {
		items = append(items, "monitoring verified (every query evaluated once before anything changes)")
	}
	items = append(items, "window")
	for _, r := range p.Requires {
		items = append(items, r+" deployed", r+" verified", "soak complete")
	}
	items = append(items, "started")
	if p.Strategy.Value == config.BlueGreen {
		for i, x := range p.Steps.Value {
			if x < 100 {
				items = append(items, fmt.Sprintf("step %d (%d%%) passed", i+1, x))
			}
		}
	}
	items = append(items, "all pods on the new version")
	if p.Verify.Value != nil {
		items = append(items, "verified")
	}
	if p.Analysis.Value != nil && p.Watch.Value > 0 {
		items = append(items, "post-rollout watch passed")
	}
	items = append(items, "finished", "old version eligible for cleanup", "old version deleted")
	for _, it := range items {
		w("- [ ] %s\n", it)
	}
	return b.String()
}

// CleanupFlags are the flags that make `rotor cleanup` keep what the policy's retention
// keeps (cleanup reads no rotor.yaml): "--retain 14d --keep 2".
func CleanupFlags(p config.Policy) string {
	return fmt.Sprintf("--retain %s --keep %d", duration(p.Retain.Value), p.Keep.Value)
}

func renderDev(w func(string, ...any), in Input, cfgFlag string) {
	w("%s is unversioned (versioned: false): a rotation replaces the data of the Secret `%s` in place and restarts its consumers. There is no version to roll back to.\n\n", in.Environment, in.Family)
	w("```sh\nprintf %%s \"$NEW_VALUE\" | rotor rotate %s --env %s%s --from-previous --set KEY\n```\n\n", in.Family, in.Environment, cfgFlag)
	w("## References found now\n\n| cluster | namespace | consumer | field | names |\n|---|---|---|---|---|\n")
	for _, sc := range in.Scopes {
		for _, r := range sc.References {
			w("| %s | %s | %s/%s | `%s` | `%s` |\n", cluster(sc.Context), sc.Namespace, r.Kind, r.Name, r.Path, r.Secret)
		}
	}
}

func hasUnversioned(scopes []Scope) bool {
	for _, s := range scopes {
		if s.Unversioned {
			return true
		}
	}
	return false
}

func onEnd(o config.OnWindowEnd) string {
	if o == config.FailAtWindowEnd {
		return "stops at the next step boundary and rolls back (onWindowEnd: fail)"
	}
	return "stops at the next step boundary and waits for the next window (onWindowEnd: wait)"
}

func soakNote(start, now time.Time) string {
	if start.After(now) {
		return ", from " + stamp(start) + " (when the soak ends)"
	}
	return ", from now"
}

func tick(ok bool) string {
	if ok {
		return "x"
	}
	return " "
}

func where(ctx, ns string) string {
	if ctx == "" {
		return "namespace `" + ns + "`"
	}
	return "namespace `" + ns + "` of cluster `" + ctx + "`"
}

func cluster(ctx string) string {
	if ctx == "" {
		return "(current context)"
	}
	return ctx
}

func code(s string) string { return "`" + s + "`" }

func codeList(vs []string, none string) string {
	if len(vs) == 0 {
		return none
	}
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = code(v)
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func orFile(s string) string {
	if s == "" {
		return config.FileName
	}
	return s
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// Period writes a policy's duration as rotor.yaml and cleanup's flags take it: whole
// days as days (14d), else as Go does without zero units (1h15m, 5m).
func Period(d time.Duration) string { return duration(d) }

// duration writes whole days as days (14d), else as Go does without zero units
// (1h15m, 5m).
func duration(d time.Duration) string {
	day := 24 * time.Hour
	if d >= day && d%day == 0 {
		return fmt.Sprintf("%dd", d/day)
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
