package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rotor-project/rotor/internal/config"
)

// envFlags are --env and --config: the environment of rotor.yaml a command acts in,
// which decides its clusters, namespaces and policy. Shared by rotate, promote, adopt,
// plan, status and history.
type envFlags struct {
	Env    string
	Config configFileFlags

	cfg    *config.Config
	policy config.Policy
}

func (e *envFlags) add(cmd *cobra.Command, usage string) {
	cmd.Flags().StringVar(&e.Env, "env", "", usage)
	e.Config.add(cmd)
	_ = cmd.RegisterFlagCompletionFunc("env", func(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
		cfg, err := config.Load(e.configPath())
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return cfg.EnvironmentNames(), cobra.ShellCompDirectiveNoFileComp
	})
}

func (e *envFlags) configPath() string {
	p, _ := config.Locate(e.Config.Path, getenv, exists, ".")
	return p
}

// complete loads rotor.yaml and the family's effective policy in --env. It refuses -n
// and --context where the environment decides them.
func (e *envFlags) complete(f *factory, fam string) error {
	cfg, err := e.Config.load(f)
	if err != nil {
		return err
	}
	if e.Env == "" {
		return usageErrorf("--env is required: one of the environments of %s (%s)", cfg.File, strings.Join(cfg.EnvironmentNames(), ", "))
	}
	p, err := cfg.Policy(e.Env, fam)
	var unknown *config.UnknownEnvironmentError
	if errors.As(err, &unknown) {
		return usageErrorf("%v (--env)", err)
	}
	if err != nil {
		return err
	}
	if ns := f.ConfigFlags.Namespace; ns != nil && *ns != "" {
		return usageErrorf("-n %s: environment %s names its namespaces in %s (%s); drop -n", *ns, e.Env, cfg.File, strings.Join(p.Namespaces, ", "))
	}
	if c := f.ConfigFlags.Context; c != nil && *c != "" && len(p.Contexts) > 0 {
		return usageErrorf("--context %s: environment %s names its clusters in %s (%s); drop --context", *c, e.Env, cfg.File, strings.Join(p.Contexts, ", "))
	}
	e.cfg, e.policy = cfg, p
	return nil
}

// clusters are the environment's kube contexts in order ("" for the one in use).
func (e *envFlags) clusters() []string {
	if len(e.policy.Contexts) == 0 {
		return []string{""}
	}
	return e.policy.Contexts
}

// fleet reports whether the environment spans several clusters.
func (e *envFlags) fleet() bool { return len(e.policy.Contexts) > 1 }

// clusterName names a context for people: the context, or "the current context".
func clusterName(ctx string) string {
	if ctx == "" {
		return "the current context"
	}
	return "cluster " + ctx
}

// contextFlag is the --context of a command run against ctx ("" when none is needed).
func contextFlag(ctx string) string {
	if ctx == "" {
		return ""
	}
	return " --context " + ctx
}

// policyPos is " (FILE:LINE:COL)" of a value's source, or "" for a default.
func policyPos[T any](v config.Value[T]) string {
	if v.From.Kind == config.FromDefault {
		return ""
	}
	return fmt.Sprintf(" (%s:%d:%d)", v.From.File, v.From.Pos.Line, v.From.Pos.Column)
}
