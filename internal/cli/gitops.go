package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/rotor-project/rotor/internal/gitops"
	"github.com/rotor-project/rotor/internal/refs"
)

// NewCmdGitOps builds `rotor gitops` and its subcommands.
func NewCmdGitOps(f *factory, name string, streams IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "gitops",
		Short: "Rotate through git: rewrite the Secret names in manifests, and compare them with the cluster",
		Long: `In a GitOps repository a rotation is a commit that changes Secret *names* in manifests; the
GitOps engine (Flux, Argo CD) applies it. "gitops set" makes that change, keeping every
other byte of the files; "gitops check" compares the manifests with the cluster.
"rollout --gitops --repo DIR" and "rollback --gitops" drive a whole rotation through git:
commit, wait for the cluster to show it, gate it, revert it by a commit on failure.
See docs/gitops.md.`,
	}
	cmd.AddCommand(newCmdGitOpsSet(f, name, streams), newCmdGitOpsCheck(f, name, streams))
	return cmd
}

// GitOpsSetOptions are the inputs of `rotor gitops set`.
type GitOpsSetOptions struct {
	Family  string
	To      string
	Path    string
	Commit  bool
	Message string
	DryRun  dryRunFlag

	streams IOStreams
}

func newCmdGitOpsSet(_ *factory, name string, streams IOStreams) *cobra.Command {
	o := &GitOpsSetOptions{streams: streams}
	cmd := &cobra.Command{
		Use:   "set FAMILY --to VERSION --path DIR [--commit [--message TEXT]] [--dry-run]",
		Short: "Rewrite every reference to a version of FAMILY in the manifests under DIR to VERSION",
		Long: `Rewrite every reference to any version of FAMILY in the YAML and JSON files under DIR to
VERSION: the places rotor knows in every object (containers' env and envFrom, secret and
projected volumes, imagePullSecrets, ServiceAccounts, Ingress TLS, Argo Rollouts, the
target of a stable-named ExternalSecret) and inline kustomize patches. Only the names'
bytes change: comments, key order, indentation, quoting, anchors, flow style and document
separators stay as they are. The change is printed as a unified diff.

Left alone, and reported: manifests that define a version (a Secret or ExternalSecret
named like one), references to the unversioned Secret FAMILY, Helm templates and other
files that do not parse. Nothing is written when a file under DIR holds a Secret with
data or stringData: values do not belong in git.

--commit commits exactly the rewritten files (git must be installed; the files must have
no uncommitted changes), with a message naming the family and the versions, and
Rotor-Family, Rotor-From and Rotor-To trailers.`,
		Example: examples(name, `
{{.}} gitops set auth-api-secrets --to auth-api-secrets-20250723110000 --path ./deploy --dry-run
{{.}} gitops set auth-api-secrets --to auth-api-secrets-20250723110000 --path ./deploy --commit`),
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Family = args[0]
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.To, "to", "", "The version every reference is set to")
	fl.StringVar(&o.Path, "path", "", "The directory of manifests (searched recursively; hidden directories skipped)")
	fl.BoolVar(&o.Commit, "commit", false, "Commit the rewritten files with git")
	fl.StringVar(&o.Message, "message", "", "With --commit: the commit message (rotor adds trailers naming the family and versions)")
	o.DryRun.add(cmd)
	return cmd
}

// Validate checks the flags.
func (o *GitOpsSetOptions) Validate() error {
	if o.To == "" {
		return usageErrorf("--to is required: the version to set, e.g. --to %s-20250723110000 (list them with: versions %s)", o.Family, o.Family)
	}
	if o.Path == "" {
		return usageErrorf("--path is required: the directory of manifests to rewrite")
	}
	if err := o.DryRun.validate(); err != nil {
		return err
	}
	if o.DryRun.strategy == dryRunServer {
		return usageErrorf("--dry-run=server has no meaning for files: use --dry-run to print the diff without writing")
	}
	if o.Message != "" && !o.Commit {
		return usageErrorf("--message needs --commit")
	}
	return nil
}

// Run scans, prints the diff, writes and commits.
func (o *GitOpsSetOptions) Run(ctx context.Context) error {
	scan, err := gitops.ScanDir(o.Path, o.Family)
	if err != nil {
		return usageErrorf("%v (--path)", err)
	}
	printScanNotes(o.streams.ErrOut, scan)
	plan, err := scan.Set(o.To, gitops.SetOptions{})
	if err != nil {
		var iv *gitops.InvalidVersionError
		if errors.As(err, &iv) {
			return usageErrorf("%v (--to)", err)
		}
		return err
	}
	if len(plan.Changes) == 0 {
		fmt.Fprintf(o.streams.ErrOut, "nothing to change: no manifest under %s names another version of %s (%d file(s) read)\n", o.Path, o.Family, scan.Files)
		return nil
	}
	if err := plan.Diff(o.streams.Out); err != nil {
		return err
	}
	summary := fmt.Sprintf("%d reference(s) in %d file(s), from %s to %s", len(plan.Edits()), len(plan.Changes), strings.Join(plan.From, ", "), plan.To)
	if o.DryRun.strategy != dryRunNone {
		fmt.Fprintf(o.streams.ErrOut, "dry run: would rewrite %s; nothing written\n", summary)
		return nil
	}
	g := gitops.Git{}
	if o.Commit {
		if err := g.CheckClean(ctx, plan); err != nil {
			return fmt.Errorf("%w; nothing was written", err)
		}
	}
	if err := plan.Write(); err != nil {
		return err
	}
	fmt.Fprintf(o.streams.ErrOut, "rewrote %s\n", summary)
	if !o.Commit {
		return nil
	}
	hash, err := g.Commit(ctx, plan, o.Message)
	if err != nil {
		return fmt.Errorf("the files are rewritten but not committed: %w", err)
	}
	fmt.Fprintf(o.streams.ErrOut, "committed %s\n", hash)
	return nil
}

// printScanNotes says what the scan left alone, one line each.
func printScanNotes(w io.Writer, s *gitops.Scan) {
	for _, l := range s.Skipped {
		fmt.Fprintf(w, "note: %s\n", l)
	}
	for _, l := range s.Producers {
		fmt.Fprintf(w, "note: left as is: %s\n", l)
	}
	for _, r := range s.Unversioned {
		fmt.Fprintf(w, "note: left as is: %s:%d (%s) names the unversioned Secret %s; adopt it into a version first\n", r.File, r.Line, r.Object, r.Secret)
	}
}

// GitOpsCheckOptions are the inputs of `rotor gitops check`.
type GitOpsCheckOptions struct {
	Family string
	Path   string

	namespace string
	streams   IOStreams
	f         *factory
}

func newCmdGitOpsCheck(f *factory, name string, streams IOStreams) *cobra.Command {
	o := &GitOpsCheckOptions{streams: streams, f: f}
	cmd := &cobra.Command{
		Use:   "check FAMILY --path DIR [-n NAMESPACE]",
		Short: "Compare the versions of FAMILY the manifests under DIR name with what the cluster's objects name",
		Long: `Compare, object by object and field by field, the Secrets of FAMILY that the manifests under
DIR name with what the same live objects in the cluster name. Every difference is listed:
a manifest the cluster has not applied yet, drift made by hand, a reference one side has
and the other lacks. The exit status is 1 when there is any. Objects without a namespace in
the manifests are looked up in -n (or the kubeconfig's namespace).`,
		Example: examples(name, `
{{.}} gitops check auth-api-secrets --path ./deploy
{{.}} gitops check auth-api-secrets --path ./deploy/payments -n payments`),
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
	cmd.Flags().StringVar(&o.Path, "path", "", "The directory of manifests")
	return cmd
}

// Complete takes the family and resolves the namespace.
func (o *GitOpsCheckOptions) Complete(args []string) error {
	o.Family = args[0]
	var err error
	o.namespace, err = o.f.Namespace()
	return err
}

// Validate checks the flags.
func (o *GitOpsCheckOptions) Validate() error {
	if o.Path == "" {
		return usageErrorf("--path is required: the directory of manifests to compare")
	}
	return nil
}

// Run scans, reads the cluster and compares.
func (o *GitOpsCheckOptions) Run(ctx context.Context) error {
	scan, err := gitops.ScanDir(o.Path, o.Family)
	if err != nil {
		return usageErrorf("%v (--path)", err)
	}
	printScanNotes(o.streams.ErrOut, scan)
	namespaces := map[string]bool{}
	for _, list := range [][]gitops.Reference{scan.References, scan.Unversioned} {
		for _, r := range list {
			if r.Via != "" {
				continue
			}
			ns := r.Object.Namespace
			if ns == "" {
				ns = o.namespace
			}
			namespaces[ns] = true
		}
	}
	finder, err := o.f.Finder()
	if err != nil {
		return err
	}
	var live []gitops.LiveReference
	for _, ns := range slices.Sorted(maps.Keys(namespaces)) {
		res, err := finder.Find(ctx, refs.Query{Family: o.Family, Namespace: ns})
		if err != nil {
			return err
		}
		if len(res.NotChecked) > 0 {
			nc := res.NotChecked[0]
			return fmt.Errorf("cannot compare: %s could not be read (%s)", notCheckedWhat(nc), nc.Reason)
		}
		for _, r := range res.References {
			if r.Role != refs.RoleLive || len(r.Owners) > 0 || r.File != "" {
				continue
			}
			live = append(live, gitops.LiveReference{Object: gitops.ObjectRef{Kind: r.Object.Kind, Namespace: r.Object.Namespace, Name: r.Object.Name}, Path: r.Path, Secret: r.Secret})
		}
	}
	diffs := gitops.Compare(scan, live, o.namespace)
	checked := 0
	for _, r := range append(append([]gitops.Reference{}, scan.References...), scan.Unversioned...) {
		if r.Via == "" {
			checked++
		}
	}
	if len(diffs) == 0 {
		fmt.Fprintf(o.streams.Out, "the manifests under %s and the cluster agree: %d reference(s) to %s, in %d namespace(s)\n", o.Path, checked, o.Family, len(namespaces))
		return nil
	}
	if err := printDisagreements(o.streams.Out, o.Path, diffs); err != nil {
		return err
	}
	return fmt.Errorf("the manifests under %s and the cluster disagree in %d place(s), listed above: apply the manifests (or let the GitOps engine sync), or set the manifests to what the cluster runs", o.Path, len(diffs))
}

func printDisagreements(w io.Writer, root string, diffs []gitops.Disagreement) error {
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	fmt.Fprintln(tw, "NAMESPACE\tKIND\tNAME\tPATH\tMANIFESTS\tCLUSTER\tFILE")
	for _, d := range diffs {
		file := "-"
		if d.File != "" {
			rel, err := filepath.Rel(root, d.File)
			if err != nil {
				rel = d.File
			}
			file = fmt.Sprintf("%s:%d", filepath.ToSlash(rel), d.Line)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.Object.Namespace, d.Object.Kind, d.Object.Name, d.Path, orNone(d.Manifest), orNone(d.Cluster), file)
	}
	return tw.Flush()
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
