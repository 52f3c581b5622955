package cli

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"

	"github.com/spf13/cobra"

	"github.com/rotor-project/rotor/internal/devflow"
	"github.com/rotor-project/rotor/internal/family"
	"github.com/rotor-project/rotor/internal/health"
	"github.com/rotor-project/rotor/internal/identity"
	"github.com/rotor-project/rotor/internal/kube"
	"github.com/rotor-project/rotor/internal/lock"
	"github.com/rotor-project/rotor/internal/refs"
	"github.com/rotor-project/rotor/internal/rollout"
	"github.com/rotor-project/rotor/internal/rotation"
)

// RotateOptions are the inputs of `rotor rotate`.
type RotateOptions struct {
	Family   string
	Env      envFlags
	Values   valueFlags
	Rotation envRunFlags
	InPlace  bool

	streams IOStreams
	f       *factory
}

// NewCmdRotate builds `rotor rotate FAMILY --env ENV`.
func NewCmdRotate(f *factory, name string, streams IOStreams) *cobra.Command {
	o := &RotateOptions{streams: streams, f: f}
	cmd := &cobra.Command{
		Use:   "rotate FAMILY --env ENV (--from-stdin KEY | --from-file [KEY=]PATH | --from-env-file PATH | --from-previous --set KEY)",
		Short: "Rotate a Secret family in an environment of rotor.yaml: a new version, rolled out by the environment's policy",
		Long: `Rotate FAMILY in ENV as rotor.yaml says (see docs/environments.md).

In a versioned environment: create a new version in each of its namespaces (in each of
its clusters, one after another), and roll it out by the environment's strategy, gated by
health, its analysis and its verification Job, inside its maintenance windows; a failure
rolls back. The batches share one rotation ID, printed at the end; ` + "`history`" + ` shows their
checklists. --from-previous copies the keys of the previous version (inside the cluster:
values never pass through arguments or output) and replaces only the keys given by --set
KEY (the value on standard input) or the other --from-* flags.

An environment that requires others (production after staging) is refused: use
` + "`promote`" + `, which checks that they ran the change healthily first.

In an unversioned environment (versioned: false, the dev flow): replace the data of the
Secret FAMILY in place and restart the workloads that name it. --in-place asks for that
explicitly, and is refused in versioned environments.`,
		Example: examples(name, `
printf %s "$TOKEN" | {{.}} rotate auth-api-secrets --env staging --from-stdin api-token --yes
printf %s "$TOKEN" | {{.}} rotate auth-api-secrets --env staging --from-previous --set api-token --yes
printf %s "$TOKEN" | {{.}} rotate auth-api-secrets --env dev --from-previous --set api-token --yes`),
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeFamilies(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(cmd, args); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	o.Env.add(cmd, "The environment of rotor.yaml to rotate in (required)")
	o.Values.add(cmd)
	o.Rotation.add(cmd)
	cmd.Flags().BoolVar(&o.InPlace, "in-place", false, "The dev flow: replace the data of the Secret FAMILY in place and restart its consumers (unversioned environments only; the default there)")
	return cmd
}

func (r *envRunFlags) add(cmd *cobra.Command) {
	cmd.Flags().BoolVarP(&r.Yes, "yes", "y", false, "Apply without asking")
	cmd.Flags().DurationVar(&r.Timeout, "timeout", rotation.DefaultTimeout, "Deadline of each namespace's rotation (default: 30m plus the policy's blue-green pauses and watch); past it the rotation rolls back")
	cmd.Flags().DurationVar(&r.LeaseDuration, "lease-duration", lock.DefaultDuration, "How long the family's lock outlives a run that was killed")
	cmd.Flags().BoolVar(&r.IgnoreWindow, "ignore-window", false, "Start outside the environment's maintenance windows (recorded with your name); the rotation then ignores them")
}

// validate checks the flags, and that a run that cannot ask was told to go ahead
// (what says what it changes).
func (r *envRunFlags) validate(f *factory, streams IOStreams, what string) error {
	if err := checkDuration("--timeout", r.Timeout, 0, maxTimeout, true); err != nil {
		return err
	}
	if err := requireConsent(f, streams, r.Yes, dryRunNone, what); err != nil {
		return err
	}
	if err := lock.ValidateDuration(r.LeaseDuration); err != nil {
		return usageErrorf("--lease-duration %s: must be between %s and %s", r.LeaseDuration, lock.MinDuration, lock.MaxDuration)
	}
	return nil
}

// Complete reads the flags and rotor.yaml.
func (o *RotateOptions) Complete(cmd *cobra.Command, args []string) error {
	o.Family = args[0]
	if err := family.ValidateFamily(o.Family); err != nil {
		return usageErrorf("%v", err)
	}
	if err := o.Values.complete(cmd); err != nil {
		return err
	}
	if err := o.Rotation.validate(o.f, o.streams, "rotate creates a version and re-points workloads"); err != nil {
		return err
	}
	return o.Env.complete(o.f, o.Family)
}

// Run rotates.
func (o *RotateOptions) Run(ctx context.Context) error {
	pol := o.Env.policy
	if !pol.Versioned.Value {
		return o.devFlow(ctx)
	}
	if o.InPlace {
		return usageErrorf("environment %s is versioned (versioned: %v%s): rotor does not replace the data of %s in place there, because there would be no version to roll back to; the dev flow (--in-place) is for environments with versioned: false. Drop --in-place to rotate to a new version",
			o.Env.Env, pol.Versioned.Value, policyPos(pol.Versioned), o.Family)
	}
	if len(pol.Requires) > 0 {
		return usageErrorf("environment %s requires %s: every change goes there first, so it is not rotated directly; use: rotor promote %s --env %s (it checks that %s ran this change healthily)",
			o.Env.Env, strings.Join(pol.Requires, ", "), o.Family, o.Env.Env, strings.Join(pol.Requires, ", "))
	}
	e, err := newEnvRun(ctx, o.f, o.streams, &o.Env, o.Rotation, o.Family, "rotate")
	if err != nil {
		return err
	}
	e.data = func(ctx context.Context, c *kube.Clients, ns string) (*newData, error) {
		return o.Values.data(ctx, o.f, o.streams, c, ns, o.Family)
	}
	by, err := whoAmI(ctx, o.f, o.Env.clusters()[0])
	if err != nil {
		return err
	}
	if err := e.windowCheck(by); err != nil {
		return err
	}
	return e.run(ctx)
}

// whoAmI is the caller as the API server of a cluster authenticates them.
func whoAmI(ctx context.Context, f *factory, ctxName string) (string, error) {
	c, err := f.ClientsFor(ctxName)
	if err != nil {
		return "", err
	}
	return identity.Who(ctx, c.Typed, f.KubeconfigUser()), nil
}

// devFlow replaces the Secret FAMILY in place in every namespace of the environment and
// restarts its consumers.
func (o *RotateOptions) devFlow(ctx context.Context) error {
	given, err := o.Values.read(ctx, o.f, o.streams)
	if err != nil {
		return err
	}
	start := o.f.Clock.Now()
	say := func(format string, a ...any) {
		fmt.Fprintf(o.streams.ErrOut, "%s  %-32s %s\n", stamp(o.f.Clock.Since(start)), "dev flow", fmt.Sprintf(format, a...))
	}
	for _, name := range o.Env.clusters() {
		c, err := o.f.ClientsFor(name)
		if err != nil {
			return err
		}
		by := identity.Who(ctx, c.Typed, o.f.KubeconfigUser())
		finder := &refs.Finder{Client: c.Proto, Dynamic: c.Dynamic, Discovery: c.Discovery, Metadata: c.Metadata, Helm: true}
		flow := &devflow.Flow{Client: c.Typed, Dynamic: c.Dynamic, Consumers: rollout.RefsFinder{Finder: finder}, Clock: o.f.Clock}
		for _, ns := range o.Env.policy.Namespaces {
			data := maps.Clone(given)
			if o.Values.FromPrevious {
				cur, err := flow.Current(ctx, ns, o.Family)
				if err != nil {
					return err
				}
				if cur == nil {
					return usageErrorf("--from-previous: there is no Secret %s in namespace %s to copy from: give every key instead; nothing was changed", o.Family, ns)
				}
				for k, v := range cur {
					if _, ok := data[k]; !ok {
						data[k] = v
					}
				}
			}
			if missing := missingKeys(o.Env.policy.RequiredKeys.Value, data); len(missing) > 0 {
				return usageErrorf("family %s must have the key(s) %s (requiredKeys%s): add them; nothing was changed", o.Family, strings.Join(missing, ", "), policyPos(o.Env.policy.RequiredKeys))
			}
			res, err := flow.Replace(ctx, ns, o.Family, data, by)
			if err != nil {
				return err
			}
			what := "replaced the data of"
			if res.Created {
				what = "created"
			}
			removed := ""
			if len(res.Removed) > 0 {
				removed = "; removed: " + strings.Join(res.Removed, ", ")
			}
			fmt.Fprintf(o.streams.Out, "%s Secret %s in %s (%s; keys: %s%s)\n", what, o.Family, ns, clusterName(name), strings.Join(res.Keys, ", "), removed)
			restarts, err := flow.Restart(ctx, ns, o.Family)
			if err != nil {
				return err
			}
			if err := o.waitRestarted(ctx, c, restarts, say); err != nil {
				return err
			}
		}
	}
	fmt.Fprintf(o.streams.ErrOut, "note: environment %s is unversioned: there is no previous version to roll back to; versioned environments keep one (rotor adopt %s --env ENV migrates one)\n", o.Env.Env, o.Family)
	return nil
}

// waitRestarted reports the consumers and waits until those restarted are healthy.
func (o *RotateOptions) waitRestarted(ctx context.Context, c *kube.Clients, restarts []devflow.Restart, say func(string, ...any)) error {
	w := &health.Waiter{Client: c.Typed, Dynamic: c.Dynamic, Progress: func(w health.Workload, msg string) { say("%s: %s", w, msg) }}
	ctx, cancel := context.WithTimeout(ctx, o.Rotation.Timeout)
	defer cancel()
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for _, r := range restarts {
		if !r.Restarted {
			fmt.Fprintf(o.streams.Out, "%s %s\n", r.Target, r.Note)
			continue
		}
		fmt.Fprintf(o.streams.Out, "restarted %s\n", r.Target)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w.Wait(ctx, health.Workload{Kind: r.Kind, Namespace: r.Namespace, Name: r.Name}, o.Family); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w (the new data stays: an unversioned Secret has no previous version to go back to)", errRotationFailed, err)
	}
	if len(restarts) == 0 {
		say("no workload names %s: nothing to restart", o.Family)
	}
	return nil
}
