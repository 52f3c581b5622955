package cli

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/rotor-project/rotor/internal/analysis"
	"github.com/rotor-project/rotor/internal/gate"
	"github.com/rotor-project/rotor/internal/lock"
	"github.com/rotor-project/rotor/internal/rollout"
)

// RolloutOptions are the inputs of `rotor rollout`.
type RolloutOptions struct {
	Family   string
	To       string
	Strategy string
	Steps    string
	Pause    time.Duration
	Timeout  time.Duration
	// LeaseDuration is how long the family's lock outlives a run that died.
	LeaseDuration time.Duration
	NoRollback    bool
	Yes           bool
	DryRun        dryRunFlag
	Scope         scopeFlags
	Analysis      AnalysisFlags
	// AnalysisDuration keeps the analysis evaluating after the last step.
	AnalysisDuration time.Duration

	steps   []int
	streams IOStreams
	f       *factory
}

// NewCmdRollout builds `rotor rollout FAMILY --to VERSION|latest`.
func NewCmdRollout(f *factory, name string, streams IOStreams) *cobra.Command {
	o := &RolloutOptions{streams: streams, f: f}
	cmd := &cobra.Command{
		Use:   "rollout FAMILY --to VERSION|latest [-n NS | -A] [-l SELECTOR] [--workload KIND/NAME] [--strategy rolling|bluegreen]",
		Short: "Re-point every consumer of a Secret family to a version, gated by health, rolled back on failure",
		Long: `Re-point every live consumer of any version of FAMILY in scope to VERSION: Deployments,
StatefulSets and DaemonSets roll out by their own update strategy; CronJobs take the new
version at their next run; ServiceAccount imagePullSecrets and Ingress TLS at once. A
running Job keeps its version until it finishes. Only the reference fields change (a JSON
patch per object, field manager "rotor"), and each object records the version it came
from, so "rollback" knows where to go.

The plan is printed first; --dry-run stops there; on a terminal rotor asks before applying
unless --yes. Health is judged per kind and by the pods of the new version
(CrashLoopBackOff, CreateContainerConfigError, image pull errors, restarts). On failure
every consumer goes back to its previous version (unless --no-rollback) and the exit
status is 1.

--strategy bluegreen (Deployments only) creates a green copy of each Deployment on the new
version with the same pod labels, and at each of --steps scales green to that share of the
replicas and blue to the rest (a Service selecting the pod labels sends about that share of
requests to green), waits healthy, pauses, then gates; at 100 the original Deployment is
re-pointed and green is deleted. One rotation per family and namespace runs at a time.`,
		Example: examples(name, `
{{.}} rollout auth-api-secrets --to latest -n payments
{{.}} rollout auth-api-secrets --to auth-api-secrets-20250723110000 --workload deployment/api --dry-run
{{.}} rollout auth-api-secrets --to latest --strategy bluegreen --steps 10,50,100 --pause 5m --yes`),
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeFamilies(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(args); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.To, "to", "", "The version to move to: a version name, or latest")
	fl.StringVar(&o.Strategy, "strategy", "rolling", "rolling (each workload's own rolling update) or bluegreen (Deployments, in steps)")
	fl.StringVar(&o.Steps, "steps", "10,50,100", "bluegreen: the share of replicas on the new version at each step, in percent")
	fl.DurationVar(&o.Pause, "pause", time.Minute, "bluegreen: how long to watch each step once healthy")
	fl.DurationVar(&o.Timeout, "timeout", 5*time.Minute, "How long each step may take to become healthy")
	fl.BoolVar(&o.NoRollback, "no-rollback", false, "On failure, leave consumers on the new version")
	fl.BoolVarP(&o.Yes, "yes", "y", false, "Apply without asking")
	cmd.Flags().DurationVar(&o.LeaseDuration, "lease-duration", lock.DefaultDuration, "How long the family's lock (a Lease, renewed while rotor runs) outlives a run that was killed")
	o.DryRun.add(cmd)
	o.Scope.add(cmd)
	o.Analysis.AddFlags(fl)
	fl.DurationVar(&o.AnalysisDuration, "analysis-duration", 0, "With --analysis: keep evaluating for this long after the last step (a failure still rolls back)")
	_ = cmd.RegisterFlagCompletionFunc("strategy", cobra.FixedCompletions([]string{"rolling", "bluegreen"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// Complete parses the flags.
func (o *RolloutOptions) Complete(args []string) error {
	o.Family = args[0]
	if err := o.Analysis.Complete(); err != nil {
		return err
	}
	if err := o.Scope.complete(o.f); err != nil {
		return err
	}
	if o.Strategy == "bluegreen" {
		for _, s := range strings.Split(o.Steps, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(s, "%")))
			if err != nil {
				return usageErrorf("invalid --steps %q: use percentages like 10,50,100", o.Steps)
			}
			o.steps = append(o.steps, n)
		}
	}
	return nil
}

// Validate checks the flags.
func (o *RolloutOptions) Validate() error {
	if o.To == "" {
		return usageErrorf("--to is required: a version name, or latest (list versions with: versions %s)", o.Family)
	}
	if err := o.DryRun.validate(); err != nil {
		return err
	}
	switch o.Strategy {
	case "rolling":
	case "bluegreen":
		if err := rollout.ValidateSteps(o.steps); err != nil {
			return usageErrorf("%v", err)
		}
	default:
		return usageErrorf("unknown --strategy %q: use rolling or bluegreen", o.Strategy)
	}
	if o.Timeout <= 0 {
		return usageErrorf("--timeout must be positive")
	}
	if o.AnalysisDuration != 0 && o.Analysis.File == "" {
		return usageErrorf("--analysis-duration needs --analysis FILE")
	}
	return nil
}

// Run plans, shows the plan, asks, applies and reports.
func (o *RolloutOptions) Run(ctx context.Context) error {
	if handled, err := (deference{o.f, o.streams}).retarget(ctx, o.Scope.namespace, o.Family, o.To, false, o.DryRun.strategy != dryRunNone); handled || err != nil {
		return err
	}
	rot, err := newRotation(ctx, o.f, o.streams.ErrOut, o.LeaseDuration)
	if err != nil {
		return err
	}
	plan, err := rot.planner.Plan(ctx, rollout.Request{
		Family: o.Family, Namespace: o.Scope.namespace, To: o.To,
		Selector: o.Scope.selector, Workloads: o.Scope.workloads,
	})
	if err != nil {
		return err
	}
	if err := printPlan(o.streams.Out, plan); err != nil {
		return err
	}
	if o.DryRun.strategy != dryRunNone {
		return rot.dryRun(ctx, plan, o.DryRun.strategy, o.streams.ErrOut)
	}
	if len(plan.Active()) == 0 {
		// Possibly a rerun after a crash: finish what is left (leftover green copies,
		// rollouts in progress) under the lock, without re-pointing anything.
		fmt.Fprintf(o.streams.Out, "nothing to re-point: every consumer in scope already names %s; checking that they are healthy\n", plan.Items[0].To)
		_, err := rot.runner.Converge(ctx, plan, rollout.Options{Timeout: o.Timeout})
		return err
	}
	opts := rollout.Options{Timeout: o.Timeout, NoRollback: o.NoRollback}
	if o.Analysis.File != "" {
		// Every query is evaluated once before anything changes: a bad query, an
		// unreachable provider or a condition that does not compile refuses the rotation.
		g, err := o.analysisGate(ctx, plan)
		if err != nil {
			return err
		}
		opts.Gates = []gate.Gate{g}
		if o.AnalysisDuration > 0 {
			opts.PostGates = []gate.Gate{g.WithDuration(o.AnalysisDuration)}
		}
		opts.OnInconclusive = o.askOnInconclusive
	}
	if !o.Yes && o.f.IsTerminal(o.streams.In) && !confirm(o.streams.In, o.streams.ErrOut, "Apply this rotation?") {
		return errors.New("not applied: declined")
	}
	var out *rollout.Outcome
	switch o.Strategy {
	case "bluegreen":
		out, err = rot.runner.BlueGreen(ctx, plan, o.steps, o.Pause, opts)
	default:
		out, err = rot.runner.Rolling(ctx, plan, opts)
	}
	printOutcome(o.streams.Out, "rollout", out, err)
	return err
}

// analysisGate loads --analysis with the rotation's facts and validates every query.
func (o *RolloutOptions) analysisGate(ctx context.Context, plan *rollout.Plan) (*analysis.Gate, error) {
	ns := plan.Namespaces()[0]
	tmpl, err := o.Analysis.Load(analysis.Facts{Family: o.Family, Version: plan.Items[0].To, Namespace: ns})
	if err != nil {
		return nil, err
	}
	g, err := analysis.NewGate(tmpl, o.Analysis.GateOptions(o.f, func(m analysis.Measurement) {
		fmt.Fprintf(o.streams.ErrOut, "analysis: %s #%d = %s (%s) %s\n", m.Metric, m.Index, m.Value, m.Phase, m.Message)
	}))
	if err != nil {
		return nil, usageErrorf("%v", err)
	}
	if err := g.Validate(ctx, gate.Step{Family: o.Family, Namespace: ns, Version: plan.Items[0].To}); err != nil {
		return nil, flatten("the analysis cannot run, so nothing was changed: %s", err)
	}
	return g, nil
}

// askOnInconclusive asks on a terminal whether to go on; without one, an inconclusive
// analysis counts as a failure.
func (o *RolloutOptions) askOnInconclusive(_ context.Context, v gate.Verdict) bool {
	if !o.f.IsTerminal(o.streams.In) {
		fmt.Fprintf(o.streams.ErrOut, "analysis inconclusive (%s): treated as a failure, since there is no terminal to ask\n", v.Message)
		return false
	}
	return confirm(o.streams.In, o.streams.ErrOut, fmt.Sprintf("analysis inconclusive (%s). Continue the rotation? (no rolls back)", v.Message))
}
