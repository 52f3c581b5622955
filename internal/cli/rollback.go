package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/rotor-project/rotor/internal/lock"
	"github.com/rotor-project/rotor/internal/rollout"
)

// RollbackOptions are the inputs of `rotor rollback`.
type RollbackOptions struct {
	Family  string
	To      string
	Timeout time.Duration
	// LeaseDuration is how long the family's lock outlives a run that died.
	LeaseDuration time.Duration
	Yes           bool
	DryRun        dryRunFlag
	Scope         scopeFlags

	streams IOStreams
	f       *factory
}

// NewCmdRollback builds `rotor rollback FAMILY [--to VERSION]`.
func NewCmdRollback(f *factory, name string, streams IOStreams) *cobra.Command {
	o := &RollbackOptions{streams: streams, f: f}
	cmd := &cobra.Command{
		Use:   "rollback FAMILY [--to VERSION] [-n NS | -A] [-l SELECTOR] [--workload KIND/NAME]",
		Short: "Re-point consumers back to the version they used before the last rotation",
		Long: `Re-point every consumer of FAMILY in scope back: by default each to the version it named
before rotor last re-pointed it (recorded on the object), or all to --to VERSION. Every
target is checked to exist first; if one was deleted, nothing changes. All consumers are
re-pointed in parallel; rotor prints the time until every reference was re-pointed and the
time until all were healthy. A second rollback goes forward again.`,
		Example: examples(name, `
{{.}} rollback auth-api-secrets -n payments --yes
{{.}} rollback auth-api-secrets --to auth-api-secrets-20250715100000 --workload deployment/api`),
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeFamilies(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Family = args[0]
			if err := o.Scope.complete(f); err != nil {
				return err
			}
			if err := o.DryRun.validate(); err != nil {
				return err
			}
			if o.Timeout <= 0 {
				return usageErrorf("--timeout must be positive")
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVar(&o.To, "to", "", "Roll every consumer back to this version instead of its recorded previous one")
	cmd.Flags().DurationVar(&o.Timeout, "timeout", 5*time.Minute, "How long the consumers may take to become healthy")
	cmd.Flags().BoolVarP(&o.Yes, "yes", "y", false, "Apply without asking")
	cmd.Flags().DurationVar(&o.LeaseDuration, "lease-duration", lock.DefaultDuration, "How long the family's lock (a Lease, renewed while rotor runs) outlives a run that was killed")
	o.DryRun.add(cmd)
	o.Scope.add(cmd)
	return cmd
}

// Run plans, shows, asks, re-points and reports.
func (o *RollbackOptions) Run(ctx context.Context) error {
	if handled, err := (deference{o.f, o.streams}).retarget(ctx, o.Scope.namespace, o.Family, o.To, true, o.DryRun.strategy != dryRunNone); handled || err != nil {
		return err
	}
	rot, err := newRotation(ctx, o.f, o.streams.ErrOut, o.LeaseDuration)
	if err != nil {
		return err
	}
	plan, err := rot.planner.Plan(ctx, rollout.Request{
		Family: o.Family, Namespace: o.Scope.namespace, To: o.To, Back: true,
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
		fmt.Fprintln(o.streams.Out, "nothing to do: every consumer in scope already names its rollback target")
		return nil
	}
	if !o.Yes && o.f.IsTerminal(o.streams.In) && !confirm(o.streams.In, o.streams.ErrOut, "Roll back?") {
		return errors.New("not applied: declined")
	}
	out, err := rot.runner.Rollback(ctx, plan, rollout.Options{Timeout: o.Timeout})
	if out != nil {
		fmt.Fprintf(o.streams.Out, "all references re-pointed in %s\n", out.RepointedIn.Round(time.Millisecond))
		if err == nil {
			fmt.Fprintf(o.streams.Out, "all consumers healthy after %s\n", out.HealthyIn.Round(time.Millisecond))
		}
	}
	printOutcome(o.streams.Out, "rollback", out, err)
	return err
}
