package cli

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/internal/access"
	"github.com/rotor-project/rotor/internal/boundedyaml"
	"github.com/rotor-project/rotor/internal/buildinfo"
	"github.com/rotor-project/rotor/internal/config"
	"github.com/rotor-project/rotor/internal/kube"
	"github.com/rotor-project/rotor/internal/rollout"
	"github.com/rotor-project/rotor/internal/rotation"
	"github.com/rotor-project/rotor/internal/runbook"
	"github.com/rotor-project/rotor/internal/verify"
	"github.com/rotor-project/rotor/internal/versions"
)

// Checklist entries the environment layer records on a rotation.
const (
	checkRollbackDocumented = "rollback documented"
	checkMonitoring         = "monitoring verified"
	checkWindow             = "window"
	checkEligible           = "old version eligible for cleanup"
	checkDeleted            = "old version deleted"
)

// envRunFlags are the flags of a command that rotates in an environment.
type envRunFlags struct {
	Yes           bool
	Timeout       time.Duration
	LeaseDuration time.Duration
	IgnoreWindow  bool
}

// envRun is one rotation of a family in an environment, under its policy: in each
// cluster of the environment, one after another (a fleet is a wave), a new version per
// namespace and its rollout, each a journaled rotation; all share one rotation ID
// (spec.run). A failure stops the wave and rolls back that cluster, and with
// fleetRollback: fleet the clusters before it.
type envRun struct {
	f       *factory
	streams IOStreams
	env     *envFlags
	flags   envRunFlags
	fam     string
	verb    string
	adopt   bool
	// data makes the new version's data in a namespace of a cluster.
	data func(ctx context.Context, c *kube.Clients, ns string) (*newData, error)
	// info is the environment information every batch records (links, overrides).
	info v1alpha1.EnvironmentInfo
	// checks are milestones every batch records at creation (window, promotion).
	checks []v1alpha1.ChecklistEntry
	window *v1alpha1.WindowPolicy
	id     string

	analysis     *AnalysisFlags
	analysisJSON []byte
}

// cluster is one cluster of the wave: its runner and its batches.
type cluster struct {
	name    string
	r       *runner
	rots    []*v1alpha1.SecretRotation
	created []*corev1.Secret
	lock    *locked
	finals  []*v1alpha1.SecretRotation
}

// newEnvRun prepares a run: the rotation ID, the analysis of the policy.
func newEnvRun(ctx context.Context, f *factory, streams IOStreams, env *envFlags, flags envRunFlags, fam, verb string) (*envRun, error) {
	e := &envRun{f: f, streams: streams, env: env, flags: flags, fam: fam, verb: verb,
		id: fmt.Sprintf("%s-%s-%04x", env.Env, f.Clock.Now().UTC().Format("20060102150405"), os.Getpid()%0x10000)}
	e.info = v1alpha1.EnvironmentInfo{Name: env.Env}
	// The default deadline leaves the policy's pauses and watch their time.
	e.flags.Timeout = envTimeout(env.policy, flags.Timeout)
	if a := env.policy.Analysis.Value; a != nil {
		af := &AnalysisFlags{File: a.Path}
		for _, k := range slices.Sorted(maps.Keys(a.Args)) {
			af.Args = append(af.Args, k+"="+a.Args[k])
		}
		if err := af.Complete(os.Getenv); err != nil {
			return nil, err
		}
		// Bounded as every file a person writes: size, alias cycles and fan-out.
		b, err := boundedyaml.ReadFile(ctx, a.Path, boundedyaml.Defaults)
		if err == nil {
			_, err = boundedyaml.Decode(a.Path, b, boundedyaml.Defaults)
		}
		if err != nil {
			return nil, fmt.Errorf("analysis %s%s: %w", a.Template, policyPos(env.policy.Analysis), err)
		}
		if e.analysisJSON, err = yaml.YAMLToJSON(b); err != nil {
			return nil, fmt.Errorf("analysis %s%s: %w (it must be an AnalysisTemplate in YAML or JSON)", a.Template, policyPos(env.policy.Analysis), err)
		}
		e.analysis = af
	}
	return e, nil
}

// windowCheck refuses a start outside every maintenance window of the environment
// (unless ignored, which is recorded) and sets the window the engine keeps at each step
// boundary.
func (e *envRun) windowCheck(by string) error {
	now := e.f.Clock.Now()
	p := e.env.policy
	s := p.Windows.Value
	at := metav1.NewTime(now)
	if s.Always() {
		e.checks = append(e.checks, v1alpha1.ChecklistEntry{Name: checkWindow, At: at, Detail: "no maintenance windows: any time"})
		return nil
	}
	iv, open := s.Current(now)
	switch {
	case open:
		e.window = windowPolicy(s, p.OnWindowEnd.Value)
		e.checks = append(e.checks, v1alpha1.ChecklistEntry{Name: checkWindow, At: at,
			Detail: fmt.Sprintf("inside %s, open until %s (onWindowEnd: %s)", s, rfc3339(iv.End), p.OnWindowEnd.Value)})
		return nil
	case e.flags.IgnoreWindow:
		e.info.IgnoredWindow = &v1alpha1.Override{By: by, At: at, Overrode: []string{"outside every maintenance window: " + s.String()}}
		e.checks = append(e.checks, v1alpha1.ChecklistEntry{Name: checkWindow, At: at, By: by, Detail: "outside every window (" + s.String() + "): --ignore-window by " + by})
		return nil
	}
	next := s.Next(now)
	return usageErrorf("%s is outside environment %s's maintenance windows (%s%s): the next opens %s (in %s); nothing was changed. Run it then, or pass --ignore-window (recorded with your name)",
		rfc3339(now), e.env.Env, s, policyPos(p.Windows), rfc3339(next.Start), next.Start.Sub(now).Round(time.Minute))
}

func windowPolicy(s config.Schedule, onEnd config.OnWindowEnd) *v1alpha1.WindowPolicy {
	p := &v1alpha1.WindowPolicy{OnEnd: string(onEnd)}
	for _, w := range s {
		p.Windows = append(p.Windows, v1alpha1.MaintenanceWindow{Days: w.DayNames(), Start: w.StartText(), End: w.EndText(), TimeZone: w.TimeZone})
	}
	return p
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// run plays the wave.
func (e *envRun) run(ctx context.Context) error {
	names := e.env.clusters()
	var done []*cluster
	for i, name := range names {
		if ctx.Err() != nil {
			return e.stopWave(ctx, done, name, ctx.Err())
		}
		if e.env.fleet() {
			fmt.Fprintf(e.streams.ErrOut, "==> %s (%d of %d)\n", clusterName(name), i+1, len(names))
		}
		c, err := e.prepare(ctx, name)
		if err != nil {
			if i == 0 {
				return err
			}
			return e.stopWave(ctx, done, name, err)
		}
		err = e.execute(ctx, c)
		e.printOutcomes(c)
		if err != nil {
			return e.stopWave(ctx, done, name, err)
		}
		if failed := failedBatch(c); failed != nil {
			return e.stopWave(ctx, done, name, fmt.Errorf("%w: %s", errRotationFailed, failureOf(failed)))
		}
		done = append(done, c)
	}
	n := 0
	for _, c := range done {
		n += len(c.finals)
	}
	fmt.Fprintf(e.streams.Out, "rotation %s: %s of %s in environment %s succeeded (%d cluster(s), %d namespace(s))\n", e.id, e.verb, e.fam, e.env.Env, len(done), n)
	return nil
}

// stopWave ends a wave at a cluster that failed: the clusters before it are rolled back
// when the policy says fleet.
func (e *envRun) stopWave(ctx context.Context, done []*cluster, at string, cause error) error {
	if len(done) == 0 {
		return cause
	}
	if e.env.policy.FleetRollback.Value != config.RollbackFleet {
		fmt.Fprintf(e.streams.ErrOut, "the wave stopped at %s; the %d cluster(s) before it stay on the new version (fleetRollback: cluster)\n", clusterName(at), len(done))
		return fmt.Errorf("%w (the wave stopped at %s; earlier clusters were left as they are)", cause, clusterName(at))
	}
	fmt.Fprintf(e.streams.ErrOut, "the wave stopped at %s; rolling back the %d cluster(s) before it (fleetRollback: fleet)\n", clusterName(at), len(done))
	hard := context.WithoutCancel(ctx)
	var errs []error
	for i := len(done) - 1; i >= 0; i-- {
		c := done[i]
		var nss []string
		for _, rot := range c.finals {
			nss = append(nss, rot.Namespace)
		}
		lk, err := c.r.lockAll(hard, e.fam, nss)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, rot := range c.finals {
			if rot.Status.Phase == v1alpha1.Succeeded {
				if err := e.rollBack(lk.ctx, c, rot); err != nil {
					errs = append(errs, err)
				}
			}
		}
		lk.release()
	}
	return errors.Join(append([]error{fmt.Errorf("%w (the wave stopped at %s; earlier clusters were rolled back)", cause, clusterName(at))}, errs...)...)
}

// rollBack reverses a succeeded batch with a rollback rotation and records it.
func (e *envRun) rollBack(ctx context.Context, c *cluster, rot *v1alpha1.SecretRotation) error {
	c.r.say("rolling back %s in %s (%s)", rot.Name, rot.Namespace, clusterName(c.name))
	rb, err := c.r.eng.Journal.Create(ctx, rotation.NewRollback(rot, c.r.eng.By, e.f.Clock.Now()))
	if err != nil {
		return err
	}
	final, err := c.r.drive(ctx, rb, nil)
	if err != nil {
		return err
	}
	if err := markReverted(ctx, c.r, rot, rb.Name); err != nil {
		return err
	}
	fmt.Fprintf(e.streams.Out, "rolled back %s in %s (%s): %s\n", rot.Name, rot.Namespace, clusterName(c.name), final.Status.Phase)
	return nil
}

func failedBatch(c *cluster) *v1alpha1.SecretRotation {
	for _, rot := range c.finals {
		if rot.Status.Phase != v1alpha1.Succeeded {
			return rot
		}
	}
	return nil
}

func failureOf(rot *v1alpha1.SecretRotation) string {
	if f := rot.Status.Failure; f != nil {
		return fmt.Sprintf("%s in %s: %s", rot.Name, rot.Namespace, failureLine(f))
	}
	return fmt.Sprintf("%s in %s: %s", rot.Name, rot.Namespace, rot.Status.Message)
}

// prepare locks the environment's namespaces in one cluster, creates the new versions
// and plans their rollout. Refused (a plan problem, a missing key, a declined prompt),
// it deletes the versions it created and releases the locks: nothing changed.
func (e *envRun) prepare(ctx context.Context, name string) (*cluster, error) {
	clients, err := e.f.ClientsFor(name)
	if err != nil {
		return nil, err
	}
	r, err := newRunnerFor(ctx, e.f, clients, e.streams, e.flags.LeaseDuration, e.analysis)
	if err != nil {
		return nil, err
	}
	c := &cluster{name: name, r: r}
	pol := e.env.policy
	if err := checkAccess(ctx, e.f, clients.Typed, envWants(pol)); err != nil {
		return nil, err
	}
	c.lock, err = r.lockAll(ctx, e.fam, pol.Namespaces)
	if err != nil {
		return nil, err
	}
	refuse := func(err error) (*cluster, error) {
		e.discard(c)
		return nil, err
	}
	for _, ns := range pol.Namespaces {
		if v := pol.Verify.Value; v != nil {
			if _, err := verify.Template(ctx, clients.Typed, ns, v.Job); err != nil {
				return refuse(fmt.Errorf("verify.job%s: %w; nothing was changed", policyPos(pol.Verify), err))
			}
		}
		nd, err := e.data(ctx, clients, ns)
		if err != nil {
			return refuse(err)
		}
		if missing := missingKeys(pol.RequiredKeys.Value, nd.Data); len(missing) > 0 {
			return refuse(usageErrorf("family %s must have the key(s) %s (requiredKeys%s), and the new version would lack them: add them; nothing was changed",
				e.fam, strings.Join(missing, ", "), policyPos(pol.RequiredKeys)))
		}
		res, err := (&versions.Creator{Client: clients.Typed, Clock: e.f.Clock, RotorVersion: buildinfo.Version}).Create(ctx,
			versions.CreateRequest{Namespace: ns, Family: e.fam, Type: nd.Type, Data: nd.Data, CreatedBy: r.eng.By})
		if err != nil {
			return refuse(err)
		}
		c.created = append(c.created, res.Secret)
		how := fmt.Sprintf("%d key(s)", len(nd.Data))
		if nd.From != "" {
			how = fmt.Sprintf("%d key(s) copied from %s inside the cluster, %d replaced", len(nd.Copied), nd.From, len(nd.Data)-len(nd.Copied))
		}
		r.say("created %s in %s (%s)", res.Secret.Name, ns, how)
		plan, err := r.eng.Planner.Plan(ctx, rollout.Request{Family: e.fam, Namespace: ns, To: res.Secret.Name, Unversioned: e.adopt})
		if err != nil {
			return refuse(e.planProblem(ctx, clients, ns, err))
		}
		if v := pol.Verify.Value; v != nil {
			noteVerifyTemplate(plan, v.Job)
		}
		if err := printPlan(e.streams.Out, plan); err != nil {
			return refuse(err)
		}
		// Every write and watch the consumers need, asked before any of them changes
		// (refused, the new version is deleted again: envWants asked for that first).
		if err := checkAccess(ctx, e.f, clients.Typed, envConsumerWants(plan, pol)); err != nil {
			return refuse(err)
		}
		if pol.Strategy.Value == config.BlueGreen {
			if err := checkBlueGreen(ctx, r, plan, "strategy bluegreen"+policyPos(pol.Strategy), "change the environment's strategy to rolling"); err != nil {
				return refuse(err)
			}
		}
		for _, items := range batches(plan) {
			rot := rotation.New(e.spec(name, len(c.rots), res.Secret.Name), ns, items, r.eng.By)
			if err := e.record(ctx, c, rot); err != nil {
				return refuse(err)
			}
			c.rots = append(c.rots, rot)
		}
	}
	if !e.flags.Yes && e.f.IsTerminal(e.streams.In) && !confirm(e.streams.In, e.streams.ErrOut, fmt.Sprintf("Roll these out in %s?", clusterName(name))) {
		return refuse(errors.New("not applied: declined; the new versions were deleted"))
	}
	return c, nil
}

// envWants are the permissions an environment's rotation needs in its namespaces
// before it changes anything: the lock and the journal, creating the new version and
// deleting it again should the rotation be refused or declined, and the verification
// Job's when the environment has one. Those of the consumers (envConsumerWants) are
// asked once the plan names them.
func envWants(pol config.Policy) []access.Want {
	var wants []access.Want
	for _, ns := range pol.Namespaces {
		wants = append(wants, journalWants(ns)...)
		wants = append(wants,
			access.Want{Verb: "create", Resource: "secrets", Namespace: ns, Why: "create the new version"},
			access.Want{Verb: "delete", Resource: "secrets", Namespace: ns, Why: "delete the new version again if the rotation is refused or declined"})
		if v := pol.Verify.Value; v != nil {
			for _, verb := range []string{"create", "get", "list", "watch"} {
				wants = append(wants, access.Want{Verb: verb, Group: "batch", Resource: "jobs", Namespace: ns, Why: "run the verification Job made from " + v.Job})
			}
		}
	}
	return wants
}

// envConsumerWants are the permissions the consumers of plan need moved.
func envConsumerWants(plan *rollout.Plan, pol config.Policy) []access.Want {
	return consumerWants(plan, pol.Strategy.Value == config.BlueGreen)
}

// noteVerifyTemplate explains the environment's verification template where a plan
// lists it: a Job found as a consumer that cannot be re-pointed, and need not be, since
// every verification Job made from it names the version under test.
func noteVerifyTemplate(plan *rollout.Plan, job string) {
	for i := range plan.Items {
		it := &plan.Items[i]
		if it.Skip && it.Consumer.Kind == "Job" && it.Consumer.Name == job {
			it.Note = "the verification template (verify.job): it is not re-pointed; each verification Job rotor makes from it names the new version"
		}
	}
}

// discard deletes the versions a refused cluster created and releases its locks.
func (e *envRun) discard(c *cluster) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, s := range c.created {
		uid := s.UID
		err := c.r.eng.Clients.Typed.CoreV1().Secrets(s.Namespace).Delete(ctx, s.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
		if err != nil {
			fmt.Fprintf(e.streams.ErrOut, "warning: could not delete the unused version %s in %s: %v\n", s.Name, s.Namespace, err)
		}
	}
	if c.lock != nil {
		c.lock.release()
	}
}

// planProblem explains a refused plan; a namespace that still uses the unversioned
// Secret gets the way out: adoption.
func (e *envRun) planProblem(ctx context.Context, c *kube.Clients, ns string, err error) error {
	if e.adopt {
		return err
	}
	if _, gerr := c.Typed.CoreV1().Secrets(ns).Get(ctx, e.fam, metav1.GetOptions{}); gerr == nil {
		return fmt.Errorf("%w\nnamespace %s still has the unversioned Secret %s: environment %s is versioned, so rotor does not replace it in place (that is the dev flow, for environments with versioned: false); migrate its consumers to versions first: rotor adopt %s --env %s; nothing was changed",
			err, ns, e.fam, e.env.Env, e.fam, e.env.Env)
	}
	return fmt.Errorf("%w; nothing was changed", err)
}

// spec is a batch's spec under the environment's policy.
func (e *envRun) spec(clusterName string, batch int, version string) v1alpha1.RotationSpec {
	pol := e.env.policy
	spec := v1alpha1.RotationSpec{
		Family: e.fam, Target: version, Action: v1alpha1.ActionRollout,
		Strategy: v1alpha1.Strategy{Type: v1alpha1.StrategyType(pol.Strategy.Value)},
		Timeout:  &metav1.Duration{Duration: e.flags.Timeout},
		Run:      e.id, Batch: int32(batch), Adopt: e.adopt, Window: e.window,
	}
	if pol.Strategy.Value == config.BlueGreen {
		for _, s := range pol.Steps.Value {
			spec.Strategy.Steps = append(spec.Strategy.Steps, int32(s))
		}
		spec.Strategy.Pause = &metav1.Duration{Duration: pol.Pause.Value}
	}
	if e.analysisJSON != nil {
		a := pol.Analysis.Value
		spec.Analysis = &v1alpha1.Analysis{Inline: &runtime.RawExtension{Raw: e.analysisJSON}, Inconclusive: v1alpha1.InconclusivePause}
		for _, k := range slices.Sorted(maps.Keys(a.Args)) {
			spec.Analysis.Args = append(spec.Analysis.Args, v1alpha1.AnalysisArg{Name: k, Value: a.Args[k]})
		}
		if w := pol.Watch.Value; w > 0 {
			spec.Analysis.Duration = &metav1.Duration{Duration: w}
		}
	}
	if v := pol.Verify.Value; v != nil {
		spec.Verify = &v1alpha1.Verify{Job: v.Job}
	}
	info := e.info
	info.Context = clusterName
	spec.Environment = &info
	return spec
}

// record writes the milestones a new batch starts with: created, the rollback it can
// take, the monitoring checked, the window, and what it was promoted from.
func (e *envRun) record(ctx context.Context, c *cluster, rot *v1alpha1.SecretRotation) error {
	at := metav1.NewTime(e.f.Clock.Now())
	st := &rot.Status
	rotation.Check(st, v1alpha1.ChecklistEntry{Name: rotation.CheckCreated, At: at})
	rotation.Check(st, v1alpha1.ChecklistEntry{Name: checkRollbackDocumented, At: at, Detail: rollbackText(e.fam, rot.Namespace, c.name, rot)})
	if e.analysis != nil {
		if err := validateAnalysis(ctx, e.f, e.analysis, rot); err != nil {
			return err
		}
		rotation.Check(st, v1alpha1.ChecklistEntry{Name: checkMonitoring, At: metav1.NewTime(e.f.Clock.Now()),
			Detail: fmt.Sprintf("every query of %s evaluated once against %s", e.env.policy.Analysis.Value.Template, st.TargetVersion)})
	}
	for _, x := range e.checks {
		rotation.Check(st, x)
	}
	return nil
}

// rollbackText is the rollback a batch documents: the command and where it returns.
func rollbackText(fam, ns, ctxName string, rot *v1alpha1.SecretRotation) string {
	return fmt.Sprintf("rotor rollback %s -n %s%s --yes returns the consumers to %s", fam, ns, contextFlag(ctxName), strings.Join(fromVersions(rot), ", "))
}

// fromVersions are the versions a rotation's consumers come from.
func fromVersions(rot *v1alpha1.SecretRotation) []string {
	seen := map[string]bool{}
	var out []string
	for _, c := range rot.Status.Consumers {
		if !c.Skip && c.From != "" && c.From != c.To && !seen[c.From] {
			seen[c.From] = true
			out = append(out, c.From)
		}
	}
	if len(out) == 0 {
		return []string{"where they are (nothing moves)"}
	}
	return out
}

// execute runs a prepared cluster's batches under its locks: an unfinished rotation a
// killed run left in a namespace is rolled back first; a failed batch rolls back the
// batches of this cluster before it.
func (e *envRun) execute(ctx context.Context, c *cluster) error {
	defer c.lock.release()
	r, hard := c.r, c.lock.ctx
	for _, rot := range c.rots {
		unfinished, err := r.unfinished(hard, rot.Namespace, e.fam)
		if err != nil {
			return err
		}
		for _, u := range unfinished {
			if _, err := r.rollBackUnfinished(hard, u, ctx.Done()); err != nil {
				return err
			}
		}
		created, err := r.eng.Journal.Create(hard, rot)
		if err != nil {
			return err
		}
		final, err := r.drive(hard, created, ctx.Done())
		if final != nil {
			c.finals = append(c.finals, final)
		}
		if err != nil {
			return err
		}
		if final.Status.Phase != v1alpha1.Succeeded {
			break
		}
	}
	if failedBatch(c) != nil {
		for _, prev := range c.finals {
			if prev.Status.Phase == v1alpha1.Succeeded {
				if err := e.rollBack(hard, c, prev); err != nil {
					return err
				}
			}
		}
		return nil
	}
	for i, rot := range c.finals {
		next, err := e.markEligible(hard, c, rot)
		if err != nil {
			return err
		}
		c.finals[i] = next
	}
	return nil
}

// markEligible records on a succeeded batch when cleanup may delete the versions it
// replaced (retention from its finish; the newest keep are kept whatever their age).
func (e *envRun) markEligible(ctx context.Context, c *cluster, rot *v1alpha1.SecretRotation) (*v1alpha1.SecretRotation, error) {
	if rot.Status.Finished == nil {
		return rot, nil
	}
	entry := eligibleEntry(rot, e.fam, e.env.policy, c.name)
	return amendJournal(ctx, c.r, rot, func(r *v1alpha1.SecretRotation) { rotation.Check(&r.Status, entry) })
}

// eligibleEntry is the "old version eligible for cleanup" entry of a finished rotation:
// when, and the cleanup command that keeps what the policy's retention keeps. An
// adoption replaced the unversioned Secret, which cleanup never deletes: it says so.
func eligibleEntry(rot *v1alpha1.SecretRotation, fam string, pol config.Policy, kubeContext string) v1alpha1.ChecklistEntry {
	from := fromVersions(rot)
	if len(from) == 1 && from[0] == fam {
		return v1alpha1.ChecklistEntry{Name: checkEligible, At: *rot.Status.Finished,
			Detail: fmt.Sprintf("the unversioned Secret %s is not a version: cleanup never deletes it; delete it yourself once nothing names it (rotor refs %s -n %s%s)",
				fam, fam, rot.Namespace, contextFlag(kubeContext))}
	}
	return v1alpha1.ChecklistEntry{Name: checkEligible, At: metav1.NewTime(rot.Status.Finished.Add(pol.Retain.Value)),
		Detail: fmt.Sprintf("cleanup may delete %s from then (retain %s from this rotation's finish; the newest %d are always kept): rotor cleanup %s -n %s%s %s",
			strings.Join(from, ", "), runbook.Period(pol.Retain.Value), pol.Keep.Value, fam, rot.Namespace, contextFlag(kubeContext), runbook.CleanupFlags(pol))}
}

// amendJournal changes a stored rotation, re-reading it on conflict.
func amendJournal(ctx context.Context, r *runner, rot *v1alpha1.SecretRotation, change func(*v1alpha1.SecretRotation)) (*v1alpha1.SecretRotation, error) {
	for attempt := 0; attempt < 5; attempt++ {
		cur, err := r.eng.Journal.Get(ctx, rot.Namespace, rot.Name)
		if err != nil {
			return rot, err
		}
		change(cur)
		saved, err := r.eng.Journal.Update(ctx, cur)
		if err == nil {
			return saved, nil
		}
		if !rotation.IsConflict(err) {
			return rot, err
		}
	}
	return rot, fmt.Errorf("could not update rotation %s in namespace %q: it kept changing", rot.Name, rot.Namespace)
}

// printOutcomes reports a cluster's batches.
func (e *envRun) printOutcomes(c *cluster) {
	for _, rot := range c.finals {
		prefix := ""
		if e.env.fleet() {
			prefix = clusterName(c.name) + ": "
		}
		fmt.Fprint(e.streams.Out, prefix)
		_ = printOutcome(e.streams.Out, e.verb, rot, true)
	}
}
