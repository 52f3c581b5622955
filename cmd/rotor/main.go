// Command rotor rotates Kubernetes Secrets as immutable versions with instant rollback.
// Installed as kubectl-rotor it is a kubectl plugin.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/rotor-project/rotor/internal/cli"
)

func main() {
	// The first interrupt cancels the context: a rotation in progress rolls back and
	// rotor exits 130. A second one exits at once; the rotation's journal says where it
	// stopped, and the same command run again resumes or rolls back from there.
	ctx, cancel := context.WithCancel(context.Background())
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	go func() {
		if <-signals == os.Interrupt {
			// Ctrl-C at a terminal: say how to stop sooner (a rotation in progress says
			// that it rolls back; the controller, that it stops).
			fmt.Fprintln(os.Stderr, "interrupted: stopping (interrupt again to stop at once)")
		}
		cancel()
		<-signals
		fmt.Fprintln(os.Stderr, "error: interrupted twice: stopped at once; the rotation's journal says where it stopped (run the same command again to resume or roll back)")
		os.Exit(130)
	}()
	code := cli.Main(ctx, os.Args, cli.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr})
	cancel()
	os.Exit(code)
}
