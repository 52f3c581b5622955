// Package cli is rotor's command line: one file per verb, each an Options struct with
// Complete, Validate and Run in the style of kubectl's pkg/cmd. It is the only package
// that knows about flags, terminals, output formats and exit codes; the engine packages
// under it take a context, clients and a clock, and never print.
package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/utils/clock"

	"github.com/rotor-project/rotor/internal/rollout"
)

// IOStreams are the standard streams a command reads and writes: results go to Out,
// progress, warnings and errors to ErrOut.
type IOStreams = genericiooptions.IOStreams

// Deps are what a caller may substitute: tests inject a fake clock and a terminal
// check.
type Deps struct {
	Clock clock.Clock
	// IsTerminal reports whether a stream is an interactive terminal.
	IsTerminal func(any) bool
	// Getenv reads rotor's environment (ROTOR_NOTIFY_URL, --arg-from-env); os.Getenv
	// when nil.
	Getenv func(string) string
}

// Main runs rotor with the real clock and returns the process exit code.
func Main(ctx context.Context, args []string, streams IOStreams) int {
	return Run(ctx, args, streams, Deps{Clock: clock.RealClock{}, IsTerminal: isTerminal})
}

// Run executes one command line (args[0] is the program name, which decides whether
// rotor presents itself as "rotor" or as the kubectl plugin "kubectl rotor") and returns
// the exit code: 0 on success, 1 on failure, 130 when interrupted.
func Run(ctx context.Context, args []string, streams IOStreams, deps Deps) int {
	if deps.Clock == nil {
		deps.Clock = clock.RealClock{}
	}
	if deps.IsTerminal == nil {
		deps.IsTerminal = func(any) bool { return false }
	}
	if deps.Getenv == nil {
		deps.Getenv = os.Getenv
	}
	prog := "rotor"
	if len(args) > 0 {
		prog = filepath.Base(args[0])
	}
	root := NewRootCommand(commandName(prog), streams, deps)
	if len(args) > 1 {
		root.SetArgs(args[1:])
	} else {
		root.SetArgs([]string{})
	}
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	if ctx.Err() != nil {
		// Commands stop at the next safe point: a rotation in progress is rolled back
		// (its error says what was undone).
		fmt.Fprintln(streams.ErrOut, "error: interrupted: "+explain(err))
		return 130
	}
	fmt.Fprintln(streams.ErrOut, "error: "+explain(err))
	return 1
}

// commandName is how rotor names itself in help and examples: "kubectl rotor" when
// installed as the kubectl plugin kubectl-rotor.
func commandName(prog string) string {
	if strings.HasPrefix(prog, "kubectl-") {
		return "kubectl " + strings.ReplaceAll(strings.TrimPrefix(prog, "kubectl-"), "_", "-")
	}
	return "rotor"
}

// NewRootCommand builds the command tree. name is "rotor" or "kubectl rotor".
func NewRootCommand(name string, streams IOStreams, deps Deps) *cobra.Command {
	f := newFactory(deps)
	use := strings.ReplaceAll(name, " ", "-")
	root := &cobra.Command{
		Use:   use,
		Short: "Rotate Kubernetes Secrets as immutable versions, with instant rollback",
		Long: `rotor rotates a Kubernetes Secret by creating a new immutable version,
FAMILY-YYYYMMDDHHMMSS (UTC), beside the old one, and re-pointing workloads to it.
The old version stays, so rollback is a change of reference, not a hunt for backups.`,
		Annotations:       map[string]string{cobra.CommandDisplayNameAnnotation: name},
		SilenceErrors:     true,
		SilenceUsage:      true,
		DisableAutoGenTag: true,
	}
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	f.ConfigFlags.AddFlags(root.PersistentFlags())
	var logs logFlags
	logs.add(root)
	root.PersistentPreRunE = func(*cobra.Command, []string) error { return logs.apply(streams.ErrOut) }
	root.CompletionOptions.HiddenDefaultCmd = false

	root.AddCommand(
		NewCmdCreate(f, name, streams),
		NewCmdVersions(f, name, streams),
		NewCmdVersion(f, name, streams),
		NewCmdCleanup(f, name, streams),
		NewCmdRollout(f, name, streams),
		NewCmdRollback(f, name, streams),
		NewCmdStatus(f, name, streams),
		NewCmdRefs(f, name, streams),
		NewCmdWatch(f, name, streams),
		NewCmdController(f, name, streams),
		NewCmdHistory(f, name, streams),
		NewCmdConfig(f, name, streams),
		NewCmdRotate(f, name, streams),
		NewCmdPromote(f, name, streams),
		NewCmdAdopt(f, name, streams),
		NewCmdPlan(f, name, streams),
		NewCmdGitOps(f, name, streams),
	)
	registerCompletions(root, f)
	return root
}

// explain turns an error into the one message the user sees, with a hint of what to do
// where one is known.
func explain(err error) string {
	msg := err.Error()
	for _, h := range hints {
		if h.match(err) {
			return msg + "\n" + h.text
		}
	}
	return msg
}

type hint struct {
	match func(error) bool
	text  string
}

var hints = []hint{
	{isAccessProblem, "hint: deploy/rbac holds a ClusterRole per use (rotor-reader, rotor-rotator, rotor-cleaner, rotor-adopter); a cluster admin can bind the one you need in the namespace with a RoleBinding, or grant the missing verbs."},
	{isUntrustedTarget, "hint: check the Secret, then make it a version rotor trusts with: versions FAMILY --adopt NAME -n NAMESPACE (or create a new version with create)."},
	{isGitOpsManagedRefusal, "hint: rotate consumers Flux or Argo CD manage through git: the same command with --gitops --repo DIR (a clone of the repository they apply; --path SUBDIR, --push) commits the change, waits for it to be applied, gates it and reverts it by a commit on failure; or pass --allow-drift to re-point them live anyway (their owner will revert it)."},
	{isManagedRefusal, "hint: to re-point consumers Argo CD, Flux or Helm manage live anyway (their owner will revert it unless its source changes), pass --allow-drift."},
	{isPlanError, "hint: name the version with --to VERSION (or latest); choose the consumers with -n/-A, -l SELECTOR and --workload KIND/NAME."},
	{isGitOpsUnavailable, "hint: that rotation goes through git: run the command again with --gitops --repo DIR (a clone of the repository the GitOps engine reads; --push if its commits are pushed)."},
	{isForbidden, "hint: your user lacks a permission this command needs; `kubectl auth can-i --list -n NAMESPACE` shows what you may do, and a cluster admin can grant the missing verb with a Role and RoleBinding."},
	{isUnreachable, "hint: the cluster did not answer; check --kubeconfig and --context, or that the API server is up."},
}

// usageError marks errors in how a command was called.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usageErrorf(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

func isUntrustedTarget(err error) bool {
	var pe *rollout.PlanError
	return errors.As(err, &pe) && pe.Untrusted
}

func isGitOpsManagedRefusal(err error) bool {
	var pe *rollout.PlanError
	return errors.As(err, &pe) && pe.GitOpsManaged
}

func isManagedRefusal(err error) bool {
	var pe *rollout.PlanError
	return errors.As(err, &pe) && pe.Managed
}

func isPlanError(err error) bool {
	var pe *rollout.PlanError
	return errors.As(err, &pe)
}
