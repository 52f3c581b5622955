// Package cli is rotor's command line: one file per verb, each an Options struct with
// Complete, Validate and Run in the style of kubectl's pkg/cmd. It is the only package
// that knows about flags, terminals, output formats and exit codes; the engine packages
// under it take a context, clients and a clock, and never print.
package cli

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/utils/clock"
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
	{isForbidden, "hint: your user lacks a permission this command needs; `kubectl auth can-i --list -n NAMESPACE` shows what you may do, and a cluster admin can grant the missing verb with a Role and RoleBinding."},
	{isUnreachable, "hint: the cluster did not answer; check --kubeconfig and --context, or that the API server is up."},
}

// usageError marks errors in how a command was called.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usageErrorf(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }
