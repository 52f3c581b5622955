package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/rotor-project/rotor/internal/access"
	"github.com/rotor-project/rotor/internal/family"
	"github.com/rotor-project/rotor/internal/identity"
	"github.com/rotor-project/rotor/internal/versions"
)

// VersionsOptions are the inputs of `rotor versions`.
type VersionsOptions struct {
	Family        string
	AllNamespaces bool
	Output        string
	// Adopt names a Secret to make a trusted version of the family.
	Adopt  string
	Yes    bool
	DryRun dryRunFlag

	namespace string
	streams   IOStreams
	f         *factory
}

// NewCmdVersions builds `rotor versions FAMILY`.
func NewCmdVersions(f *factory, name string, streams IOStreams) *cobra.Command {
	o := &VersionsOptions{streams: streams, f: f}
	cmd := &cobra.Command{
		Use:   "versions FAMILY [-n NAMESPACE | -A] [-o table|wide|json|yaml|name] [--adopt NAME]",
		Short: "List the versions of a Secret family, newest first",
		Long: `List every version of a Secret family, newest first: each Secret named
FAMILY-YYYYMMDDHHMMSS whose suffix is a valid UTC timestamp, and the unversioned Secret
named FAMILY if there is one. Key names are shown, never values. Only metadata is read
for versions rotor made or adopted: no permission to read Secret values is needed.

STATE is latest, previous or older per namespace among the versions rotor trusts: those
it created (labelled app.kubernetes.io/managed-by=rotor and rotor.dev/family) and those
adopted with --adopt. A Secret that merely fits the name pattern is "untrusted": never
chosen as latest and never deleted by cleanup. A version whose name lies in the future
(more than 5 minutes after now or after its own creation) is "future" and never chosen.
The unversioned Secret is "unversioned".

--adopt NAME checks a Secret made without rotor (a version of the family by name,
immutable, not future-dated) and adds rotor's labels, so rollout may choose it.

-o json and -o yaml print a VersionList document (rotor.dev/v1alpha1), stable for scripts.`,
		Example: examples(name, `
{{.}} versions auth-api-secrets -n payments
{{.}} versions auth-api-secrets -A -o json
{{.}} versions auth-api-secrets -n payments --adopt auth-api-secrets-20250101000000 --yes`),
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
	cmd.Flags().BoolVarP(&o.AllNamespaces, "all-namespaces", "A", false, "List versions in every namespace")
	cmd.Flags().StringVarP(&o.Output, "output", "o", "table", "Output format: table, wide, json, yaml or name")
	cmd.Flags().StringVar(&o.Adopt, "adopt", "", "Make this Secret (a version of FAMILY by name, immutable, made without rotor) a trusted version: add rotor's labels")
	cmd.Flags().BoolVarP(&o.Yes, "yes", "y", false, "With --adopt: adopt without asking (required without a terminal, unless --dry-run)")
	o.DryRun.add(cmd)
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"table", "wide", "json", "yaml", "name"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// Complete resolves the namespace.
func (o *VersionsOptions) Complete(args []string) error {
	o.Family = args[0]
	if o.AllNamespaces {
		return nil
	}
	var err error
	o.namespace, err = o.f.Namespace()
	return err
}

// Validate checks the flags.
func (o *VersionsOptions) Validate() error {
	if err := family.ValidateFamily(o.Family); err != nil {
		return usageErrorf("%v", err)
	}
	switch o.Output {
	case "table", "wide", "json", "yaml", "name":
	default:
		return usageErrorf("unknown output format %q: use table, wide, json, yaml or name", o.Output)
	}
	if err := o.DryRun.validate(); err != nil {
		return err
	}
	if o.Adopt == "" {
		if o.Yes || o.DryRun.strategy != dryRunNone {
			return usageErrorf("--yes and --dry-run go with --adopt NAME; listing changes nothing")
		}
		return nil
	}
	if o.AllNamespaces {
		return usageErrorf("--adopt works in one namespace: use -n instead of -A")
	}
	if _, ok := family.ParseIn(o.Family, o.Adopt); !ok {
		return usageErrorf("--adopt %s: not a version of %q; a version is named %s-YYYYMMDDHHMMSS (UTC)", o.Adopt, o.Family, o.Family)
	}
	return requireConsent(o.f, o.streams, o.Yes, o.DryRun.strategy, "versions --adopt changes a Secret's labels")
}

// Run lists and prints, or adopts.
func (o *VersionsOptions) Run(ctx context.Context) error {
	if o.Adopt != "" {
		return o.adopt(ctx)
	}
	client, err := o.f.Client()
	if err != nil {
		return err
	}
	meta, err := o.f.Metadata()
	if err != nil {
		return err
	}
	lister := &versions.Lister{Client: client, Metadata: meta, Clock: o.f.Clock}
	infos, err := lister.List(ctx, o.namespace, o.Family)
	if err != nil {
		return err
	}
	now := o.f.Clock.Now()
	switch o.Output {
	case "json", "yaml":
		doc := newVersionList(o.Family, infos, now)
		return printDocument(o.streams.Out, o.Output, doc)
	case "name":
		for _, i := range infos {
			fmt.Fprintf(o.streams.Out, "secret/%s\n", i.Name)
		}
		return nil
	}
	if len(infos) == 0 {
		where := fmt.Sprintf("namespace %q", o.namespace)
		if o.AllNamespaces {
			where = "any namespace"
		}
		fmt.Fprintf(o.streams.ErrOut, "No versions of %q found in %s. Create one with: create %s --from-stdin KEY\n", o.Family, where, o.Family)
		return nil
	}
	return printVersionsTable(o.streams.Out, infos, o.AllNamespaces, o.Output == "wide", now)
}

// adopt checks and labels one Secret, after asking on a terminal.
func (o *VersionsOptions) adopt(ctx context.Context) error {
	client, err := o.f.Client()
	if err != nil {
		return err
	}
	if err := checkAccess(ctx, o.f, client, []access.Want{{Verb: "patch", Resource: "secrets", Namespace: o.namespace, Name: o.Adopt, Why: "adopt " + o.Adopt}}); err != nil {
		return err
	}
	if o.DryRun.strategy == dryRunNone && !o.Yes {
		ok, err := confirmCtx(ctx, o.streams.In, o.streams.ErrOut, fmt.Sprintf("Adopt %s as a trusted version of %q in namespace %q (rollout --to latest may then choose it)?", o.Adopt, o.Family, o.namespace))
		if err != nil {
			return err
		}
		if !ok {
			fmt.Fprintln(o.streams.ErrOut, "Nothing was changed.")
			return nil
		}
	}
	if o.DryRun.strategy == dryRunClient {
		fmt.Fprintf(o.streams.ErrOut, "dry run (client): %s would be checked and adopted; nothing was changed\n", o.Adopt)
		return nil
	}
	ad := &versions.Adopter{Client: client, Clock: o.f.Clock}
	_, err = ad.Adopt(ctx, versions.AdoptRequest{Namespace: o.namespace, Family: o.Family, Name: o.Adopt,
		By: identity.Who(ctx, client, o.f.KubeconfigUser()), DryRun: o.DryRun.strategy == dryRunServer})
	switch {
	case errors.Is(err, versions.ErrAlreadyTrusted):
		fmt.Fprintf(o.streams.ErrOut, "%s: %v\n", o.Adopt, err)
		return nil
	case err != nil:
		return err
	}
	if o.DryRun.strategy == dryRunServer {
		fmt.Fprintf(o.streams.ErrOut, "dry run (server): the API server admitted the adoption of %s; nothing was changed\n", o.Adopt)
		return nil
	}
	fmt.Fprintf(o.streams.Out, "secret/%s adopted\n", o.Adopt)
	return nil
}

func printVersionsTable(w io.Writer, infos []versions.Info, withNamespace, wide bool, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	cols := []string{"NAME", "STATE", "AGE", "CREATED", "CREATED-BY", "KEYS", "IMMUTABLE"}
	if withNamespace {
		cols = append([]string{"NAMESPACE"}, cols...)
	}
	if wide {
		cols = append(cols, "TYPE", "EXPIRES")
	}
	fmt.Fprintln(tw, strings.Join(cols, "\t"))
	for _, i := range infos {
		keys, immutable, typ := orDash(strings.Join(i.Keys, ",")), fmt.Sprint(i.Immutable), i.Type
		if i.DetailsUnknown {
			keys, immutable, typ = "?", "?", "?"
		}
		row := []string{
			i.Name, string(i.State), duration.HumanDuration(now.Sub(i.Created)),
			i.Created.UTC().Format(time.RFC3339), orDash(i.CreatedBy), keys, immutable,
		}
		if withNamespace {
			row = append([]string{i.Namespace}, row...)
		}
		if wide {
			exp := "-"
			if !i.ExpiresAt.IsZero() {
				exp = i.ExpiresAt.UTC().Format(time.RFC3339)
			}
			row = append(row, typ, exp)
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, d := range versions.Due(infos, now) {
		state := fmt.Sprintf("next due in %s", duration.HumanDuration(d.DueAt.Sub(now)))
		if d.Due {
			state = fmt.Sprintf("DUE for %s", duration.HumanDuration(now.Sub(d.DueAt)))
		}
		fmt.Fprintf(w, "rotation in namespace %s: %s (%s is %s old; rotate-after %s)\n", d.Namespace, state, d.Current,
			duration.HumanDuration(d.Age), duration.HumanDuration(d.RotateAfter))
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// VersionList is the -o json|yaml document of `rotor versions`. Its fields are a
// stable interface for scripts; see docs/output.md.
type VersionList struct {
	APIVersion string        `json:"apiVersion"`
	Kind       string        `json:"kind"`
	Family     string        `json:"family"`
	Items      []VersionItem `json:"items"`
	// Rotation is the family's rotation status per namespace with a rotate-after
	// period (rotor.dev/rotate-after); absent when none has one.
	Rotation []DueItem `json:"rotation,omitempty"`
}

// VersionItem is one Secret of the family.
type VersionItem struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Version   string `json:"version"`
	State     string `json:"state"`
	// Trust is "created" or "adopted" for versions rotor trusts, "none" for look-alikes
	// and the unversioned Secret.
	Trust   string `json:"trust"`
	Created string `json:"created"`
	// CreationTimestamp is when the API server stored the Secret.
	CreationTimestamp string `json:"creationTimestamp"`
	CreatedBy         string `json:"createdBy"`
	// Keys is null, Immutable false and Type "" when rotor could not tell: a Secret
	// without rotor's annotations that the caller may not read.
	Keys      []string `json:"keys"`
	Immutable bool     `json:"immutable"`
	Type      string   `json:"type"`
	// ExpiresAt (RFC 3339) and RotateAfter (seconds) are the version's policy
	// annotations, when set.
	ExpiresAt          string `json:"expiresAt,omitempty"`
	RotateAfterSeconds int64  `json:"rotateAfterSeconds,omitempty"`
}

// DueItem is the rotation status of the family in one namespace that has a period.
type DueItem struct {
	Namespace          string `json:"namespace"`
	Current            string `json:"current"`
	AgeSeconds         int64  `json:"ageSeconds"`
	RotateAfterSeconds int64  `json:"rotateAfterSeconds"`
	Due                bool   `json:"due"`
	DueAt              string `json:"dueAt"`
}

func newVersionList(fam string, infos []versions.Info, now time.Time) VersionList {
	l := VersionList{APIVersion: "rotor.dev/v1alpha1", Kind: "VersionList", Family: fam, Items: []VersionItem{}}
	for _, i := range infos {
		item := VersionItem{
			Namespace: i.Namespace, Name: i.Name, State: string(i.State), Trust: string(i.Trust),
			Created: i.Created.UTC().Format(time.RFC3339), CreationTimestamp: i.CreationTimestamp.UTC().Format(time.RFC3339),
			CreatedBy: i.CreatedBy,
			Keys:      i.Keys, Immutable: i.Immutable, Type: i.Type,
		}
		if item.Keys == nil && !i.DetailsUnknown {
			item.Keys = []string{}
		}
		if i.State != versions.StateUnversioned {
			item.Version = i.Version.Timestamp()
		}
		if !i.ExpiresAt.IsZero() {
			item.ExpiresAt = i.ExpiresAt.UTC().Format(time.RFC3339)
		}
		item.RotateAfterSeconds = int64(i.RotateAfter.Seconds())
		l.Items = append(l.Items, item)
	}
	for _, d := range versions.Due(infos, now) {
		l.Rotation = append(l.Rotation, DueItem{Namespace: d.Namespace, Current: d.Current, AgeSeconds: int64(d.Age.Seconds()),
			RotateAfterSeconds: int64(d.RotateAfter.Seconds()), Due: d.Due, DueAt: d.DueAt.UTC().Format(time.RFC3339)})
	}
	return l
}
