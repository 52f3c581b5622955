package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/rotor-project/rotor/internal/kinds"
	"github.com/rotor-project/rotor/internal/kube"
	"github.com/rotor-project/rotor/internal/refs"
	"github.com/rotor-project/rotor/internal/repoint"
	"github.com/rotor-project/rotor/internal/rollout"
)

// scopeFlags are the flags that choose consumers: -A, -l, --workload, and
// --allow-drift (consumers another tool manages).
type scopeFlags struct {
	AllNamespaces bool
	Selector      string
	Workloads     []string
	AllowDrift    bool

	namespace string
	selector  labels.Selector
	workloads []repoint.Target
}

func (s *scopeFlags) add(cmd *cobra.Command) {
	cmd.Flags().BoolVarP(&s.AllNamespaces, "all-namespaces", "A", false, "Consumers in every namespace")
	cmd.Flags().StringVarP(&s.Selector, "selector", "l", "", "Only consumers whose labels match this selector (e.g. app=web,tier!=batch)")
	cmd.Flags().StringArrayVar(&s.Workloads, "workload", nil, "Only this consumer, as KIND/NAME (e.g. deployment/web); repeatable")
	cmd.Flags().BoolVar(&s.AllowDrift, "allow-drift", false, "Also re-point consumers Argo CD, Flux or Helm manage, which they will revert (recorded); without it such consumers refuse the rotation")
}

func (s *scopeFlags) complete(f *factory) error {
	if !s.AllNamespaces {
		ns, err := f.Namespace()
		if err != nil {
			return err
		}
		s.namespace = ns
	}
	sel, err := labels.Parse(s.Selector)
	if err != nil {
		return usageErrorf("invalid -l selector %q: %v", s.Selector, err)
	}
	s.selector = sel
	for _, w := range s.Workloads {
		kind, name, ok := strings.Cut(w, "/")
		k := kinds.Resolve(kind)
		if !ok || name == "" || k == nil || !k.Consumer() {
			return usageErrorf("invalid --workload %q: use KIND/NAME with KIND one of %s (or their short names, e.g. deploy, sts, ro)",
				w, strings.Join(kinds.ConsumerNames(), ", "))
		}
		s.workloads = append(s.workloads, repoint.Target{Kind: k.Kind, Name: name})
	}
	return nil
}

func stamp(d time.Duration) string {
	return fmt.Sprintf("[%6.1fs]", d.Seconds())
}

// printPlan writes the plan as a table: consumer, field, from → to, and notes.
func printPlan(w io.Writer, p *rollout.Plan) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "NAMESPACE\tCONSUMER\tFIELD\tFROM\tTO\tNOTE")
	for _, it := range p.Items {
		c := it.Consumer
		if len(it.Changes) == 0 {
			fmt.Fprintf(tw, "%s\t%s\t-\t-\t%s\t%s\n", c.Namespace, c.Target, it.To, orDash(it.Note))
			continue
		}
		for i, ch := range it.Changes {
			note := ""
			if i == 0 {
				note = it.Note
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", c.Namespace, c.Target, ch.Path, ch.From, ch.To, orDash(note))
		}
	}
	return tw.Flush()
}

// confirm asks on a terminal; anything but y or yes declines.
func confirm(in io.Reader, out io.Writer, question string) bool {
	fmt.Fprintf(out, "%s [y/N]: ", question)
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return false
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true
	}
	return false
}

// newStatusReader is what `status` needs: the consumers and their pods, read only
// (no identity lookup, no lock).
func newStatusReader(f *factory) (*rollout.StatusReader, error) {
	c, err := f.Clients()
	if err != nil {
		return nil, err
	}
	return statusReaderFor(c), nil
}

// statusReaderFor is a status reader of one cluster.
func statusReaderFor(c *kube.Clients) *rollout.StatusReader {
	finder := &refs.Finder{Client: c.Proto, Dynamic: c.Dynamic, Discovery: c.Discovery, Metadata: c.Metadata, Helm: true}
	return &rollout.StatusReader{Client: c.Typed, Dynamic: c.Dynamic, Finder: rollout.RefsFinder{Finder: finder}, Unversioned: true}
}
