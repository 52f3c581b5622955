package cli

import (
	"context"

	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/internal/analysis"
	"github.com/rotor-project/rotor/internal/family"
	"github.com/rotor-project/rotor/internal/gate"
	"github.com/rotor-project/rotor/internal/journal"
	"github.com/rotor-project/rotor/internal/notify"
	"github.com/rotor-project/rotor/internal/rollout"
	"github.com/rotor-project/rotor/internal/versions"
	"github.com/rotor-project/rotor/internal/watch"
)

// WatchOptions are the inputs of `rotor watch`.
type WatchOptions struct {
	Family            string
	For               time.Duration
	Notify            string
	RollbackOnFailure bool
	Analysis          AnalysisFlags

	namespace string
	streams   IOStreams
	f         *factory
}

// NewCmdWatch builds `rotor watch FAMILY --analysis FILE --for 24h`.
func NewCmdWatch(f *factory, name string, streams IOStreams) *cobra.Command {
	o := &WatchOptions{streams: streams, f: f}
	cmd := &cobra.Command{
		Use:   "watch FAMILY --analysis FILE --for DURATION [--arg NAME=VALUE] [--notify URL] [--rollback-on-failure]",
		Short: "Keep evaluating a metric analysis for hours after a rotation, and act when it fails",
		Long: `Keep evaluating a metric analysis (an Argo Rollouts AnalysisTemplate; see
docs/analysis.md) for a window after a rotation. Every query is evaluated once before
anything is recorded: bad PromQL, an unreachable provider or a condition that does not
compile is refused.

A heartbeat line per measurement goes to stderr, a summary to stdout at the end. When
the analysis ends Failed, Inconclusive (treated as a failure: nobody is there to ask) or
Error (a provider kept failing), rotor creates a Warning Event on every consumer of the
family's latest rotation, POSTs {"text": ...} to --notify (Slack-style webhooks), rolls
back with --rollback-on-failure (Failed and Inconclusive only: a provider outage is no
reason to roll back), and exits 1.

The window's start is recorded on the family's latest rotation record: a watch restarted
with the same arguments continues the same window.`,
		Example: examples(name, `
{{.}} watch auth-api-secrets -n payments --analysis error-rate.yaml --for 24h
{{.}} watch auth-api-secrets --analysis error-rate.yaml --arg service=api --for 2h \
    --notify "$SLACK_WEBHOOK_URL" --rollback-on-failure`),
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
	o.Analysis.AddFlags(cmd.Flags())
	cmd.Flags().DurationVar(&o.For, "for", 24*time.Hour, "How long to keep watching, e.g. 24h or 90m")
	cmd.Flags().StringVar(&o.Notify, "notify", "", "Webhook URL to POST a JSON {\"text\": ...} message to on failure (the URL is never printed)")
	cmd.Flags().BoolVar(&o.RollbackOnFailure, "rollback-on-failure", false, "Roll every consumer back to the previous version when the analysis fails")
	return cmd
}

// Complete resolves the namespace and parses --arg.
func (o *WatchOptions) Complete(args []string) error {
	o.Family = args[0]
	var err error
	if o.namespace, err = o.f.Namespace(); err != nil {
		return err
	}
	return o.Analysis.Complete()
}

// Validate checks the flags; nothing touches the cluster yet.
func (o *WatchOptions) Validate() error {
	if err := family.ValidateFamily(o.Family); err != nil {
		return usageErrorf("%v", err)
	}
	if o.Analysis.File == "" {
		return usageErrorf("--analysis FILE is required: an AnalysisTemplate with the metrics to watch (see docs/analysis.md)")
	}
	if o.For <= 0 {
		return usageErrorf("--for must be a positive duration, e.g. 24h")
	}
	if o.Notify != "" {
		if err := notify.Check(o.Notify); err != nil {
			return usageErrorf("--notify: %v", err)
		}
	}
	return nil
}

// Run validates the analysis with one evaluation, then watches.
func (o *WatchOptions) Run(ctx context.Context) error {
	client, err := o.f.Client()
	if err != nil {
		return err
	}
	store := &journal.Store{Client: client, Clock: o.f.Clock}
	all, err := store.List(ctx, o.namespace, o.Family)
	if err != nil {
		return err
	}
	var rec *v1alpha1.SecretRotation
	if len(all) > 0 {
		rec = all[len(all)-1]
	}
	facts := analysis.Facts{Family: o.Family, Namespace: o.namespace}
	if rec != nil {
		facts.Version = rec.Status.TargetVersion
	} else if facts.Version, err = o.latestVersion(ctx); err != nil {
		return err
	}
	tmpl, err := o.Analysis.Load(facts)
	if err != nil {
		return err
	}
	var mu sync.Mutex
	var window analysis.Window
	heartbeat := func(m analysis.Measurement) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(o.streams.ErrOut, "%s [%s/%s] %s #%d %s value=%s: %s\n", m.At.UTC().Format(time.RFC3339),
			m.At.Sub(window.Start).Round(time.Second), window.End.Sub(window.Start), m.Metric, m.Index, m.Phase, m.Value, m.Message)
	}
	g, err := analysis.NewGate(tmpl, o.Analysis.GateOptions(o.f, heartbeat))
	if err != nil {
		return usageErrorf("%v", err)
	}
	step := gate.Step{Family: o.Family, Namespace: o.namespace, Version: facts.Version, Final: true}
	if err := g.Validate(ctx, step); err != nil {
		return flatten("the analysis was refused before anything was recorded: %s", err)
	}
	dyn, err := o.f.Dynamic()
	if err != nil {
		return err
	}
	eng := &watch.Engine{Client: client, Dynamic: dyn, Records: store, Clock: o.f.Clock, FindConsumers: o.consumers}
	if o.Notify != "" {
		hook := notify.Webhook{URL: o.Notify, Client: &http.Client{Timeout: 15 * time.Second}}
		eng.Notify = hook.Post
	}
	if o.RollbackOnFailure {
		eng.Rollback = func(ctx context.Context, watched *v1alpha1.SecretRotation) error {
			return rollbackWatched(ctx, o.f, o.streams, watched)
		}
	}
	req := watch.Request{
		Family: o.Family, Namespace: o.namespace, Gate: g, Duration: o.For,
		RollbackOnFailure: o.RollbackOnFailure,
		Identity:          tmpl.Digest(),
		OnStart: func(w analysis.Window, resumed bool) {
			mu.Lock()
			window = w
			mu.Unlock()
			how := "started"
			if resumed {
				how = "resumed (started " + w.Start.UTC().Format(time.RFC3339) + ")"
			}
			fmt.Fprintf(o.streams.ErrOut, "Watching %s in %s until %s: window %s, %d metric(s)\n",
				o.Family, o.namespace, w.End.UTC().Format(time.RFC3339), how, len(tmpl.Metrics))
			if rec == nil {
				fmt.Fprintf(o.streams.ErrOut, "Note: %s has no rotation record in %s, so this window is not recorded and a restart starts a new one.\n", o.Family, o.namespace)
			}
		},
	}
	sum, err := eng.Run(ctx, req)
	if err != nil {
		if sum != nil && ctx.Err() != nil {
			fmt.Fprintln(o.streams.ErrOut, "Interrupted: the window stays recorded; run the same command again to continue it.")
		}
		return err
	}
	printWatchSummary(o.streams.Out, sum, o.Notify)
	if sum.Failed() {
		return fmt.Errorf("analysis %s: %s", sum.Result.Phase, sum.Result.Message)
	}
	return nil
}

func (o *WatchOptions) latestVersion(ctx context.Context) (string, error) {
	client, err := o.f.Client()
	if err != nil {
		return "", err
	}
	meta, err := o.f.Metadata()
	if err != nil {
		return "", err
	}
	infos, err := (&versions.Lister{Client: client, Metadata: meta}).List(ctx, o.namespace, o.Family)
	if err != nil {
		return "", err
	}
	for _, i := range infos {
		if i.State == versions.StateLatest {
			return i.Name, nil
		}
	}
	return "", nil
}

func printWatchSummary(w io.Writer, s *watch.Summary, notifyURL string) {
	fmt.Fprintf(w, "Watch of %s in %s: %s\n", s.Family, s.Namespace, s.Result.Phase)
	how := ""
	if s.Resumed {
		how = ", resumed"
	}
	fmt.Fprintf(w, "Window:  %s to %s (%s%s)\n", s.Window.Start.UTC().Format(time.RFC3339), s.Window.End.UTC().Format(time.RFC3339), s.Window.End.Sub(s.Window.Start), how)
	if s.Version != "" {
		fmt.Fprintf(w, "Version: %s\n", s.Version)
	}
	if s.Failed() {
		fmt.Fprintf(w, "Reason:  %s\n", s.Result.Message)
	}
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "METRIC\tPHASE\tMEASURED\tSUCCESSFUL\tFAILED\tINCONCLUSIVE\tERRORS\tLAST VALUE\tENDED BECAUSE")
	for _, m := range s.Result.Metrics {
		last := "-"
		if n := len(m.Last); n > 0 {
			last = m.Last[n-1].Value
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\t%s\n", m.Name, m.Phase, m.Successful+m.Failed+m.Inconclusive+m.Errors,
			m.Successful, m.Failed, m.Inconclusive, m.Errors, last, m.Message)
	}
	_ = tw.Flush()
	if !s.Failed() {
		return
	}
	names := make([]string, 0, len(s.Consumers))
	for _, c := range s.Consumers {
		names = append(names, c.String())
	}
	fmt.Fprintf(w, "Events:  %d of %d consumer(s) %s\n", s.Events, len(s.Consumers), strings.Join(names, ", "))
	for _, e := range s.EventErrors {
		fmt.Fprintf(w, "  not recorded: %s\n", e)
	}
	switch {
	case notifyURL == "":
	case s.Notified:
		fmt.Fprintf(w, "Notified: %s\n", notify.Host(notifyURL))
	default:
		fmt.Fprintf(w, "Not notified: %s\n", s.NotifyError)
	}
	switch {
	case s.RolledBack:
		fmt.Fprintln(w, "Rolled back: every consumer is back on the previous version.")
	case s.RollbackError != "":
		fmt.Fprintf(w, "Rollback failed: %s\n", s.RollbackError)
	}
}

// consumers finds the family's consumers with the reference engine, for Events when no
// rotation record names them.
func (o *WatchOptions) consumers(ctx context.Context, namespace, fam string) ([]gate.Workload, error) {
	finder, err := o.f.Finder()
	if err != nil {
		return nil, err
	}
	cs, err := rollout.RefsFinder{Finder: finder}.Consumers(ctx, namespace, fam)
	if err != nil {
		return nil, err
	}
	out := make([]gate.Workload, 0, len(cs))
	for _, c := range cs {
		if c.Immutable && c.Kind == "Pod" {
			continue // a bare Pod: no workload to tell
		}
		out = append(out, gate.Workload{Kind: c.Kind, Namespace: c.Namespace, Name: c.Name})
	}
	return out, nil
}
