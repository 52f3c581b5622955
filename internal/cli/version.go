package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/rotor-project/rotor/internal/buildinfo"
)

// VersionOptions are the inputs of `rotor version`.
type VersionOptions struct {
	ClientOnly bool
	Output     string

	streams IOStreams
	f       *factory
}

// versionInfo is the -o json|yaml document of `rotor version`.
type versionInfo struct {
	Rotor  string `json:"rotor"`
	Go     string `json:"go"`
	Server string `json:"server,omitempty"`
}

// NewCmdVersion builds `rotor version`.
func NewCmdVersion(f *factory, name string, streams IOStreams) *cobra.Command {
	o := &VersionOptions{streams: streams, f: f}
	cmd := &cobra.Command{
		Use:     "version [--client] [-o json|yaml]",
		Short:   "Print the rotor and Go versions, and the API server's version",
		Example: examples(name, `{{.}} version --client`),
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().BoolVar(&o.ClientOnly, "client", false, "Print rotor's version only; do not contact the cluster")
	cmd.Flags().StringVarP(&o.Output, "output", "o", "", "Output format: json or yaml (default: plain lines)")
	return cmd
}

// Validate checks the flags.
func (o *VersionOptions) Validate() error {
	switch o.Output {
	case "", "json", "yaml":
		return nil
	default:
		return usageErrorf("unknown output format %q: use json or yaml", o.Output)
	}
}

// Run prints the versions. An unreachable server still prints rotor's own version,
// then fails.
func (o *VersionOptions) Run(ctx context.Context) error {
	info := versionInfo{Rotor: buildinfo.Version, Go: buildinfo.GoVersion()}
	var serverErr error
	if !o.ClientOnly {
		serverErr = func() error {
			client, err := o.f.Client()
			if err != nil {
				return err
			}
			v, err := client.Discovery().ServerVersion()
			if err != nil {
				return fmt.Errorf("cannot read the server version: %w", err)
			}
			info.Server = v.GitVersion
			return nil
		}()
	}
	_ = ctx
	switch o.Output {
	case "json", "yaml":
		if err := printDocument(o.streams.Out, o.Output, info); err != nil {
			return err
		}
	default:
		fmt.Fprintf(o.streams.Out, "rotor:  %s\ngo:     %s\n", info.Rotor, info.Go)
		if info.Server != "" {
			fmt.Fprintf(o.streams.Out, "server: %s\n", info.Server)
		}
	}
	return serverErr
}
