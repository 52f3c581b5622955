package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"

	"github.com/rotor-project/rotor/internal/buildinfo"
	"github.com/rotor-project/rotor/internal/family"
	"github.com/rotor-project/rotor/internal/identity"
	"github.com/rotor-project/rotor/internal/retention"
	"github.com/rotor-project/rotor/internal/secretdata"
	"github.com/rotor-project/rotor/internal/versions"
)

// CreateOptions are the inputs of `rotor create`.
type CreateOptions struct {
	PrintFlags *genericclioptions.PrintFlags
	DryRun     dryRunFlag

	Family   string
	Type     string
	Literals []string
	Files    []string
	EnvFiles []string
	StdinKey string
	// External makes the version from an external store through ESO.
	External externalFlags
	// ExpiresIn and RotateAfter are policy, recorded as annotations.
	ExpiresIn   string
	RotateAfter string

	expiresIn time.Duration

	namespace string
	sources   []secretdata.Source
	creator   *versions.Creator
	createdBy func(context.Context) string
	cmd       *cobra.Command
	streams   IOStreams
	f         *factory
}

// NewCmdCreate builds `rotor create FAMILY`.
func NewCmdCreate(f *factory, name string, streams IOStreams) *cobra.Command {
	o := &CreateOptions{
		PrintFlags: genericclioptions.NewPrintFlags("created").WithTypeSetter(scheme()),
		streams:    streams,
		f:          f,
	}
	cmd := &cobra.Command{
		Use:   "create FAMILY [--from-stdin KEY] [--from-file [KEY=]PATH] [--from-env-file PATH] [--external --store NAME --remote-key KEY --remote-version V...] [--dry-run=server]",
		Short: "Create a new immutable version FAMILY-YYYYMMDDHHMMSS of a Secret",
		Long: `Create a new version of a Secret family: an immutable Secret named
FAMILY-YYYYMMDDHHMMSS after the current UTC second. Existing versions are never touched,
and an existing name is never overwritten.

Values enter by standard input or files. --from-literal works too, but a value on the
command line lands in your shell history and in the process list.

Prints the new version's name; -o yaml|json prints the Secret with every value redacted.

--external makes the version from an external store (AWS Secrets Manager, Vault, …)
through the External Secrets Operator instead: an ExternalSecret named FAMILY-YYYYMMDDHHMMSS
whose target is the Secret of that name (owned by it, immutable, never refreshed), each
--remote-key pinned to its --remote-version (refused without one: a version's content must
never change). rotor waits for ESO to sync it; if ESO cannot, rotor says why and deletes the
ExternalSecret, so nothing is left. rotor never sees a value. --dry-run=client -o yaml prints
the ExternalSecret, for a repository that commits it instead.`,
		Example: examples(name, `
# A value from standard input (nothing in shell history)
printf %s "$TOKEN" | {{.}} create auth-api-secrets --from-stdin token

# Several keys from files and an env file
{{.}} create auth-api-secrets --from-file tls.crt=./cert.pem --from-file ./tls.key --from-env-file ./app.env

# Check with the API server without creating anything
{{.}} create auth-api-secrets --from-file ./token --dry-run=server -o yaml

# From a store through the External Secrets Operator, every key pinned to a version
{{.}} create auth-api-secrets --external --store vault --remote-key prod/auth/api --property token --remote-version 7 \
    --remote-key prod/auth/region --secret-key region --remote-version 2`),
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeFamilies(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(cmd, args); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Type, "type", string(corev1.SecretTypeOpaque), "Secret type, e.g. Opaque or kubernetes.io/dockerconfigjson")
	fl.StringArrayVar(&o.Literals, "from-literal", nil, "KEY=VALUE; repeatable. Warning: the value lands in shell history and the process list; prefer --from-stdin or --from-file")
	fl.StringArrayVar(&o.Files, "from-file", nil, "[KEY=]PATH: a file's content as one key (default key: the file name); repeatable")
	fl.StringArrayVar(&o.EnvFiles, "from-env-file", nil, "PATH of a file of KEY=VALUE lines; repeatable")
	fl.StringVar(&o.StdinKey, "from-stdin", "", "KEY whose value is read from standard input")
	fl.StringVar(&o.ExpiresIn, "expires-in", "", "When the value stops working, from now (e.g. 90d, 2w, 720h): recorded as rotor.dev/expires-at for the expiry metric and alerts")
	fl.StringVar(&o.RotateAfter, "rotate-after", "", "The family's rotation period (e.g. 30d): a rotation is due once the version in use is older; later versions inherit it (rotor.dev/rotate-after)")
	o.External.add(cmd)
	o.DryRun.add(cmd)
	o.PrintFlags.AddFlags(cmd)
	return cmd
}

// Complete fills the options from the command line and the kubeconfig.
func (o *CreateOptions) Complete(cmd *cobra.Command, args []string) error {
	o.Family = args[0]
	o.cmd = cmd
	var err error
	if o.namespace, err = o.f.Namespace(); err != nil {
		return err
	}
	for _, l := range o.Literals {
		o.sources = append(o.sources, secretdata.Source{Kind: secretdata.Literal, Arg: l})
	}
	for _, p := range o.Files {
		o.sources = append(o.sources, secretdata.Source{Kind: secretdata.File, Arg: p})
	}
	for _, p := range o.EnvFiles {
		o.sources = append(o.sources, secretdata.Source{Kind: secretdata.EnvFile, Arg: p})
	}
	if cmd.Flags().Changed("from-stdin") {
		o.sources = append(o.sources, secretdata.Source{Kind: secretdata.Stdin, Arg: o.StdinKey})
	}
	o.creator = &versions.Creator{Clock: o.f.Clock, RotorVersion: buildinfo.Version}
	o.createdBy = func(ctx context.Context) string {
		fallback := o.f.KubeconfigUser()
		if o.DryRun.strategy == dryRunClient {
			return fallback
		}
		client, err := o.f.Client()
		if err != nil {
			return fallback
		}
		return identity.Who(ctx, client, fallback)
	}
	return nil
}

// Validate checks everything that can be checked without the cluster.
func (o *CreateOptions) Validate() error {
	if err := family.ValidateFamily(o.Family); err != nil {
		return err
	}
	if err := o.DryRun.validate(); err != nil {
		return err
	}
	if err := o.External.validate(o.cmd, len(o.sources)); err != nil {
		return err
	}
	if o.External.Enabled {
		return nil
	}
	if t := strings.TrimSpace(o.Type); t == "" {
		return usageErrorf("--type must not be empty (default Opaque)")
	}
	if len(o.sources) == 0 {
		return usageErrorf("no data: give at least one of --from-stdin KEY, --from-file [KEY=]PATH, --from-env-file PATH or --from-literal KEY=VALUE")
	}
	if o.ExpiresIn != "" {
		d, err := retention.ParseDuration(o.ExpiresIn)
		if err != nil || d <= 0 {
			return usageErrorf("--expires-in %q is not a duration: give one such as 90d, 2w or 720h", o.ExpiresIn)
		}
		o.expiresIn = d
	}
	if o.RotateAfter != "" {
		if d, err := retention.ParseDuration(o.RotateAfter); err != nil || d <= 0 {
			return usageErrorf("--rotate-after %q is not a duration: give one such as 30d, 2w or 720h", o.RotateAfter)
		}
	}
	return nil
}

// Run reads the data, creates the version and prints it.
func (o *CreateOptions) Run(ctx context.Context) error {
	if o.External.Enabled {
		return o.runExternal(ctx)
	}
	data, err := buildData(ctx, o.f, o.streams, o.StdinKey, o.sources)
	if err != nil {
		return sourceError(err)
	}
	rotateAfter := o.RotateAfter
	if rotateAfter == "" && o.DryRun.strategy != dryRunClient {
		meta, err := o.f.Metadata()
		if err != nil {
			return err
		}
		if rotateAfter, err = versions.InheritedRotateAfter(ctx, meta, o.namespace, o.Family); err != nil {
			return err
		}
	}
	req := versions.CreateRequest{
		Namespace:   o.namespace,
		Family:      o.Family,
		Type:        corev1.SecretType(o.Type),
		Data:        data,
		CreatedBy:   o.createdBy(ctx),
		DryRun:      o.DryRun.strategy == dryRunServer,
		Annotations: versions.PolicyAnnotations(o.f.Clock.Now(), o.expiresIn, rotateAfter),
	}
	if err := req.Validate(); err != nil {
		return err
	}
	var secret *corev1.Secret
	if o.DryRun.strategy == dryRunClient {
		secret = o.creator.Object(req, family.NewVersion(o.Family, o.f.Clock.Now()))
	} else {
		client, err := o.f.Client()
		if err != nil {
			return err
		}
		o.creator.Client = client
		res, err := o.creator.Create(ctx, req)
		if err != nil {
			return err
		}
		secret = res.Secret
		if res.Unversioned {
			fmt.Fprintf(o.streams.ErrOut, "note: an unversioned secret %q exists in namespace %q (the dev-environment style); it was left as it is, and workloads that name it still use it\n", o.Family, o.namespace)
		}
	}
	if o.DryRun.strategy != dryRunNone {
		fmt.Fprintf(o.streams.ErrOut, "dry run (%s): nothing was created\n", o.DryRun.strategy)
	}
	return o.print(secret)
}

// sourceError names the flag of a refused source: "--from-literal #2: ...".
func sourceError(err error) error {
	var p *secretdata.Problem
	if !errors.As(err, &p) {
		return err
	}
	return usageErrorf("%s", p.Format(func(k secretdata.Kind) string {
		switch k {
		case secretdata.Literal:
			return "--from-literal"
		case secretdata.File:
			return "--from-file"
		case secretdata.EnvFile:
			return "--from-env-file"
		default:
			return "--from-stdin"
		}
	}))
}

func (o *CreateOptions) print(s *corev1.Secret) error {
	if o.PrintFlags.OutputFormat == nil || *o.PrintFlags.OutputFormat == "" {
		_, err := fmt.Fprintln(o.streams.Out, s.Name)
		return err
	}
	if o.DryRun.strategy != dryRunNone {
		if err := o.PrintFlags.Complete("%s (" + o.DryRun.strategy.String() + " dry run)"); err != nil {
			return err
		}
	}
	printer, err := o.PrintFlags.ToPrinter()
	if err != nil {
		return err
	}
	return printer.PrintObj(redact(s), o.streams.Out)
}
