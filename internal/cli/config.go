package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rotor-project/rotor/internal/config"
)

// configFileFlags is --config, shared by every command that reads rotor.yaml.
type configFileFlags struct {
	Path string
}

func (c *configFileFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&c.Path, "config", "", "The rotor.yaml to read (default: $"+config.EnvVar+", else ./"+config.FileName+")")
}

// load finds, reads and validates rotor.yaml, and checks its contexts against the
// kubeconfig and its analysis templates on disk.
func (c *configFileFlags) load(f *factory) (*config.Config, error) {
	path, err := config.Locate(c.Path, getenv, exists, ".")
	if err != nil {
		return nil, err
	}
	cfg, err := config.Load(path)
	if err != nil {
		return nil, configProblems(path, err)
	}
	checks := config.Checks{ReadableFile: readable}
	if hasContexts(cfg) {
		raw, err := f.ConfigFlags.ToRawKubeConfigLoader().RawConfig()
		if err != nil {
			return nil, fmt.Errorf("%s names kube contexts, and the kubeconfig cannot be read to check them: %w (set --kubeconfig or KUBECONFIG)", path, err)
		}
		checks.ContextExists = func(name string) bool { _, ok := raw.Contexts[name]; return ok }
	}
	if err := cfg.Check(checks); err != nil {
		return nil, configProblems(path, err)
	}
	return cfg, nil
}

func getenv(k string) string { return os.Getenv(k) }

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

func readable(path string) error {
	fh, err := os.Open(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return pe.Err
		}
		return err
	}
	return fh.Close()
}

func hasContexts(c *config.Config) bool {
	for _, e := range c.Environments {
		if len(e.Contexts) > 0 {
			return true
		}
	}
	return false
}

// configProblems presents the positioned problems of a file as one error: a heading,
// then one problem a line.
func configProblems(path string, err error) error {
	var errs config.Errors
	if !errors.As(err, &errs) {
		return err
	}
	n := "1 problem"
	if len(errs) != 1 {
		n = fmt.Sprintf("%d problems", len(errs))
	}
	return fmt.Errorf("%s is not valid (%s); nothing was done:\n%s", path, n, indent(errs.Error()))
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(s, "\n", "\n  ")
}

// NewCmdConfig builds `rotor config` and its subcommands.
func NewCmdConfig(f *factory, name string, streams IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Check rotor.yaml and explain the policy it gives each environment and family",
		Long: `rotor.yaml (found by --config, $ROTOR_CONFIG, or ./rotor.yaml) describes the environments a
Secret family moves through and the policy of each; see docs/environments.md.`,
	}
	cmd.AddCommand(newCmdConfigValidate(f, name, streams), newCmdConfigExplain(f, name, streams))
	return cmd
}

// ConfigValidateOptions are the inputs of `rotor config validate`.
type ConfigValidateOptions struct {
	Config configFileFlags

	streams IOStreams
	f       *factory
}

func newCmdConfigValidate(f *factory, name string, streams IOStreams) *cobra.Command {
	o := &ConfigValidateOptions{streams: streams, f: f}
	cmd := &cobra.Command{
		Use:   "validate [--config FILE]",
		Short: "Check rotor.yaml: every problem with file:line:column",
		Long: `Check rotor.yaml strictly: unknown keys, bad durations, unknown strategies or time zones, a
requires cycle or unknown name, duplicate names, contexts the kubeconfig does not have and
analysis templates that cannot be read are errors, each reported with file:line:column.
The exit status is 1 when there is any.`,
		Example: examples(name, `
{{.}} config validate
{{.}} config validate --config deploy/rotor.yaml`),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.Run(cmd.Context())
		},
	}
	o.Config.add(cmd)
	return cmd
}

// Run loads and reports.
func (o *ConfigValidateOptions) Run(_ context.Context) error {
	cfg, err := o.Config.load(o.f)
	if err != nil {
		return err
	}
	fmt.Fprintf(o.streams.Out, "%s is valid: %d environment(s) (%s), %d famil%s\n", cfg.File, len(cfg.Environments),
		strings.Join(cfg.EnvironmentNames(), ", "), len(cfg.Families), map[bool]string{true: "y", false: "ies"}[len(cfg.Families) == 1])
	return nil
}

// ConfigExplainOptions are the inputs of `rotor config explain`.
type ConfigExplainOptions struct {
	Config      configFileFlags
	Environment string
	Family      string
	Output      string

	streams IOStreams
	f       *factory
}

func newCmdConfigExplain(f *factory, name string, streams IOStreams) *cobra.Command {
	o := &ConfigExplainOptions{streams: streams, f: f}
	cmd := &cobra.Command{
		Use:   "explain [--env ENV] [--family FAMILY] [-o text|json|yaml]",
		Short: "Show the effective policy of each environment (and family), and where each value came from",
		Long: `Show the effective policy of each environment, and of each family rotor.yaml lists in
each environment: every setting, its value, and where it came from — a built-in default,
the environment, or a family's override (with file:line:column). --env and --family narrow
it; a --family that rotor.yaml does not list shows the environment's policy for it.
-o json and -o yaml print an EffectivePolicyList document (rotor.dev/v1alpha1).`,
		Example: examples(name, `
{{.}} config explain
{{.}} config explain --env production --family auth-api-secrets
{{.}} config explain --env staging -o json`),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	o.Config.add(cmd)
	cmd.Flags().StringVar(&o.Environment, "env", "", "Only this environment")
	cmd.Flags().StringVar(&o.Family, "family", "", "Only this family")
	cmd.Flags().StringVarP(&o.Output, "output", "o", "text", "Output format: text, json or yaml")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"text", "json", "yaml"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// Validate checks the flags.
func (o *ConfigExplainOptions) Validate() error {
	switch o.Output {
	case "text", "json", "yaml":
		return nil
	}
	return usageErrorf("unknown output format %q: use text, json or yaml", o.Output)
}

// Run loads rotor.yaml and prints the policies asked for.
func (o *ConfigExplainOptions) Run(_ context.Context) error {
	cfg, err := o.Config.load(o.f)
	if err != nil {
		return err
	}
	envs := cfg.EnvironmentNames()
	if o.Environment != "" {
		if _, ok := cfg.Environment(o.Environment); !ok {
			return usageErrorf("%v (--env)", &config.UnknownEnvironmentError{Name: o.Environment, File: cfg.File, Known: envs})
		}
		envs = []string{o.Environment}
	}
	var families []string
	if o.Family != "" {
		families = []string{o.Family}
	} else {
		families = append(families, "")
		for _, f := range cfg.Families {
			families = append(families, f.Name)
		}
	}
	list := EffectivePolicyList{APIVersion: "rotor.dev/v1alpha1", Kind: "EffectivePolicyList", File: cfg.File, Items: []EffectivePolicy{}}
	for _, env := range envs {
		for _, fam := range families {
			p, err := cfg.Policy(env, fam)
			if err != nil {
				return err
			}
			list.Items = append(list.Items, effectivePolicy(p))
		}
	}
	if o.Output != "text" {
		return printDocument(o.streams.Out, o.Output, list)
	}
	return printPolicies(o.streams.Out, list)
}
