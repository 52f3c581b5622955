package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/rotor-project/rotor/internal/versions"
)

// VersionsOptions are the inputs of `rotor versions`.
type VersionsOptions struct {
	Family        string
	AllNamespaces bool
	Output        string

	namespace string
	streams   IOStreams
	f         *factory
}

// NewCmdVersions builds `rotor versions FAMILY`.
func NewCmdVersions(f *factory, name string, streams IOStreams) *cobra.Command {
	o := &VersionsOptions{streams: streams, f: f}
	cmd := &cobra.Command{
		Use:   "versions FAMILY [-n NAMESPACE | -A] [-o table|wide|json|yaml|name]",
		Short: "List the versions of a Secret family, newest first",
		Long: `List every version of a Secret family, newest first: each Secret named
FAMILY-YYYYMMDDHHMMSS whose suffix is a valid UTC timestamp, whoever created it, and the
unversioned Secret named FAMILY if there is one. Key names are shown, never values.

STATE is latest, previous or older per namespace; the unversioned Secret is "unversioned".
-o json and -o yaml print a VersionList document (rotor.dev/v1alpha1), stable for scripts.`,
		Example: examples(name, `
{{.}} versions auth-api-secrets -n payments
{{.}} versions auth-api-secrets -A -o json`),
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
	switch o.Output {
	case "table", "wide", "json", "yaml", "name":
		return nil
	default:
		return usageErrorf("unknown output format %q: use table, wide, json, yaml or name", o.Output)
	}
}

// Run lists and prints.
func (o *VersionsOptions) Run(ctx context.Context) error {
	client, err := o.f.Client()
	if err != nil {
		return err
	}
	meta, err := o.f.Metadata()
	if err != nil {
		return err
	}
	lister := &versions.Lister{Client: client, Metadata: meta}
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
		row := []string{
			i.Name, string(i.State), duration.HumanDuration(now.Sub(i.Created)),
			i.Created.UTC().Format(time.RFC3339), orDash(i.CreatedBy), orDash(strings.Join(i.Keys, ",")),
			fmt.Sprint(i.Immutable),
		}
		if withNamespace {
			row = append([]string{i.Namespace}, row...)
		}
		if wide {
			exp := "-"
			if !i.ExpiresAt.IsZero() {
				exp = i.ExpiresAt.UTC().Format(time.RFC3339)
			}
			row = append(row, i.Type, exp)
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
	Created   string `json:"created"`
	// CreationTimestamp is when the API server stored the Secret.
	CreationTimestamp string   `json:"creationTimestamp"`
	CreatedBy         string   `json:"createdBy"`
	Keys              []string `json:"keys"`
	Immutable         bool     `json:"immutable"`
	Type              string   `json:"type"`
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
			Namespace: i.Namespace, Name: i.Name, State: string(i.State),
			Created: i.Created.UTC().Format(time.RFC3339), CreationTimestamp: i.CreationTimestamp.UTC().Format(time.RFC3339),
			CreatedBy: i.CreatedBy,
			Keys:      i.Keys, Immutable: i.Immutable, Type: i.Type,
		}
		if item.Keys == nil {
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
