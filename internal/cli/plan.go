package cli

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rotor-project/rotor/internal/analysis"
	"github.com/rotor-project/rotor/internal/config"
	"github.com/rotor-project/rotor/internal/family"
	"github.com/rotor-project/rotor/internal/promotion"
	"github.com/rotor-project/rotor/internal/refs"
	"github.com/rotor-project/rotor/internal/rotation"
	"github.com/rotor-project/rotor/internal/runbook"
)

// PlanOptions are the inputs of `rotor plan`.
type PlanOptions struct {
	Family  string
	Env     envFlags
	Timeout time.Duration

	streams IOStreams
	f       *factory
}

// NewCmdPlan builds `rotor plan FAMILY --env ENV`.
func NewCmdPlan(f *factory, name string, streams IOStreams) *cobra.Command {
	o := &PlanOptions{streams: streams, f: f}
	cmd := &cobra.Command{
		Use:   "plan FAMILY --env ENV",
		Short: "Print the runbook of the next rotation of a family in an environment, as Markdown",
		Long: `Print the runbook of the next rotation of FAMILY in ENV as Markdown, generated from rotor.yaml
and the cluster now: whether the promotion gate is met (and when the soak ends), the window
the rotation will run in, the commands in order with their concrete names, what is
monitored and for how long, the exact rollback command per cluster and namespace and the
version it returns to, the earliest date cleanup may delete the old version, the references
found now, and the checklist each rotation's journal records. Nothing is changed.`,
		Example: examples(name, `
{{.}} plan auth-api-secrets --env production > runbook.md`),
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeFamilies(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Family = args[0]
			if err := family.ValidateFamily(o.Family); err != nil {
				return usageErrorf("%v", err)
			}
			if err := o.Env.complete(f, o.Family); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	o.Env.add(cmd, "The environment of rotor.yaml to plan the rotation of (required)")
	cmd.Flags().DurationVar(&o.Timeout, "timeout", rotation.DefaultTimeout, "The --timeout the rotation will be run with")
	return cmd
}

// Run gathers the facts and prints the runbook.
func (o *PlanOptions) Run(ctx context.Context) error {
	pol := o.Env.policy
	in := runbook.Input{Family: o.Family, Environment: o.Env.Env, ConfigFile: o.Env.cfg.File, Now: o.f.Clock.Now(), Policy: pol,
		Timeout: envTimeout(pol, o.Timeout)}
	for _, e := range o.Env.cfg.Environments {
		if slices.Contains(e.Requires, o.Env.Env) {
			in.RequiredBy = append(in.RequiredBy, e.Name)
		}
	}
	if len(pol.Requires) > 0 {
		gi, err := gateInput(ctx, o.f, o.Env.cfg, o.Env.Env, o.Family, "")
		if err != nil {
			return err
		}
		d := promotion.Decide(gi)
		in.Gate = &d
	}
	if a := pol.Analysis.Value; a != nil && len(pol.Namespaces) > 0 {
		args, err := analysis.MergeArgs(a.Args, analysis.Facts{Family: o.Family, Version: o.Family + "-YYYYMMDDHHMMSS", Namespace: pol.Namespaces[0]})
		if err != nil {
			return err
		}
		t, err := analysis.Load(ctx, a.Path, args)
		if err != nil {
			return fmt.Errorf("analysis %s%s: %w", a.Template, policyPos(pol.Analysis), err)
		}
		for _, m := range t.Metrics {
			mm := runbook.Metric{Name: m.Name, Interval: m.Interval, Condition: m.SuccessCondition, Provider: providerOf(m.Provider)}
			if m.Count != nil {
				mm.Count = m.Count.String()
			}
			in.Metrics = append(in.Metrics, mm)
		}
	}
	for _, name := range o.Env.clusters() {
		c, err := o.f.ClientsFor(name)
		if err != nil {
			return err
		}
		finder := &refs.Finder{Client: c.Proto, Dynamic: c.Dynamic, Discovery: c.Discovery, Metadata: c.Metadata, Helm: true}
		for _, ns := range pol.Namespaces {
			sc := runbook.Scope{Context: name, Namespace: ns}
			res, err := finder.Find(ctx, refs.Query{Namespace: ns, Family: o.Family})
			if err != nil {
				return fmt.Errorf("%s, namespace %s: %w", clusterName(name), ns, err)
			}
			inUse := map[string]bool{}
			for _, r := range res.References {
				if r.Role != refs.RoleLive || len(r.Owners) > 0 || r.File != "" {
					continue
				}
				inUse[r.Secret] = true
				sc.References = append(sc.References, runbook.Reference{Kind: r.Object.Kind, Name: r.Object.Name, Path: r.Path, Secret: r.Secret})
			}
			sc.InUse = slices.Sorted(maps.Keys(inUse))
			if sc.Latest, err = engineLatest(ctx, c, ns, o.Family); err != nil {
				return err
			}
			_, err = c.Typed.CoreV1().Secrets(ns).Get(ctx, o.Family, metav1.GetOptions{})
			switch {
			case err == nil:
				sc.Unversioned = true
			case !apierrors.IsNotFound(err):
				return err
			}
			in.Scopes = append(in.Scopes, sc)
		}
	}
	_, err := fmt.Fprint(o.streams.Out, runbook.Render(in))
	return err
}

func providerOf(p analysis.Provider) string {
	switch {
	case p.Prometheus != nil:
		return "prometheus"
	case p.Datadog != nil:
		return "datadog"
	case p.Web != nil:
		return "web"
	}
	return "?"
}

// envTimeout is a rotation's deadline in an environment: the flag, or by default 30m
// plus the policy's blue-green pauses and watch.
func envTimeout(p config.Policy, flag time.Duration) time.Duration {
	if flag != rotation.DefaultTimeout {
		return flag
	}
	t := flag
	if p.Strategy.Value == config.BlueGreen {
		t += time.Duration(len(p.Steps.Value)) * p.Pause.Value
	}
	return t + p.Watch.Value
}
