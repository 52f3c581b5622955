package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
)

// requireConsent refuses a changing command that cannot ask: standard input is not a
// terminal, and neither --yes nor --dry-run was given. what says what would change.
func requireConsent(f *factory, streams IOStreams, yes bool, dry dryRunStrategy, what string) error {
	if yes || dry != dryRunNone || f.IsTerminal(streams.In) {
		return nil
	}
	return usageErrorf("%s, and there is no terminal to confirm on (standard input is not one): pass --yes to go ahead, or --dry-run to only see the plan", what)
}

// confirmCtx asks a y/N question; anything but y or yes is no. The read stops when
// ctx ends (Ctrl-C, SIGTERM), returning its error.
func confirmCtx(ctx context.Context, in io.Reader, out io.Writer, question string) (bool, error) {
	fmt.Fprintf(out, "%s [y/N]: ", question)
	type answer struct {
		line string
		err  error
	}
	done := make(chan answer, 1)
	go func() {
		line, err := bufio.NewReader(in).ReadString('\n')
		done <- answer{line, err}
	}()
	select {
	case <-ctx.Done():
		fmt.Fprintln(out)
		return false, ctx.Err()
	case a := <-done:
		if a.err != nil && a.line == "" {
			if errors.Is(a.err, io.EOF) {
				return false, nil
			}
			return false, a.err
		}
		switch strings.ToLower(strings.TrimSpace(a.line)) {
		case "y", "yes":
			return true, nil
		}
		return false, nil
	}
}
