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
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/internal/lock"
	"github.com/rotor-project/rotor/internal/repoint"
	"github.com/rotor-project/rotor/internal/rollout"
	"github.com/rotor-project/rotor/internal/rotation"
)

// RollbackOptions are the inputs of `rotor rollback`.
type RollbackOptions struct {
	Family  string
	To      string
	Timeout time.Duration
	// LeaseDuration is how long the family's lock outlives a run that died.
	LeaseDuration time.Duration
	Yes           bool
	DryRun        dryRunFlag
	Scope         scopeFlags
	// GitOps rolls back through git: a commit of the previous names.
	GitOps gitopsFlags

	streams IOStreams
	f       *factory
}

// NewCmdRollback builds `rotor rollback FAMILY [--to VERSION]`.
func NewCmdRollback(f *factory, name string, streams IOStreams) *cobra.Command {
	o := &RollbackOptions{streams: streams, f: f}
	cmd := &cobra.Command{
		Use:   "rollback FAMILY [--to VERSION] [-n NS] [-l SELECTOR] [--workload KIND/NAME]",
		Short: "Re-point consumers back to the versions they had before the last rotation",
		Long: `Reverse the last rollout of FAMILY in the namespace: every consumer it moved goes back to
the version it named before, as that rotation's journal recorded it. With --to VERSION every
consumer in scope goes to VERSION instead. Every target is checked to exist first; if one was
deleted, nothing changes. All consumers are re-pointed in parallel; rotor prints the time
until every reference was re-pointed and the time until all were healthy.

Rolling back twice does nothing the second time: the journal says the rollout was already
reversed. A rollout that was interrupted (its run was killed) is rolled back from its
journal; a rollback that was interrupted is finished.

A rollout made through git (rollout --gitops) is rolled back through git: --gitops --repo
DIR commits the previous names (the commit says which commit it reverts), pushes it with
--push, and waits for the GitOps engine to apply it.`,
		Example: examples(name, `
{{.}} rollback auth-api-secrets -n payments --yes
{{.}} rollback auth-api-secrets --to auth-api-secrets-20250715100000 --workload deployment/api
{{.}} rollback auth-api-secrets -n payments --gitops --repo ./fleet --path apps/payments --push --yes`),
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeFamilies(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Family = args[0]
			if o.Scope.AllNamespaces {
				return usageErrorf("rollback works in one namespace at a time: use -n NAMESPACE (each namespace's journal says where its consumers came from)")
			}
			if err := o.Scope.complete(f); err != nil {
				return err
			}
			if err := o.DryRun.validate(); err != nil {
				return err
			}
			if err := checkDuration("--timeout", o.Timeout, 0, maxTimeout, true); err != nil {
				return err
			}
			if err := requireConsent(f, streams, o.Yes, o.DryRun.strategy, "rollback re-points workloads"); err != nil {
				return err
			}
			if err := o.GitOps.validate(); err != nil {
				return err
			}
			if o.GitOps.Enabled && o.DryRun.strategy == dryRunServer {
				return usageErrorf("--dry-run=server sends live patches, which a rollback through git does not make: use --dry-run to print the commit's diff")
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVar(&o.To, "to", "", "Roll every consumer in scope back to this version instead of where the last rollout found it")
	cmd.Flags().DurationVar(&o.Timeout, "timeout", rotation.DefaultTimeout, "Deadline of the rollback")
	cmd.Flags().BoolVarP(&o.Yes, "yes", "y", false, "Apply without asking")
	cmd.Flags().DurationVar(&o.LeaseDuration, "lease-duration", lock.DefaultDuration, "How long the family's lock (a Lease, renewed while rotor runs) outlives a run that was killed (5s to 10m)")
	o.DryRun.add(cmd)
	o.Scope.add(cmd)
	o.GitOps.add(cmd)
	return cmd
}

// Run finds what to roll back, shows it, asks, re-points and reports.
func (o *RollbackOptions) Run(ctx context.Context) error {
	if handled, err := (deference{o.f, o.streams}).retarget(ctx, o.Scope.namespace, o.Family, o.To, true, o.DryRun.strategy != dryRunNone); handled || err != nil {
		return err
	}
	r, err := newRunner(ctx, o.f, o.streams, o.LeaseDuration, nil)
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
	ns := o.Scope.namespace
	unfinished, err := r.unfinished(ctx, ns, o.Family)
	if err != nil {
		return err
	}
	var rb *v1alpha1.SecretRotation
	var reverts *v1alpha1.SecretRotation
	switch {
	case len(unfinished) > 0:
		// An interrupted run: finish it under the lock below (a rollout is rolled back).
	case o.To != "":
		plan, err := r.eng.Planner.Plan(ctx, rollout.Request{Family: o.Family, Namespace: ns, To: o.To, Back: true,
			Selector: o.Scope.selector, Workloads: o.Scope.workloads, AllowDrift: o.Scope.AllowDrift, GitOps: o.GitOps.Enabled})
		if err != nil {
			return err
		}
		spec := v1alpha1.RotationSpec{Family: o.Family, Target: o.To, Action: v1alpha1.ActionRollback, Timeout: &metav1.Duration{Duration: o.Timeout},
			GitOps: o.GitOps.spec.DeepCopy()}
		rb = rotation.New(spec, ns, plan.Items, r.eng.By)
	default:
		last, why, err := latestRollout(ctx, r, ns, o.Family)
		if err != nil {
			return err
		}
		if last == nil {
			fmt.Fprintln(o.streams.Out, "nothing to do: "+why)
			return nil
		}
		reverts = last
		if last.Spec.GitOps != nil && !o.GitOps.Enabled {
			return usageErrorf("the last rollout of %q in namespace %q (%s) went through git; roll it back through git too, with --gitops --repo DIR: a live rollback would be reverted by the GitOps engine", o.Family, ns, last.Name)
		}
		rb = rotation.NewRollback(last, r.eng.By, r.f.Clock.Now())
		rb.Spec.Timeout = &metav1.Duration{Duration: o.Timeout}
		rb.Spec.GitOps = o.GitOps.spec.DeepCopy()
		if err := o.narrow(ctx, r, rb); err != nil {
			return err
		}
	}
	if rb != nil {
		if err := printRollback(o.streams.Out, rb); err != nil {
			return err
		}
		if err := o.preflight(ctx, r, rb); err != nil {
			return err
		}
		if !anyMoves(rb) {
			fmt.Fprintln(o.streams.Out, "nothing to do: every consumer in scope already names its rollback target")
			return nil
		}
		if o.DryRun.strategy != dryRunClient {
			plan := &rollout.Plan{Family: o.Family, Items: itemsOf(rb)}
			wants := rotationWants(plan, false)
			if o.GitOps.Enabled {
				wants = throughGit(wants)
			}
			if err := checkAccess(ctx, o.f, r.eng.Clients.Typed, wants); err != nil {
				return err
			}
		}
		if o.GitOps.Enabled {
			if err := o.GitOps.preview(ctx, rb, o.streams.Out); err != nil {
				return err
			}
		}
	}
	if o.DryRun.strategy != dryRunNone {
		if rb != nil && o.DryRun.strategy == dryRunServer {
			return r.dryRun(ctx, &rollout.Plan{Family: o.Family, Items: itemsOf(rb)}, dryRunServer)
		}
		fmt.Fprintln(o.streams.ErrOut, "dry run: nothing was changed")
		return nil
	}
	if !o.Yes {
		ok, err := confirmCtx(ctx, o.streams.In, o.streams.ErrOut, "Roll back?")
		if err != nil {
			return err
		}
		if !ok {
			return errors.New("not applied: declined")
		}
	}
	lk, err := r.lockAll(ctx, o.Family, []string{ns})
	if err != nil {
		return err
	}
	defer lk.release()
	var final *v1alpha1.SecretRotation
	if unfinished, err = r.unfinished(lk.ctx, ns, o.Family); err != nil {
		return err
	}
	switch {
	case len(unfinished) > 0:
		u := unfinished[len(unfinished)-1]
		if u.Spec.Action == v1alpha1.ActionRollback {
			final, err = r.resume(lk.ctx, u, ctx.Done())
		} else {
			final, err = r.rollBackUnfinished(lk.ctx, u, ctx.Done())
		}
	default:
		created, cerr := r.eng.Journal.Create(lk.ctx, rb)
		if cerr != nil {
			return cerr
		}
		final, err = r.drive(lk.ctx, created, ctx.Done())
		if err == nil && final.Status.Phase == v1alpha1.Succeeded && reverts != nil {
			err = markReverted(lk.ctx, r, reverts, final.Name)
		}
	}
	if err != nil {
		return err
	}
	if reverts == nil && final.Spec.Action == v1alpha1.ActionRollback && final.Status.Phase == v1alpha1.Succeeded && final.Spec.Reverts != "" {
		// A resumed rollback: record on the rollout it reversed that it is reversed.
		if rev, gerr := r.eng.Journal.Get(lk.ctx, ns, final.Spec.Reverts); gerr == nil && rev.Status.RevertedBy == "" {
			if err := markReverted(lk.ctx, r, rev, final.Name); err != nil {
				return err
			}
		}
	}
	st := final.Status
	fmt.Fprintf(o.streams.Out, "all references re-pointed in %s\n", since(st.Started, st.Repointed))
	if st.Phase == v1alpha1.Succeeded {
		fmt.Fprintf(o.streams.Out, "all consumers healthy after %s\n", since(st.Started, st.Finished))
	}
	verb := "rollback"
	if final.Spec.Action == v1alpha1.ActionRollout {
		verb = "rollback of the interrupted rollout"
		if st.Phase == v1alpha1.Aborted || st.Phase == v1alpha1.RolledBack {
			fmt.Fprintf(o.streams.Out, "%s %s: every consumer it moved is back where it was\n", verb, final.Status.Phase)
			return nil
		}
	}
	return printOutcome(o.streams.Out, verb, final, false)
}

// latestRollout is the rollout a rollback without --to reverses: the newest rollout of
// the family in the namespace, unless it was already reversed (then nil, and why).
func latestRollout(ctx context.Context, r *runner, ns, fam string) (*v1alpha1.SecretRotation, string, error) {
	all, err := r.eng.Journal.List(ctx, ns, fam)
	if err != nil {
		return nil, "", err
	}
	for i := len(all) - 1; i >= 0; i-- {
		rot := all[i]
		if rot.Spec.Action != v1alpha1.ActionRollout {
			continue
		}
		switch {
		case rot.Status.RevertedBy != "":
			return nil, fmt.Sprintf("the last rollout of %q in namespace %q (%s, to %s) was already rolled back by %s", fam, ns, rot.Name, targetOrPrevious(rot), rot.Status.RevertedBy), nil
		case rot.Status.Phase == v1alpha1.RolledBack || rot.Status.Phase == v1alpha1.Aborted:
			return nil, fmt.Sprintf("the last rollout of %q in namespace %q (%s, to %s) already ended %s: its consumers are back where they were", fam, ns, rot.Name, targetOrPrevious(rot), rot.Status.Phase), nil
		}
		if later := revertedLater(all[i+1:], rot); later != "" {
			return nil, fmt.Sprintf("the last rollout of %q in namespace %q (%s) was already rolled back by %s", fam, ns, rot.Name, later), nil
		}
		return rot, "", nil
	}
	return nil, "", fmt.Errorf("no rollout of %q is recorded in namespace %q, so rotor cannot tell where its consumers came from: name the version with --to VERSION (list them with: versions %s -n %s)", fam, ns, fam, ns)
}

// revertedLater names a later successful rollback of rot (a journal whose mark on rot
// was not written, or a record of an earlier rotor).
func revertedLater(later []*v1alpha1.SecretRotation, rot *v1alpha1.SecretRotation) string {
	for _, l := range later {
		if l.Spec.Action == v1alpha1.ActionRollback && l.Status.Phase == v1alpha1.Succeeded && (l.Spec.Reverts == rot.Name || l.Spec.Reverts == "") {
			return l.Name
		}
	}
	return ""
}

// narrow keeps the consumers that -l and --workload select.
func (o *RollbackOptions) narrow(ctx context.Context, r *runner, rb *v1alpha1.SecretRotation) error {
	sel := o.Scope.selector
	if len(o.Scope.workloads) == 0 && (sel == nil || sel.Empty()) {
		return nil
	}
	var keep []v1alpha1.ConsumerStatus
	for _, c := range rb.Status.Consumers {
		t := repoint.Target{Kind: c.Kind, Namespace: rb.Namespace, Name: c.Name}
		if len(o.Scope.workloads) > 0 && !containsWorkload(o.Scope.workloads, t) {
			continue
		}
		if sel != nil && !sel.Empty() {
			obj, err := r.eng.Repointer.Get(ctx, t)
			if apierrors.IsNotFound(err) {
				continue
			}
			if err != nil {
				return fmt.Errorf("reading %s: %w", t, err)
			}
			if !sel.Matches(labels.Set(obj.GetLabels())) {
				continue
			}
		}
		keep = append(keep, c)
	}
	rb.Status.Consumers = keep
	return nil
}

func containsWorkload(ws []repoint.Target, t repoint.Target) bool {
	for _, w := range ws {
		if strings.EqualFold(w.Kind, t.Kind) && w.Name == t.Name {
			return true
		}
	}
	return false
}

var secretsResource = schema.GroupVersionResource{Version: "v1", Resource: "secrets"}

// preflight refuses, with nothing changed, a rollback to a version that no longer
// exists.
func (o *RollbackOptions) preflight(ctx context.Context, r *runner, rb *v1alpha1.SecretRotation) error {
	var problems []string
	seen := map[string]bool{}
	for _, c := range rb.Status.Consumers {
		if c.Skip || seen[c.To] {
			continue
		}
		seen[c.To] = true
		// A list by name, not a get: no permission to read Secret values is needed.
		l, err := r.eng.Clients.Metadata.Resource(secretsResource).Namespace(rb.Namespace).List(ctx, metav1.ListOptions{
			FieldSelector: fields.OneTermEqualSelector("metadata.name", c.To).String()})
		switch {
		case err == nil && len(l.Items) == 0:
			problems = append(problems, fmt.Sprintf("%s/%s: cannot roll back to %s: it no longer exists in namespace %q (deleted?); choose a version that exists with --to (list them with: versions %s -n %s)",
				c.Kind, c.Name, c.To, rb.Namespace, o.Family, rb.Namespace))
		case err != nil:
			return err
		}
	}
	if len(problems) > 0 {
		return &rollout.PlanError{Problems: problems}
	}
	return nil
}

// printRollback shows what a rollback will do.
func printRollback(w io.Writer, rb *v1alpha1.SecretRotation) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "NAMESPACE\tCONSUMER\tFROM\tTO\tNOTE")
	for _, c := range rb.Status.Consumers {
		note := "-"
		if c.Note != "" {
			note = c.Note
		}
		fmt.Fprintf(tw, "%s\t%s/%s\t%s\t%s\t%s\n", rb.Namespace, c.Kind, c.Name, orDash(c.From), c.To, note)
	}
	return tw.Flush()
}

// itemsOf turns a rollback's consumers into plan items (for a server dry run).
func itemsOf(rb *v1alpha1.SecretRotation) []rollout.Item {
	var out []rollout.Item
	for _, c := range rb.Status.Consumers {
		out = append(out, rollout.Item{Consumer: rollout.Consumer{Target: repoint.Target{Kind: c.Kind, Namespace: rb.Namespace, Name: c.Name}},
			To: c.To, Changes: []repoint.Change{{From: c.From, To: c.To}}})
	}
	return out
}

func anyMoves(rot *v1alpha1.SecretRotation) bool {
	for _, c := range rot.Status.Consumers {
		if !c.Skip && c.From != c.To {
			return true
		}
	}
	return false
}

// rollbackWatched reverses the rotation a watch watched, and only if it is still the
// current one: a manual rollback or a later rotation since then wins.
func rollbackWatched(ctx context.Context, f *factory, streams IOStreams, watched *v1alpha1.SecretRotation) error {
	if watched == nil {
		return errors.New("no rotation is recorded, so there is nothing to roll back to: roll back by hand with rollback --to VERSION")
	}
	r, err := newRunner(ctx, f, streams, 0, nil)
	if err != nil {
		return err
	}
	ns, fam := watched.Namespace, watched.Spec.Family
	lk, err := r.lockAll(ctx, fam, []string{ns})
	if err != nil {
		return err
	}
	defer lk.release()
	last, why, err := latestRollout(lk.ctx, r, ns, fam)
	if err != nil {
		return err
	}
	switch {
	case last == nil:
		return fmt.Errorf("not rolled back: %s", why)
	case last.Name != watched.Name:
		return fmt.Errorf("not rolled back: the watched rotation %s is no longer the current one (%s ran since)", watched.Name, last.Name)
	}
	rb := rotation.NewRollback(last, r.eng.By, r.f.Clock.Now())
	if err := (&RollbackOptions{Family: fam}).preflight(lk.ctx, r, rb); err != nil {
		return err
	}
	created, err := r.eng.Journal.Create(lk.ctx, rb)
	if err != nil {
		return err
	}
	final, err := r.drive(lk.ctx, created, ctx.Done())
	if err != nil {
		return err
	}
	if final.Status.Phase != v1alpha1.Succeeded {
		return fmt.Errorf("the rollback ended %s: %s", final.Status.Phase, final.Status.Message)
	}
	return markReverted(lk.ctx, r, last, final.Name)
}
