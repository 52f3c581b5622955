package cli

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rotor-project/rotor/internal/rollout"
)

// StatusOptions are the inputs of `rotor status`.
type StatusOptions struct {
	Family        string
	AllNamespaces bool
	Watch         bool
	Output        string
	Env           envFlags

	namespace string
	streams   IOStreams
	f         *factory
}

// NewCmdStatus builds `rotor status FAMILY`.
func NewCmdStatus(f *factory, name string, streams IOStreams) *cobra.Command {
	o := &StatusOptions{streams: streams, f: f}
	cmd := &cobra.Command{
		Use:   "status FAMILY [-n NS | -A | --env ENV] [--watch] [-o table|json|yaml]",
		Short: "Show which version each consumer's spec names and which versions its pods actually run",
		Long: `Show, per consumer of FAMILY, the version its spec names and its pods grouped by the version
they actually run (the mixed state during a rollout), the rollout phase, and how many pods
are left to restart. --watch redraws on a terminal (a progress bar per workload), prints a
line per change otherwise, and ends when every consumer runs one version.

--env ENV shows every cluster and namespace of an environment of rotor.yaml, with the
last rotation of each (-o json prints an EnvironmentStatus).`,
		Example: examples(name, `
{{.}} status auth-api-secrets -n payments
{{.}} status auth-api-secrets -n payments --watch
{{.}} status auth-api-secrets --env production`),
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeFamilies(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Family = args[0]
			switch o.Output {
			case "table", "json", "yaml":
			default:
				return usageErrorf("unknown output format %q: use table, json or yaml", o.Output)
			}
			if cmd.Flags().Changed("env") {
				if o.Watch || o.AllNamespaces {
					return usageErrorf("--env shows the environment's clusters once: drop --watch and -A (watch one cluster with --context and -n)")
				}
				if err := o.Env.complete(f, o.Family); err != nil {
					return err
				}
				return o.runEnv(cmd.Context())
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
	o.Env.add(cmd, "Every cluster and namespace of this environment of rotor.yaml")
	cmd.Flags().BoolVarP(&o.AllNamespaces, "all-namespaces", "A", false, "Consumers in every namespace")
	cmd.Flags().BoolVarP(&o.Watch, "watch", "w", false, "Keep showing changes until every consumer runs one version")
	cmd.Flags().StringVarP(&o.Output, "output", "o", "table", "Output format: table, json or yaml")
	return cmd
}

// Run reads the status once, or until converged with --watch.
func (o *StatusOptions) Run(ctx context.Context) error {
	if err := (deference{o.f, o.streams}).showOwner(ctx, o.namespace, o.Family); err != nil {
		return err
	}
	reader, err := newStatusReader(o.f)
	if err != nil {
		return err
	}
	if !o.Watch {
		st, err := reader.Read(ctx, o.namespace, o.Family)
		if err != nil {
			return err
		}
		return o.print(st)
	}
	client, err := o.f.Client()
	if err != nil {
		return err
	}
	// Redraw whenever a pod in scope changes (a watch), at most every 200 ms.
	w, err := client.CoreV1().Pods(o.namespace).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	defer w.Stop()
	tty := o.f.IsTerminal(o.streams.Out)
	last := ""
	for {
		st, err := reader.Read(ctx, o.namespace, o.Family)
		if err != nil {
			return err
		}
		if tty {
			fmt.Fprint(o.streams.Out, "\x1b[H\x1b[2J")
			if err := o.print(st); err != nil {
				return err
			}
		} else {
			for _, line := range statusLines(st) {
				if !strings.Contains(last, line) {
					fmt.Fprintln(o.streams.Out, line)
				}
			}
			last = strings.Join(statusLines(st), "\n")
		}
		if st.Converged {
			fmt.Fprintln(o.streams.Out, "every consumer runs one version")
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case _, ok := <-w.ResultChan():
			if !ok {
				if w, err = client.CoreV1().Pods(o.namespace).Watch(ctx, metav1.ListOptions{}); err != nil {
					return err
				}
			}
		}
		drain(w.ResultChan(), 200*time.Millisecond)
	}
}

func drain[T any](ch <-chan T, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-ch:
		case <-t.C:
			return
		}
	}
}

func (o *StatusOptions) print(st *rollout.Status) error {
	switch o.Output {
	case "json", "yaml":
		return printDocument(o.streams.Out, o.Output, st)
	}
	if len(st.Consumers) == 0 {
		fmt.Fprintf(o.streams.ErrOut, "No consumers of %q found.\n", st.Family)
		return nil
	}
	tw := tabwriter.NewWriter(o.streams.Out, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "NAMESPACE\tCONSUMER\tSPEC\tPODS BY VERSION\tPROGRESS\tLEFT\tPHASE")
	for _, c := range st.Consumers {
		pods, bar := c.String(), bar(c)
		if c.Note != "" {
			pods, bar = c.Note, "-"
		}
		fmt.Fprintf(tw, "%s\t%s/%s\t%s\t%s\t%s\t%d\t%s\n", c.Namespace, c.Kind, c.Name, orDash(strings.Join(c.Spec, ",")),
			orDash(pods), bar, c.Remaining, orDash(c.Phase))
	}
	return tw.Flush()
}

// bar draws the share of pods on the spec's version.
func bar(c rollout.ConsumerStatus) string {
	total, on := 0, 0
	for i, vp := range c.Pods {
		total += vp.Total
		if i == 0 && len(c.Spec) > 0 && vp.Version == c.Spec[0] {
			on = vp.Ready
		}
	}
	if total == 0 {
		return "-"
	}
	const width = 10
	n := on * width / total
	return "[" + strings.Repeat("#", n) + strings.Repeat(".", width-n) + "]"
}

// statusLines is the plain form for pipes: one line per consumer.
func statusLines(st *rollout.Status) []string {
	var out []string
	for _, c := range st.Consumers {
		out = append(out, fmt.Sprintf("%s %s/%s spec=%s pods: %s left=%d", c.Namespace, c.Kind, c.Name, strings.Join(c.Spec, ","), c.String(), c.Remaining))
	}
	return out
}
