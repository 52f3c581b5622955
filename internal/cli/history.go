package cli

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/internal/family"
	"github.com/rotor-project/rotor/internal/journal"
)

// HistoryOptions are the inputs of `rotor history`.
type HistoryOptions struct {
	Family        string
	AllNamespaces bool
	Output        string

	namespace string
	streams   IOStreams
	f         *factory
}

// RotationList is the -o json|yaml document of `rotor history`.
type RotationList struct {
	APIVersion string                    `json:"apiVersion"`
	Kind       string                    `json:"kind"`
	Family     string                    `json:"family"`
	Namespace  string                    `json:"namespace"`
	Items      []v1alpha1.SecretRotation `json:"items"`
}

// NewCmdHistory builds `rotor history FAMILY`.
func NewCmdHistory(f *factory, name string, streams IOStreams) *cobra.Command {
	o := &HistoryOptions{streams: streams, f: f}
	cmd := &cobra.Command{
		Use:   "history FAMILY [-n NAMESPACE | -A] [-o table|json|yaml]",
		Short: "List the rotations of a Secret family from their journals, oldest first",
		Long: `List every rotation (rollout or rollback) of FAMILY recorded in the namespace: the version it
moved consumers to, the strategy, how it ended, who started it and when, and which rotation a
rollback reversed. A rotation whose run was interrupted shows the phase it stopped in; running
the same rollout or rollback again resumes it. -o json prints the journals themselves (see
docs/output.md).`,
		Example: examples(name, `
{{.}} history auth-api-secrets -n payments
{{.}} history auth-api-secrets -A -o json`),
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeFamilies(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Family = args[0]
			if err := family.ValidateFamily(o.Family); err != nil {
				return usageErrorf("%v", err)
			}
			switch o.Output {
			case "table", "json", "yaml":
			default:
				return usageErrorf("unknown output format %q: use table, json or yaml", o.Output)
			}
			if !o.AllNamespaces {
				ns, err := f.Namespace()
				if err != nil {
					return err
				}
				o.namespace = ns
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().BoolVarP(&o.AllNamespaces, "all-namespaces", "A", false, "Rotations in every namespace")
	cmd.Flags().StringVarP(&o.Output, "output", "o", "table", "Output format: table, json or yaml")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"table", "json", "yaml"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// Run reads the journals and prints them.
func (o *HistoryOptions) Run(ctx context.Context) error {
	client, err := o.f.Client()
	if err != nil {
		return err
	}
	rots, err := (&journal.Store{Client: client, Clock: o.f.Clock}).List(ctx, o.namespace, o.Family)
	if err != nil {
		return err
	}
	if o.Output != "table" {
		doc := RotationList{APIVersion: v1alpha1.APIVersion, Kind: "RotationList", Family: o.Family, Namespace: o.namespace, Items: []v1alpha1.SecretRotation{}}
		for _, r := range rots {
			doc.Items = append(doc.Items, *r)
		}
		return printDocument(o.streams.Out, o.Output, doc)
	}
	if len(rots) == 0 {
		fmt.Fprintf(o.streams.ErrOut, "no rotation of %q is recorded in %s\n", o.Family, o.where())
		return nil
	}
	tw := tabwriter.NewWriter(o.streams.Out, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "NAMESPACE\tROTATION\tACTION\tTO\tSTRATEGY\tPHASE\tSTARTED\tFINISHED\tBY\tMESSAGE")
	for _, r := range rots {
		msg := r.Status.Message
		if r.Spec.Reverts != "" {
			msg = "reverts " + r.Spec.Reverts + "; " + msg
		}
		if r.Status.RevertedBy != "" {
			msg = "reverted by " + r.Status.RevertedBy + "; " + msg
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Namespace, r.Name, r.Spec.Action, targetOrPrevious(r),
			orDash(string(r.Spec.Strategy.Type)), orDash(string(r.Status.Phase)), stampOf(r.Status.Started), stampOf(r.Status.Finished), orDash(r.Status.By), orDash(msg))
	}
	return tw.Flush()
}

func (o *HistoryOptions) where() string {
	if o.AllNamespaces {
		return "any namespace"
	}
	return fmt.Sprintf("namespace %q", o.namespace)
}

func stampOf(t *metav1.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}
