package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"

	"github.com/rotor-project/rotor/internal/health"
	"github.com/rotor-project/rotor/internal/identity"
	"github.com/rotor-project/rotor/internal/lock"
	"github.com/rotor-project/rotor/internal/record"
	"github.com/rotor-project/rotor/internal/repoint"
	"github.com/rotor-project/rotor/internal/rollout"
	"github.com/rotor-project/rotor/internal/versions"
)

// scopeFlags are the flags that choose consumers: -A, -l, --workload.
type scopeFlags struct {
	AllNamespaces bool
	Selector      string
	Workloads     []string

	namespace string
	selector  labels.Selector
	workloads []repoint.Target
}

func (s *scopeFlags) add(cmd *cobra.Command) {
	cmd.Flags().BoolVarP(&s.AllNamespaces, "all-namespaces", "A", false, "Consumers in every namespace")
	cmd.Flags().StringVarP(&s.Selector, "selector", "l", "", "Only consumers whose labels match this selector (e.g. app=web,tier!=batch)")
	cmd.Flags().StringArrayVar(&s.Workloads, "workload", nil, "Only this consumer, as KIND/NAME (e.g. deployment/web); repeatable")
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
		canonical := canonicalKind(kind)
		if !ok || name == "" || canonical == "" {
			return usageErrorf("invalid --workload %q: use KIND/NAME with KIND one of deployment, statefulset, daemonset, cronjob, job, serviceaccount, ingress, rollout", w)
		}
		s.workloads = append(s.workloads, repoint.Target{Kind: canonical, Name: name})
	}
	return nil
}

func canonicalKind(k string) string {
	switch strings.ToLower(k) {
	case "deployment", "deployments", "deploy":
		return "Deployment"
	case "statefulset", "statefulsets", "sts":
		return "StatefulSet"
	case "daemonset", "daemonsets", "ds":
		return "DaemonSet"
	case "cronjob", "cronjobs", "cj":
		return "CronJob"
	case "job", "jobs":
		return "Job"
	case "serviceaccount", "serviceaccounts", "sa":
		return "ServiceAccount"
	case "ingress", "ingresses", "ing":
		return "Ingress"
	case "rollout", "rollouts", "ro":
		return "Rollout"
	}
	return ""
}

// rotation holds the engine pieces a rotation command needs.
type rotation struct {
	client  kubernetes.Interface
	planner *rollout.Planner
	runner  *rollout.Runner
}

func newRotation(ctx context.Context, f *factory, progress io.Writer, leaseDuration time.Duration) (*rotation, error) {
	client, err := f.Client()
	if err != nil {
		return nil, err
	}
	dyn, err := f.Dynamic()
	if err != nil {
		return nil, err
	}
	meta, err := f.Metadata()
	if err != nil {
		return nil, err
	}
	finder, err := f.Finder()
	if err != nil {
		return nil, err
	}
	consumers := rollout.RefsFinder{Finder: finder}
	rp := &repoint.Repointer{Dynamic: dyn}
	// "latest" is chosen from metadata alone: trusted versions carry their keys in
	// annotations, so no permission to read Secret values is needed.
	latest := &versions.Lister{Metadata: meta, Clock: f.Clock}
	targets := &versions.Lister{Client: client, Metadata: meta, Clock: f.Clock}
	who := identity.Who(ctx, client, f.KubeconfigUser())
	host, _ := os.Hostname()
	start := f.Clock.Now()
	r := &rotation{
		client: client,
		planner: &rollout.Planner{Client: client, Dynamic: dyn, Finder: consumers, Repointer: rp,
			Latest: latest.Latest, Target: targetInfo(targets)},
		runner: &rollout.Runner{
			Client: client, Repointer: rp, Records: &record.Store{Client: client}, Clock: f.Clock, By: who,
			Locker: &lock.Locker{Client: client, Clock: f.Clock, Duration: leaseDuration,
				Holder: fmt.Sprintf("%s on %s (pid %d)", who, host, os.Getpid())},
			Waiter: &health.Waiter{Client: client, Progress: func(w health.Workload, msg string) {
				fmt.Fprintf(progress, "%s  %-32s %s\n", stamp(f.Clock.Since(start)), w, msg)
			}},
			Progress: func(e rollout.Event) {
				obj := e.Object
				if obj == "" {
					obj = "rotation"
				}
				fmt.Fprintf(progress, "%s  %-32s %s\n", stamp(e.Time.Sub(start)), obj, e.Message)
			},
		},
	}
	return r, nil
}

// targetInfo describes a target version for the planner from its metadata: rollout
// refuses versions rotor neither made nor adopted, and future-dated ones.
func targetInfo(l *versions.Lister) func(ctx context.Context, ns, fam, name string) (rollout.TargetInfo, bool, error) {
	return func(ctx context.Context, ns, fam, name string) (rollout.TargetInfo, bool, error) {
		info, err := l.Find(ctx, ns, fam, name)
		if err != nil || info == nil {
			return rollout.TargetInfo{}, false, err
		}
		t := rollout.TargetInfo{Keys: info.Keys}
		switch info.State {
		case versions.StateUntrusted:
			t.Refused = fmt.Sprintf("rotor neither created nor adopted it (it lacks rotor's labels), so nothing is rolled out to it; check it, then adopt it with: versions %s --adopt %s -n %s", fam, name, ns)
		case versions.StateFuture:
			t.Refused = fmt.Sprintf("its name lies in the future (beyond %s of now or of its creation), so nothing is rolled out to it; a version is named after the time it was made", versions.MaxSkew)
		}
		if info.DetailsUnknown && t.Refused == "" {
			return t, true, fmt.Errorf("cannot tell which keys %s has: it carries no %s annotation and you may not read it (get secrets)", name, versions.AnnotationKeys)
		}
		return t, true, nil
	}
}

// newStatusReader is what `status` needs: the consumers and their pods, read only
// (no identity lookup, no lock).
func newStatusReader(f *factory) (*rollout.StatusReader, error) {
	client, err := f.Client()
	if err != nil {
		return nil, err
	}
	finder, err := f.Finder()
	if err != nil {
		return nil, err
	}
	return &rollout.StatusReader{Client: client, Finder: rollout.RefsFinder{Finder: finder}}, nil
}

func stamp(d time.Duration) string {
	return fmt.Sprintf("[%6.1fs]", d.Seconds())
}

// dryRun ends a --dry-run after the plan was printed: client stops there; server sends
// every patch with dryRun=All, so the API server validates and admits them.
func (r *rotation) dryRun(ctx context.Context, plan *rollout.Plan, strategy dryRunStrategy, progress io.Writer) error {
	if strategy == dryRunServer {
		if err := r.runner.DryRun(ctx, plan); err != nil {
			return fmt.Errorf("the API server refused a re-point (dry run, nothing was changed): %w", err)
		}
		fmt.Fprintf(progress, "dry run (server): the API server accepted all %d patch(es); nothing was changed\n", len(plan.Active()))
		return nil
	}
	fmt.Fprintln(progress, "dry run: nothing was changed")
	return nil
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

// printOutcome writes the result of a run: what changed, what failed, what was rolled
// back, and the timings.
func printOutcome(w io.Writer, verb string, o *rollout.Outcome, runErr error) {
	if o == nil {
		return
	}
	changed := 0
	for _, r := range o.Repointed {
		if !r.Unchanged() {
			changed++
		}
	}
	if runErr == nil {
		fmt.Fprintf(w, "%s succeeded: %d consumer(s) re-pointed in %s, healthy after %s\n", verb, changed,
			o.RepointedIn.Round(time.Millisecond), o.HealthyIn.Round(time.Millisecond))
		return
	}
	fmt.Fprintf(w, "%s FAILED", verb)
	if o.Failure != nil {
		fmt.Fprintf(w, ": %s", o.Failure.Error())
		if v := o.Failure.Verdict; v != nil {
			for _, m := range v.Measurements {
				fmt.Fprintf(w, "\n  %s = %s (%s) %s", m.Name, m.Value, m.Phase, m.Detail)
			}
		}
	}
	fmt.Fprintln(w)
	for _, r := range o.RolledBack {
		fmt.Fprintf(w, "rolled back: %s → %s\n", r.Target, r.Changes[0].To)
	}
	for _, e := range o.RollbackErrors {
		fmt.Fprintf(w, "NOT rolled back: %s\n", e)
	}
}

// rollbackFamily moves every consumer of fam in namespace back to the version recorded
// before the last rotation: what `rollback FAMILY` does, for watch --rollback-on-failure.
func rollbackFamily(ctx context.Context, f *factory, namespace, fam string, progress io.Writer) error {
	rot, err := newRotation(ctx, f, progress, 0)
	if err != nil {
		return err
	}
	plan, err := rot.planner.Plan(ctx, rollout.Request{Family: fam, Namespace: namespace, Back: true})
	if err != nil {
		return err
	}
	if len(plan.Active()) == 0 {
		return nil
	}
	_, err = rot.runner.Rollback(ctx, plan, rollout.Options{})
	return err
}
