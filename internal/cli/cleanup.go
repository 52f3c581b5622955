package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/rotor-project/rotor/internal/cleanup"
	"github.com/rotor-project/rotor/internal/family"
	"github.com/rotor-project/rotor/internal/lock"
	"github.com/rotor-project/rotor/internal/retention"
)

// CleanupOptions are the inputs of `rotor cleanup`.
type CleanupOptions struct {
	Family            string
	AllNamespaces     bool
	Retain            string
	Keep              int
	Paths             []string
	AllowBreakingUndo bool
	Yes               bool
	OnDelete          string
	Output            string
	DryRun            dryRunFlag
	// JournalRetain and JournalKeep prune finished rotation journals.
	JournalRetain string
	JournalKeep   int
	LeaseDuration time.Duration

	namespace string
	policy    retention.Policy
	journals  cleanup.JournalPolicy
	streams   IOStreams
	f         *factory
}

// NewCmdCleanup builds `rotor cleanup FAMILY`.
func NewCmdCleanup(f *factory, name string, streams IOStreams) *cobra.Command {
	o := &CleanupOptions{streams: streams, f: f}
	cmd := &cobra.Command{
		Use:   "cleanup FAMILY [-n NAMESPACE | -A] [--retain 14d] [--keep 2] [--path DIR] [--dry-run] [--yes] [-o table|json]",
		Short: "Delete old versions of a Secret family that nothing references any more",
		Long: `Delete old versions of a Secret family, only after their retention period and only
when a search of every kind (and of --path manifest directories) proves nothing needs them.

A version is a candidate when it is not one of the --keep newest in its namespace and its
retention clock started at least --retain ago. The clock starts when a finished rotation
moved consumers away from it (rotor's rotation records), or else when it was created; the
report says which. One reference scan covers every candidate. Each version's outcome:

  deleted                   nothing references it
  kept: referenced          a workload, pod or other object names it now
  kept: rollback target     only old ReplicaSets/ControllerRevisions name it; "rollout undo"
                            to them would break (--allow-breaking-undo deletes anyway)
  kept: CronJob retention   a CronJob ran with it and was re-pointed less than two full
                            schedule intervals (or --retain, if longer) ago
  kept: in manifests        a file under --path names it (file and line)

Just before deleting, rotor checks your permissions for every version (nothing is deleted
when one is missing), searches once more, and deletes each Secret with preconditions on its
UID and resourceVersion. An ExternalSecret that created a version is deleted with it.
--on-delete runs a shell command after each delete with ROTOR_FAMILY, ROTOR_VERSION,
ROTOR_VERSION_TIMESTAMP and ROTOR_NAMESPACE set (never a value), e.g. to delete the remote
copy in your secret store.

On a terminal the plan is shown and you are asked to confirm; without one, pass --yes, or
--dry-run to only print what would happen. The unversioned Secret named FAMILY and Secrets
that are not versions of FAMILY are never touched.`,
		Example: examples(name, `
# See what would be deleted and why the rest is kept
{{.}} cleanup auth-api-secrets -n payments --dry-run

# Every namespace, also searching a GitOps repository, without a prompt
{{.}} cleanup auth-api-secrets -A --path ./gitops --yes

# Keep four weeks and the newest three; delete the remote copy too
{{.}} cleanup auth-api-secrets --retain 4w --keep 3 --yes --on-delete 'vault kv metadata delete "secret/$ROTOR_FAMILY/$ROTOR_VERSION"'`),
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
	fl := cmd.Flags()
	fl.BoolVarP(&o.AllNamespaces, "all-namespaces", "A", false, "Clean the family in every namespace")
	fl.StringVar(&o.Retain, "retain", "14d", "Keep each version this long after it was replaced (or created): e.g. 14d, 2w, 336h")
	fl.IntVar(&o.Keep, "keep", 2, "Always keep this many of the newest versions in each namespace")
	fl.StringArrayVar(&o.Paths, "path", nil, "Also search manifests in this file or directory, e.g. a GitOps repository (recursive; repeatable)")
	fl.BoolVar(&o.AllowBreakingUndo, "allow-breaking-undo", false, "Delete versions that only old ReplicaSets/ControllerRevisions name, breaking `rollout undo` to those revisions")
	fl.BoolVarP(&o.Yes, "yes", "y", false, "Delete without asking (required without a terminal, unless --dry-run)")
	fl.StringVar(&o.OnDelete, "on-delete", "", "Shell command run after each deleted version, with ROTOR_FAMILY, ROTOR_VERSION, ROTOR_VERSION_TIMESTAMP and ROTOR_NAMESPACE set")
	fl.StringVarP(&o.Output, "output", "o", "table", "Output format: table or json")
	fl.StringVar(&o.JournalRetain, "journal-retain", "90d", "Delete finished rotation journals this long after they finished")
	fl.IntVar(&o.JournalKeep, "journal-keep", 20, "Always keep this many of the newest rotation journals per namespace")
	fl.DurationVar(&o.LeaseDuration, "lease-duration", lock.DefaultDuration, "How long the family's lock (shared with rollout and rollback) outlives a run that was killed (5s to 10m)")
	o.DryRun.add(cmd)
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"table", "json"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// Complete resolves the namespace.
func (o *CleanupOptions) Complete(args []string) error {
	o.Family = args[0]
	if o.AllNamespaces {
		return nil
	}
	var err error
	o.namespace, err = o.f.Namespace()
	return err
}

// Validate checks everything that can be checked without the cluster, including that
// a deleting run can be confirmed.
func (o *CleanupOptions) Validate() error {
	if err := family.ValidateFamily(o.Family); err != nil {
		return err
	}
	if err := o.DryRun.validate(); err != nil {
		return err
	}
	switch o.Output {
	case "table", "json":
	default:
		return usageErrorf("unknown output format %q: use table or json", o.Output)
	}
	retain, err := retention.ParseDuration(o.Retain)
	if err != nil {
		return usageErrorf("--retain: %v", err)
	}
	if err := checkDuration("--retain", retain, 0, maxRetain, false); err != nil {
		return err
	}
	jr, err := retention.ParseDuration(o.JournalRetain)
	if err != nil {
		return usageErrorf("--journal-retain: %v", err)
	}
	if o.JournalKeep < 0 {
		return usageErrorf("--journal-keep is %d: give 0 or more newest journals to always keep (default 20)", o.JournalKeep)
	}
	if err := lock.ValidateDuration(o.LeaseDuration); err != nil {
		return usageErrorf("--lease-duration %s: must be between %s and %s", o.LeaseDuration, lock.MinDuration, lock.MaxDuration)
	}
	if err := checkDuration("--journal-retain", jr, 0, maxRetain, false); err != nil {
		return err
	}
	o.journals = cleanup.JournalPolicy{Retain: jr, Keep: o.JournalKeep}
	if o.Keep < 0 {
		return usageErrorf("--keep is %d: give 0 or more newest versions to always keep (default 2)", o.Keep)
	}
	for _, p := range o.Paths {
		if p == "" {
			return usageErrorf("--path is empty: give a file or directory of manifests")
		}
		if _, err := os.Stat(p); err != nil {
			return usageErrorf("--path %s: %v (give an existing file or directory of manifests)", p, err)
		}
	}
	if err := requireConsent(o.f, o.streams, o.Yes, o.DryRun.strategy, "cleanup deletes Secrets"); err != nil {
		return err
	}
	o.policy = retention.Policy{Retain: retain, Keep: o.Keep, AllowBreakingUndo: o.AllowBreakingUndo}
	return nil
}

// Run plans, confirms, deletes and reports.
func (o *CleanupOptions) Run(ctx context.Context) error {
	r, err := newRunner(ctx, o.f, o.streams, o.LeaseDuration, nil)
	if err != nil {
		return err
	}
	r.eng.Locker.For = "cleanup"
	cleaner := r.eng.Cleaner
	req := cleanup.Request{Family: o.Family, Namespace: o.namespace, Policy: o.policy, Paths: o.Paths}
	plan, err := cleaner.Plan(ctx, req)
	if err != nil {
		return err
	}
	if plan.JournalsPruned, err = cleaner.PruneJournals(ctx, req, o.journals, true); err != nil {
		return err
	}
	toDelete := len(plan.ToDelete())
	fmt.Fprintf(o.streams.ErrOut, "%d version(s) of %q in %s; %d candidate(s) checked with %d reference scan(s); %d to delete.\n",
		len(plan.Items), o.Family, o.where(), cleanupCandidates(plan), plan.Scans, toDelete)
	incomplete := cleanupIncompleteError(plan)
	if o.DryRun.strategy == dryRunNone && toDelete == 0 && len(plan.JournalsPruned) > 0 {
		lk, err := r.lockAll(ctx, o.Family, cleanupNamespaces(plan))
		if err != nil {
			return err
		}
		defer lk.release()
		if plan.JournalsPruned, err = cleaner.PruneJournals(lk.ctx, req, o.journals, false); err != nil {
			return err
		}
		fmt.Fprintf(o.streams.ErrOut, "%d finished rotation journal(s) older than %s pruned (the newest %d per namespace are kept)\n", len(plan.JournalsPruned), o.JournalRetain, o.JournalKeep)
	}
	if o.DryRun.strategy == dryRunClient || toDelete == 0 {
		if err := o.print(plan); err != nil {
			return err
		}
		if o.DryRun.strategy == dryRunClient {
			fmt.Fprintln(o.streams.ErrOut, "dry run (client): nothing was deleted")
		}
		return incomplete
	}
	if !o.Yes && o.DryRun.strategy == dryRunNone {
		if err := printCleanupTable(o.streams.ErrOut, plan, o.AllNamespaces, dryRunNone, "PLAN"); err != nil {
			return err
		}
		ok, err := confirmCtx(ctx, o.streams.In, o.streams.ErrOut, fmt.Sprintf("Delete %d version(s)? A reference check runs again just before each delete.", toDelete))
		if err != nil {
			return err
		}
		if !ok {
			fmt.Fprintln(o.streams.ErrOut, "Nothing was deleted.")
			return nil
		}
	}
	// Cleanup and rotations exclude each other per family and namespace: the lock, then
	// Execute re-reads the journals (a version an unfinished rotation names is kept).
	if o.DryRun.strategy == dryRunNone {
		if err := cleaner.CheckPermissions(ctx, plan); err != nil {
			return err
		}
		lk, err := r.lockAll(ctx, o.Family, cleanupNamespaces(plan))
		if err != nil {
			return err
		}
		defer lk.release()
		ctx = lk.ctx
	}
	execErr := cleaner.Execute(ctx, plan, cleanup.ExecuteOptions{
		DryRunServer: o.DryRun.strategy == dryRunServer,
		OnDeleted:    o.hook(),
	})
	if o.DryRun.strategy == dryRunNone {
		recordDeleted(ctx, r, plan, o.Family, o.streams.ErrOut)
	}
	if isAccessProblem(execErr) {
		return execErr
	}
	if execErr == nil && o.DryRun.strategy == dryRunNone {
		if plan.JournalsPruned, err = cleaner.PruneJournals(ctx, req, o.journals, false); err != nil {
			return err
		}
	}
	if n := len(plan.JournalsPruned); n > 0 {
		fmt.Fprintf(o.streams.ErrOut, "%d finished rotation journal(s) older than %s pruned (the newest %d per namespace are kept)\n", n, o.JournalRetain, o.JournalKeep)
	}
	if err := o.print(plan); err != nil {
		return err
	}
	if o.DryRun.strategy == dryRunServer {
		fmt.Fprintln(o.streams.ErrOut, "dry run (server): the API server admitted the deletes; nothing was deleted")
	}
	var hookErr *cleanup.HookError
	if errors.As(execErr, &hookErr) {
		names := make([]string, 0, len(hookErr.Items))
		for _, it := range hookErr.Items {
			names = append(names, it.Namespace+"/"+it.Name)
		}
		return fmt.Errorf("deleted as planned, but --on-delete failed for %d deleted version(s): %s. The Secrets ARE gone; only the hook's own work (such as a remote copy) is left undone: run your command again for each, with ROTOR_FAMILY=%s, ROTOR_VERSION, ROTOR_VERSION_TIMESTAMP and ROTOR_NAMESPACE set",
			len(names), strings.Join(names, ", "), o.Family)
	}
	if execErr != nil {
		return execErr
	}
	return incomplete
}

// cleanupNamespaces are the namespaces a cleanup changes: where it deletes versions or
// prunes journals.
func cleanupNamespaces(plan *cleanup.Plan) []string {
	seen := map[string]bool{}
	var out []string
	add := func(ns string) {
		if !seen[ns] {
			seen[ns] = true
			out = append(out, ns)
		}
	}
	for _, i := range plan.ToDelete() {
		add(plan.Items[i].Namespace)
	}
	for _, r := range plan.JournalsPruned {
		add(r.Namespace)
	}
	sort.Strings(out)
	return out
}

func (o *CleanupOptions) where() string {
	if o.AllNamespaces {
		return "every namespace"
	}
	return fmt.Sprintf("namespace %q", o.namespace)
}

// hook returns the --on-delete runner: a shell command per deleted version whose
// output goes to stderr (stdout carries the report). The environment names the
// version; no value is ever passed. The command itself is never repeated in a message
// or the report: it may carry a token.
func (o *CleanupOptions) hook() func(context.Context, *cleanup.Item) error {
	if o.OnDelete == "" {
		return nil
	}
	return func(ctx context.Context, it *cleanup.Item) error {
		cmd := exec.CommandContext(ctx, "/bin/sh", "-c", o.OnDelete)
		cmd.Env = append(os.Environ(),
			"ROTOR_FAMILY="+it.Version.Family,
			"ROTOR_VERSION="+it.Name,
			"ROTOR_VERSION_TIMESTAMP="+it.Version.Timestamp(),
			"ROTOR_NAMESPACE="+it.Namespace,
		)
		cmd.Stdout, cmd.Stderr = o.streams.ErrOut, o.streams.ErrOut
		cmd.WaitDelay = 5 * time.Second
		if err := cmd.Run(); err != nil {
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				return fmt.Errorf("--on-delete exited with %s", exit.ProcessState)
			}
			if ctx.Err() != nil {
				return fmt.Errorf("--on-delete was stopped: %w", ctx.Err())
			}
			return errors.New("--on-delete could not be started")
		}
		return nil
	}
}

func (o *CleanupOptions) print(plan *cleanup.Plan) error {
	if o.Output == "json" {
		return printDocument(o.streams.Out, "json", newCleanupReport(plan, o.DryRun.strategy))
	}
	return printCleanupTable(o.streams.Out, plan, o.AllNamespaces, o.DryRun.strategy, "DETAILS")
}

func cleanupCandidates(plan *cleanup.Plan) int {
	n := 0
	for _, it := range plan.Items {
		switch it.Outcome {
		case retention.KeptNewest, retention.KeptRetention, retention.KeptUntrusted, retention.KeptRotation:
		default:
			n++
		}
	}
	return n
}

// cleanupIncompleteError is the error a run ends with when the scan could not check
// everything: the kept versions are listed, and the reason is named.
func cleanupIncompleteError(plan *cleanup.Plan) error {
	for _, it := range plan.Items {
		if it.Outcome == retention.KeptUnverified {
			var parts []string
			for _, nc := range plan.NotChecked {
				parts = append(parts, notCheckedWhat(nc)+" ("+nc.Reason+")")
			}
			return fmt.Errorf("the reference search was incomplete, so no candidate was deleted: not checked: %s", strings.Join(parts, "; "))
		}
	}
	return nil
}
