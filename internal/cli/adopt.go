package cli

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rotor-project/rotor/internal/family"
	"github.com/rotor-project/rotor/internal/kube"
)

// AdoptOptions are the inputs of `rotor adopt`.
type AdoptOptions struct {
	Family   string
	Env      envFlags
	Rotation envRunFlags

	streams IOStreams
	f       *factory
}

// NewCmdAdopt builds `rotor adopt FAMILY --env ENV`.
func NewCmdAdopt(f *factory, name string, streams IOStreams) *cobra.Command {
	o := &AdoptOptions{streams: streams, f: f}
	cmd := &cobra.Command{
		Use:   "adopt FAMILY --env ENV",
		Short: "Migrate a team from the one mutable Secret FAMILY to versions: the first version, and every consumer re-pointed to it",
		Long: `The migration to versions: in each namespace (and cluster) of ENV, create the first version
of FAMILY as an immutable copy of the Secret named FAMILY (rotor copies the values inside the
cluster; they are never printed), then re-point every consumer of FAMILY to it by the
environment's strategy, gated like any rotation; a failure returns them to FAMILY. From then
on ` + "`rotate`" + ` and ` + "`promote`" + ` work. The Secret FAMILY itself is left as it is.

The values do not change, so no promotion gate applies; the maintenance windows do (the
consumers restart).`,
		Example: examples(name, `
{{.}} adopt auth-api-secrets --env staging
{{.}} adopt auth-api-secrets --env production --yes`),
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeFamilies(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Family = args[0]
			if err := family.ValidateFamily(o.Family); err != nil {
				return usageErrorf("%v", err)
			}
			if err := o.Rotation.validate(o.f, o.streams, "adopt creates a version and re-points workloads"); err != nil {
				return err
			}
			if err := o.Env.complete(o.f, o.Family); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	o.Env.add(cmd, "The environment of rotor.yaml to adopt versions in (required)")
	o.Rotation.add(cmd)
	return cmd
}

// Run adopts.
func (o *AdoptOptions) Run(ctx context.Context) error {
	pol := o.Env.policy
	if !pol.Versioned.Value {
		return usageErrorf("environment %s is unversioned (versioned: false%s): it keeps the one Secret %s on purpose, so there is nothing to adopt; set versioned: true for it first",
			o.Env.Env, policyPos(pol.Versioned), o.Family)
	}
	e, err := newEnvRun(ctx, o.f, o.streams, &o.Env, o.Rotation, o.Family, "adopt")
	if err != nil {
		return err
	}
	e.adopt = true
	e.data = func(ctx context.Context, c *kube.Clients, ns string) (*newData, error) {
		s, err := c.Typed.CoreV1().Secrets(ns).Get(ctx, o.Family, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil, usageErrorf("there is no Secret %s in namespace %s to adopt; nothing was changed", o.Family, ns)
		}
		if err != nil {
			return nil, fmt.Errorf("reading Secret %s in namespace %q: %w", o.Family, ns, err)
		}
		if len(s.Data) == 0 {
			return nil, usageErrorf("Secret %s in namespace %s has no data, so there is nothing to make a version of; nothing was changed", o.Family, ns)
		}
		return &newData{Data: maps.Clone(s.Data), Type: s.Type, From: o.Family, Copied: slices.Sorted(maps.Keys(s.Data))}, nil
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
