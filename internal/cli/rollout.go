package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/internal/analysis"
	"github.com/rotor-project/rotor/internal/boundedyaml"
	"github.com/rotor-project/rotor/internal/engine"
	"github.com/rotor-project/rotor/internal/gate"
	"github.com/rotor-project/rotor/internal/lock"
	"github.com/rotor-project/rotor/internal/rollout"
	"github.com/rotor-project/rotor/internal/rotation"
)

// RolloutOptions are the inputs of `rotor rollout`.
type RolloutOptions struct {
	Family   string
	To       string
	Strategy string
	Steps    string
	Pause    time.Duration
	Timeout  time.Duration
	// LeaseDuration is how long the family's lock outlives a run that died.
	LeaseDuration time.Duration
	NoRollback    bool
	Yes           bool
	DryRun        dryRunFlag
	Scope         scopeFlags
	Analysis      AnalysisFlags
	// AnalysisDuration keeps the analysis evaluating after the last step.
	AnalysisDuration time.Duration
	// RollbackScope says which batches of a multi-namespace rotation roll back when one
	// fails: all (default) or failed.
	RollbackScope string
	// GitOps makes the rotation commits in a clone of the GitOps repository.
	GitOps gitopsFlags

	steps        []int
	run          string
	analysisJSON []byte
	streams      IOStreams
	f            *factory
}

// NewCmdRollout builds `rotor rollout FAMILY --to VERSION|latest`.
func NewCmdRollout(f *factory, name string, streams IOStreams) *cobra.Command {
	o := &RolloutOptions{streams: streams, f: f}
	cmd := &cobra.Command{
		Use:   "rollout FAMILY --to VERSION|latest [-n NS | -A] [-l SELECTOR] [--workload KIND/NAME] [--strategy rolling|bluegreen]",
		Short: "Re-point every consumer of a Secret family to a version, gated by health, rolled back on failure",
		Long: `Re-point every live consumer of any version of FAMILY in scope to VERSION: Deployments,
StatefulSets and DaemonSets roll out by their own update strategy; CronJobs take the new
version at their next run; ServiceAccount imagePullSecrets and Ingress TLS at once. A
running Job keeps its version until it finishes. Only the reference fields change (a JSON
patch per object, field manager "rotor"), and each object records the version it came
from, so "rollback" knows where to go.

The plan is printed first; --dry-run stops there; on a terminal rotor asks before applying
unless --yes. Health is judged per kind and by the pods of the new version
(CrashLoopBackOff, CreateContainerConfigError, image pull errors, restarts). On failure
every consumer goes back to its previous version (unless --no-rollback) and the exit
status is 1.

--strategy bluegreen (Deployments only) creates a green copy of each Deployment on the new
version with the same pod labels, and at each of --steps scales green to that share of the
replicas and blue to the rest (a Service selecting the pod labels sends about that share of
requests to green), waits healthy, pauses, then gates; at 100 the original Deployment is
re-pointed and green is deleted. One rotation per family and namespace runs at a time.

--gitops rotates through git where a GitOps engine (Flux, Argo CD) owns the consumers: the
re-point is a commit of the changed names in the manifests under --repo (and --path),
pushed with --push; rotor waits for the cluster to show it, judges health and analysis as
for a live rotation, and on failure commits a revert and waits for the cluster to return.
Blue-green does not run through git (the GitOps engine owns the Deployment's replicas).`,
		Example: examples(name, `
{{.}} rollout auth-api-secrets --to latest -n payments
{{.}} rollout auth-api-secrets --to auth-api-secrets-20250723110000 --workload deployment/api --dry-run
{{.}} rollout auth-api-secrets --to latest --strategy bluegreen --steps 10,50,100 --pause 5m --yes

# Through git: commit the new name to the manifests Flux applies, push, gate, revert on failure
{{.}} rollout auth-api-secrets --to latest -n payments --gitops --repo ./fleet --path apps/payments --push --yes`),
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeFamilies(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(cmd.Context(), args); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.To, "to", "", "The version to move to: a version name, or latest")
	fl.StringVar(&o.Strategy, "strategy", "rolling", "rolling (each workload's own rolling update) or bluegreen (Deployments, in steps)")
	fl.StringVar(&o.Steps, "steps", "10,50,100", "bluegreen: the share of replicas on the new version at each step, in percent")
	fl.DurationVar(&o.Pause, "pause", time.Minute, "bluegreen: how long to watch each step once healthy")
	fl.DurationVar(&o.Timeout, "timeout", rotation.DefaultTimeout, "Deadline of the whole rotation; past it the rotation rolls back (a rollback gets the same time again)")
	fl.StringVar(&o.RollbackScope, "rollback-scope", "all", "With several namespaces (-A), when one batch fails: all (roll back every batch of this run) or failed (only the failing one)")
	fl.BoolVar(&o.NoRollback, "no-rollback", false, "On failure, leave consumers on the new version")
	fl.BoolVarP(&o.Yes, "yes", "y", false, "Apply without asking")
	cmd.Flags().DurationVar(&o.LeaseDuration, "lease-duration", lock.DefaultDuration, "How long the family's lock (a Lease, renewed while rotor runs) outlives a run that was killed")
	o.DryRun.add(cmd)
	o.Scope.add(cmd)
	o.Analysis.AddFlags(fl)
	o.GitOps.add(cmd)
	fl.DurationVar(&o.AnalysisDuration, "analysis-duration", 0, "With --analysis: keep evaluating for this long after the last step (a failure still rolls back)")
	_ = cmd.RegisterFlagCompletionFunc("strategy", cobra.FixedCompletions([]string{"rolling", "bluegreen"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// Complete parses the flags.
func (o *RolloutOptions) Complete(ctx context.Context, args []string) error {
	o.Family = args[0]
	if err := o.Analysis.Complete(o.f.Getenv); err != nil {
		return err
	}
	if err := o.Scope.complete(o.f); err != nil {
		return err
	}
	o.run = fmt.Sprintf("%s-%d", o.f.Clock.Now().UTC().Format("20060102150405"), os.Getpid())
	if o.Analysis.File != "" {
		// Read through the bounded reader: at most 1 MiB, no alias cycles or fan-out.
		b, err := boundedyaml.ReadFile(ctx, o.Analysis.File, boundedyaml.Defaults)
		if err == nil {
			_, err = boundedyaml.Decode(o.Analysis.File, b, boundedyaml.Defaults)
		}
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			return usageErrorf("analysis file %v", err)
		}
		if o.analysisJSON, err = yaml.YAMLToJSON(b); err != nil {
			return usageErrorf("--analysis %s: %v (the file must be an AnalysisTemplate in YAML or JSON)", o.Analysis.File, err)
		}
	}
	if o.Strategy == "bluegreen" {
		for _, s := range strings.Split(o.Steps, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(s, "%")))
			if err != nil {
				return usageErrorf("invalid --steps %q: use percentages like 10,50,100", o.Steps)
			}
			o.steps = append(o.steps, n)
		}
	}
	return nil
}

// Validate checks the flags.
func (o *RolloutOptions) Validate() error {
	if o.To == "" {
		return usageErrorf("--to is required: a version name, or latest (list versions with: versions %s)", o.Family)
	}
	if err := o.DryRun.validate(); err != nil {
		return err
	}
	switch o.Strategy {
	case "rolling":
	case "bluegreen":
		if err := rollout.ValidateSteps(o.steps); err != nil {
			return usageErrorf("--steps: %v", err)
		}
	default:
		return usageErrorf("unknown --strategy %q: use rolling or bluegreen", o.Strategy)
	}
	for _, d := range []struct {
		flag     string
		v        time.Duration
		hi       time.Duration
		positive bool
	}{
		{"--timeout", o.Timeout, maxTimeout, true},
		{"--pause", o.Pause, maxPause, false},
		{"--analysis-duration", o.AnalysisDuration, maxAnalysisDuration, false},
	} {
		if err := checkDuration(d.flag, d.v, 0, d.hi, d.positive); err != nil {
			return err
		}
	}
	if o.RollbackScope != "all" && o.RollbackScope != "failed" {
		return usageErrorf("unknown --rollback-scope %q: use all or failed", o.RollbackScope)
	}
	if o.AnalysisDuration != 0 && o.Analysis.File == "" {
		return usageErrorf("--analysis-duration needs --analysis FILE")
	}
	if err := o.GitOps.validate(); err != nil {
		return err
	}
	if o.GitOps.Enabled {
		if o.Strategy == "bluegreen" {
			return usageErrorf("--gitops with --strategy bluegreen: %v", rotation.ErrBlueGreenThroughGit)
		}
		if o.DryRun.strategy == dryRunServer {
			return usageErrorf("--dry-run=server sends live patches, which a rotation through git does not make: use --dry-run to print the commit's diff")
		}
	}
	return requireConsent(o.f, o.streams, o.Yes, o.DryRun.strategy, "rollout re-points workloads")
}

// request is the planner's request for the flags.
func (o *RolloutOptions) request() rollout.Request {
	return rollout.Request{
		Family: o.Family, Namespace: o.Scope.namespace, To: o.To,
		Selector: o.Scope.selector, Workloads: o.Scope.workloads, AllowDrift: o.Scope.AllowDrift, GitOps: o.GitOps.Enabled,
	}
}

// Run plans, shows the plan, asks, applies and reports.
func (o *RolloutOptions) Run(ctx context.Context) error {
	if handled, err := (deference{o.f, o.streams}).retarget(ctx, o.Scope.namespace, o.Family, o.To, false, o.DryRun.strategy != dryRunNone); handled || err != nil {
		return err
	}
	r, err := newRunner(ctx, o.f, o.streams, o.LeaseDuration, &o.Analysis)
	if err != nil {
		return err
	}
	if err := o.GitOps.complete(ctx, o.f, r.say); err != nil {
		return err
	}
	if o.GitOps.Enabled {
		r.eng.Rotations.GitOps = o.GitOps.mover
		r.eng.Rotations.Driver.Kind = "gitops"
	}
	plan, err := r.eng.Planner.Plan(ctx, o.request())
	if err != nil {
		return err
	}
	if err := printPlan(o.streams.Out, plan); err != nil {
		return err
	}
	if o.DryRun.strategy != dryRunClient {
		// Every write and watch the rotation will make, asked before any change.
		wants := rotationWants(plan, o.Strategy == "bluegreen")
		if o.GitOps.Enabled {
			wants = throughGit(wants)
		}
		if err := checkAccess(ctx, o.f, r.eng.Clients.Typed, wants); err != nil {
			return err
		}
	}
	if o.DryRun.strategy != dryRunNone && !o.GitOps.Enabled {
		return r.dryRun(ctx, plan, o.DryRun.strategy)
	}
	if o.Strategy == "bluegreen" {
		if err := checkBlueGreen(ctx, r, plan, "--strategy bluegreen", "use --strategy rolling, or narrow the scope with --workload or -l"); err != nil {
			return err
		}
	}
	var rots []*v1alpha1.SecretRotation
	for i, items := range batches(plan) {
		rot := rotation.New(o.spec(i), items[0].Consumer.Namespace, items, r.eng.By)
		if o.Analysis.File != "" {
			// Every query is evaluated once before anything changes: a bad query, an
			// unreachable provider or a condition that does not compile refuses the
			// rotation. Each batch is analysed with its own version and namespace.
			if err := o.validateAnalysis(ctx, rot); err != nil {
				return err
			}
		}
		if o.GitOps.Enabled {
			// What the commit will change, and everything that would refuse it, before
			// anything is written.
			if err := o.GitOps.preview(ctx, rot, o.streams.Out); err != nil {
				return err
			}
		}
		rots = append(rots, rot)
	}
	if o.DryRun.strategy != dryRunNone {
		fmt.Fprintln(o.streams.ErrOut, "dry run: nothing was changed or committed")
		return nil
	}
	active := len(plan.Active()) > 0
	if active && !o.Yes {
		ok, err := confirmCtx(ctx, o.streams.In, o.streams.ErrOut, "Apply this rotation?")
		if err != nil {
			return err
		}
		if !ok {
			return errors.New("not applied: declined")
		}
	}
	lk, err := r.lockAll(ctx, o.Family, plan.Namespaces())
	if err != nil {
		return err
	}
	defer lk.release()
	// Plan again under the lock: another run may have moved consumers while this one
	// waited for it, and a rotation must record where each consumer really comes from.
	if rots, err = o.replan(ctx, r, rots); err != nil {
		return err
	}
	abort := ctx.Done()
	var done []*v1alpha1.SecretRotation
	for _, rot := range rots {
		final, err := o.runBatch(ctx, lk.ctx, r, rot, abort)
		if final != nil {
			done = append(done, final)
		}
		if err != nil {
			return err
		}
		if final != nil && final.Status.Phase != v1alpha1.Succeeded {
			break
		}
	}
	if len(done) == 0 {
		return nil
	}
	last := done[len(done)-1]
	if last.Status.Phase != v1alpha1.Succeeded && len(done) > 1 && o.RollbackScope == "all" {
		for _, prev := range done[:len(done)-1] {
			if prev.Status.Phase != v1alpha1.Succeeded {
				continue
			}
			r.say("rolling back batch %s in %s too (--rollback-scope all)", prev.Name, prev.Namespace)
			rb, err := r.eng.Journal.Create(lk.ctx, rotation.NewRollback(prev, r.eng.By, r.f.Clock.Now()))
			if err != nil {
				return err
			}
			if _, err := r.drive(lk.ctx, rb, nil); err != nil {
				return err
			}
			if err := markReverted(lk.ctx, r, prev, rb.Name); err != nil {
				return err
			}
		}
	}
	var firstErr error
	for _, rot := range done {
		if err := printOutcome(o.streams.Out, "rollout", rot, len(done) > 1); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

// replan plans again under the lock and rebuilds the batches (keeping the analysis
// already validated for each).
func (o *RolloutOptions) replan(ctx context.Context, r *runner, old []*v1alpha1.SecretRotation) ([]*v1alpha1.SecretRotation, error) {
	plan, err := r.eng.Planner.Plan(ctx, o.request())
	if err != nil {
		return nil, err
	}
	var rots []*v1alpha1.SecretRotation
	for i, items := range batches(plan) {
		rots = append(rots, rotation.New(o.spec(i), items[0].Consumer.Namespace, items, r.eng.By))
	}
	if len(rots) != len(old) {
		r.say("the consumers changed while this run waited for the lock; going on with the new plan")
	}
	return rots, nil
}

// runBatch runs one batch: an unfinished rotation to the same version is resumed, one
// to another version is rolled back first; with nothing to re-point the consumers are
// only checked for health.
func (o *RolloutOptions) runBatch(ctx, hard context.Context, r *runner, rot *v1alpha1.SecretRotation, abort <-chan struct{}) (*v1alpha1.SecretRotation, error) {
	unfinished, err := r.unfinished(hard, rot.Namespace, o.Family)
	if err != nil {
		return nil, err
	}
	for _, u := range unfinished {
		if u.Spec.Action == v1alpha1.ActionRollout && u.Status.TargetVersion == rot.Status.TargetVersion && u.Status.TargetVersion != "" {
			if u.Spec.Strategy.Type != rot.Spec.Strategy.Type {
				r.say("the unfinished rotation is %s; this run's --strategy %s is ignored while it is finished", u.Spec.Strategy.Type, rot.Spec.Strategy.Type)
			}
			return r.resume(hard, u, abort)
		}
		if _, err := r.rollBackUnfinished(hard, u, abort); err != nil {
			return nil, err
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	active := false
	for _, c := range rot.Status.Consumers {
		active = active || (!c.Skip && c.From != c.To)
	}
	if !active {
		fmt.Fprintf(o.streams.Out, "nothing to re-point: every consumer in scope already names %s; checking that they are healthy\n", rot.Status.TargetVersion)
		return nil, r.converge(hard, rot)
	}
	created, err := r.eng.Journal.Create(hard, rot)
	if err != nil {
		return nil, err
	}
	return r.drive(hard, created, abort)
}

func (o *RolloutOptions) spec(batch int) v1alpha1.RotationSpec {
	spec := v1alpha1.RotationSpec{
		Family: o.Family, Target: o.To, Action: v1alpha1.ActionRollout,
		Strategy:   v1alpha1.Strategy{Type: v1alpha1.StrategyType(o.Strategy)},
		NoRollback: o.NoRollback, Timeout: &metav1.Duration{Duration: o.Timeout},
		Run: o.run, Batch: int32(batch), GitOps: o.GitOps.spec.DeepCopy(),
	}
	if o.Strategy == "bluegreen" {
		for _, s := range o.steps {
			spec.Strategy.Steps = append(spec.Strategy.Steps, int32(s))
		}
		spec.Strategy.Pause = &metav1.Duration{Duration: o.Pause}
	}
	if o.Scope.selector != nil && !o.Scope.selector.Empty() {
		if sel, err := metav1.ParseToLabelSelector(o.Scope.selector.String()); err == nil {
			spec.Scope.Selector = sel
		}
	}
	for _, w := range o.Scope.workloads {
		spec.Scope.Workloads = append(spec.Scope.Workloads, v1alpha1.WorkloadRef{Kind: w.Kind, Name: w.Name})
	}
	if o.analysisJSON != nil {
		spec.Analysis = &v1alpha1.Analysis{Inline: &runtime.RawExtension{Raw: o.analysisJSON}, Inconclusive: v1alpha1.InconclusivePause}
		spec.Analysis.Args = o.Analysis.record()
		if o.AnalysisDuration > 0 {
			spec.Analysis.Duration = &metav1.Duration{Duration: o.AnalysisDuration}
		}
	}
	return spec
}

// validateAnalysis loads --analysis with the batch's facts and evaluates every query
// once.
func (o *RolloutOptions) validateAnalysis(ctx context.Context, rot *v1alpha1.SecretRotation) error {
	return validateAnalysis(ctx, o.f, &o.Analysis, rot)
}

// validateAnalysis loads the analysis a with a batch's facts and evaluates every query
// once: a bad query, an unreachable provider or a condition that does not compile
// refuses the rotation before anything changes.
func validateAnalysis(ctx context.Context, f *factory, a *AnalysisFlags, rot *v1alpha1.SecretRotation) error {
	fam := rot.Spec.Family
	if _, err := a.Load(ctx, analysis.Facts{Family: fam, Version: rot.Status.TargetVersion, Namespace: rot.Namespace}); err != nil {
		return err
	}
	g, err := engine.AnalysisGate(rot, a.GateOptions(f, nil))
	if err != nil {
		return usageErrorf("%v", err)
	}
	if err := g.Validate(ctx, gate.Step{Family: fam, Namespace: rot.Namespace, Version: rot.Status.TargetVersion}); err != nil {
		return flatten("the analysis cannot run, so nothing was changed: %s", err)
	}
	return nil
}

// checkBlueGreen refuses a blue-green plan with consumers that are not Deployments, or
// Deployments an autoscaler scales. what names the setting that asked for blue-green,
// instead what to do.
func checkBlueGreen(ctx context.Context, r *runner, plan *rollout.Plan, what, instead string) error {
	if others := rollout.NotDeployments(plan.Active()); len(others) > 0 {
		return usageErrorf("%s works on Deployments only, and these consumers are not: %s; %s", what, strings.Join(others, ", "), instead)
	}
	return rollout.AutoscaledDeployments(ctx, r.eng.Clients.Typed, plan.Active())
}
