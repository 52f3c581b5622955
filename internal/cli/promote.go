package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/internal/config"
	"github.com/rotor-project/rotor/internal/family"
	"github.com/rotor-project/rotor/internal/journal"
	"github.com/rotor-project/rotor/internal/kube"
	"github.com/rotor-project/rotor/internal/promotion"
)

// PromoteOptions are the inputs of `rotor promote`.
type PromoteOptions struct {
	Family     string
	Env        envFlags
	Values     valueFlags
	Rotation   envRunFlags
	From       string
	BreakGlass bool
	Reason     string

	streams IOStreams
	f       *factory
}

// NewCmdPromote builds `rotor promote FAMILY --env ENV`.
func NewCmdPromote(f *factory, name string, streams IOStreams) *cobra.Command {
	o := &PromoteOptions{streams: streams, f: f}
	cmd := &cobra.Command{
		Use:   "promote FAMILY --env ENV (--from-stdin KEY | --from-file [KEY=]PATH | --from-previous --set KEY) [--rotation ID] [--break-glass --reason TEXT]",
		Short: "Rotate a Secret family in an environment that requires others, once they ran the change healthily",
		Long: `Rotate FAMILY in ENV (as ` + "`rotate`" + ` does) only if every environment ENV requires has a
rotation of FAMILY that succeeded, was not reverted, passed the verification Job and the
analysis its policy asks for, has soaked for its soak since it finished, and is newer than
ENV's last rotation. They are read from the journals in those environments' own clusters.
--rotation ID promotes from that rotation (an ID printed by rotate and history) instead of
the latest.

Otherwise the promotion is refused and nothing changes: every unmet condition is named,
with when the soak ends. --break-glass --reason "…" overrides the gate; the override is
recorded in the rotation's journal with your identity (as the API server authenticates
you), the reason and the conditions it overrode.

Outside all of ENV's maintenance windows it is refused unless --ignore-window (recorded);
a rotation still running when its window ends stops at the next step boundary and waits for
the next window, or fails, as the policy's onWindowEnd says.`,
		Example: examples(name, `
printf %s "$TOKEN" | {{.}} promote auth-api-secrets --env production --from-stdin api-token --yes
printf %s "$TOKEN" | {{.}} promote auth-api-secrets --env production --from-previous --set api-token --rotation staging-20250723110000-1a2b --yes
printf %s "$TOKEN" | {{.}} promote auth-api-secrets --env production --from-stdin api-token --break-glass --reason "INC-4711: token leaked" --yes`),
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeFamilies(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(cmd, args); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	o.Env.add(cmd, "The environment of rotor.yaml to promote to (required); it must require others")
	o.Values.add(cmd)
	o.Rotation.add(cmd)
	cmd.Flags().StringVar(&o.From, "rotation", "", "Promote from this rotation ID of the required environments (default: their latest rotation)")
	cmd.Flags().BoolVar(&o.BreakGlass, "break-glass", false, "Override the promotion gate (needs --reason; recorded with your identity)")
	cmd.Flags().StringVar(&o.Reason, "reason", "", "Why the gate is overridden (with --break-glass; recorded in the journal)")
	return cmd
}

// Complete reads the flags and rotor.yaml.
func (o *PromoteOptions) Complete(cmd *cobra.Command, args []string) error {
	o.Family = args[0]
	if err := family.ValidateFamily(o.Family); err != nil {
		return usageErrorf("%v", err)
	}
	if o.BreakGlass && strings.TrimSpace(o.Reason) == "" {
		return usageErrorf("--break-glass needs --reason \"…\": why the gate is overridden is recorded with your name")
	}
	if !o.BreakGlass && o.Reason != "" {
		return usageErrorf("--reason explains a --break-glass override; without --break-glass it would be recorded nowhere")
	}
	if err := o.Values.complete(cmd); err != nil {
		return err
	}
	if err := o.Rotation.validate(o.f, o.streams, "promote creates a version and re-points workloads"); err != nil {
		return err
	}
	return o.Env.complete(o.f, o.Family)
}

// Run checks the gate and rotates.
func (o *PromoteOptions) Run(ctx context.Context) error {
	pol := o.Env.policy
	switch {
	case !pol.Versioned.Value:
		return usageErrorf("environment %s is unversioned (versioned: false%s): there is nothing to promote; use: rotor rotate %s --env %s", o.Env.Env, policyPos(pol.Versioned), o.Family, o.Env.Env)
	case len(pol.Requires) == 0:
		return usageErrorf("environment %s requires no other environment, so there is nothing to promote from: use rotor rotate %s --env %s", o.Env.Env, o.Family, o.Env.Env)
	}
	in, err := gateInput(ctx, o.f, o.Env.cfg, o.Env.Env, o.Family, o.From)
	if err != nil {
		return err
	}
	d := promotion.Decide(in)
	by, err := whoAmI(ctx, o.f, o.Env.clusters()[0])
	if err != nil {
		return err
	}
	e, err := newEnvRun(ctx, o.f, o.streams, &o.Env, o.Rotation, o.Family, "promote")
	if err != nil {
		return err
	}
	if !d.Allowed() {
		if !o.BreakGlass {
			return gateRefusal(o.Family, o.Env.Env, d)
		}
		at := metav1.NewTime(o.f.Clock.Now())
		var overrode []string
		for _, u := range d.Unmet {
			overrode = append(overrode, u.Reason)
		}
		e.info.BreakGlass = &v1alpha1.Override{By: by, Reason: o.Reason, At: at, Overrode: overrode}
		e.checks = append(e.checks, v1alpha1.ChecklistEntry{Name: "break-glass", At: at, By: by, Detail: fmt.Sprintf("%q; overrode: %s", o.Reason, strings.Join(overrode, "; "))})
		fmt.Fprintf(o.streams.ErrOut, "warning: BREAK-GLASS by %s (%q): the promotion gate is overridden and this is recorded:\n%s\n", by, o.Reason, indent(strings.Join(overrode, "\n")))
	}
	e.info.PromotedFrom = d.Links
	e.checks = append(e.checks, d.Checklist...)
	e.data = func(ctx context.Context, c *kube.Clients, ns string) (*newData, error) {
		return o.Values.data(ctx, o.f, o.streams, c, ns, o.Family)
	}
	if err := e.windowCheck(by); err != nil {
		return err
	}
	return e.run(ctx)
}

// gateRefusal is the error of a refused promotion: every unmet condition, and what to
// do.
func gateRefusal(fam, env string, d promotion.Decision) error {
	var b strings.Builder
	fmt.Fprintf(&b, "promotion of %s to %s refused, nothing was changed: %d condition(s) not met:", fam, env, len(d.Unmet))
	for _, u := range d.Unmet {
		fmt.Fprintf(&b, "\n  - %s", u.Reason)
	}
	if soak := soakOnly(d); !soak.IsZero() {
		fmt.Fprintf(&b, "\nthe soak ends %s: promote then", rfc3339(soak))
	}
	b.WriteString("\nto override in an emergency: --break-glass --reason \"…\" (recorded with your name)")
	return fmt.Errorf("%w", promotionRefused{msg: b.String()})
}

// soakOnly is when the last soak ends, when soaks are all that is missing.
func soakOnly(d promotion.Decision) (end time.Time) {
	for _, u := range d.Unmet {
		if u.SoakEnds.IsZero() {
			return time.Time{}
		}
		if u.SoakEnds.After(end) {
			end = u.SoakEnds
		}
	}
	return end
}

type promotionRefused struct{ msg string }

func (p promotionRefused) Error() string { return p.msg }

// gateInput reads, from each environment's own clusters, the journals the promotion
// gate of env needs: env's and those of every environment it requires.
func gateInput(ctx context.Context, f *factory, cfg *config.Config, env, fam, run string) (promotion.Input, error) {
	in := promotion.Input{Family: fam, Environment: env, Run: run, Now: f.Clock.Now()}
	pol, err := cfg.Policy(env, fam)
	if err != nil {
		return in, err
	}
	if in.Target, err = scopes(ctx, f, pol, fam); err != nil {
		return in, err
	}
	for _, req := range pol.Requires {
		rp, err := cfg.Policy(req, fam)
		if err != nil {
			return in, err
		}
		sc, err := scopes(ctx, f, rp, fam)
		if err != nil {
			return in, err
		}
		in.Requires = append(in.Requires, promotion.Requirement{Environment: req, Soak: rp.Soak.Value,
			Verify: rp.Verify.Value != nil, Analysis: rp.Analysis.Value != nil, Scopes: sc})
	}
	return in, nil
}

// scopes reads the family's journals in every cluster and namespace of an environment.
func scopes(ctx context.Context, f *factory, pol config.Policy, fam string) ([]promotion.Scope, error) {
	contexts := pol.Contexts
	if len(contexts) == 0 {
		contexts = []string{""}
	}
	var out []promotion.Scope
	for _, name := range contexts {
		c, err := f.ClientsFor(name)
		if err != nil {
			return nil, err
		}
		store := &journal.Store{Client: c.Typed, Clock: f.Clock}
		for _, ns := range pol.Namespaces {
			rots, err := store.List(ctx, ns, fam)
			if err != nil {
				return nil, fmt.Errorf("reading the journals of %s in namespace %s (%s, environment %s): %w", fam, ns, clusterName(name), pol.Environment, err)
			}
			out = append(out, promotion.Scope{Context: name, Namespace: ns, Rotations: rots})
		}
	}
	return out, nil
}
