package promenv

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/rotor-project/rotor/test/waitfor"
)

// TestPrometheusDiesWithAKilledTestBinary: a `go test` killed mid-run runs no cleanup;
// the Prometheus it started must not outlive it. A child process (this test binary
// again) starts one and prints its PID; the child is then killed with SIGKILL.
func TestPrometheusDiesWithAKilledTestBinary(t *testing.T) {
	if os.Getenv("PROMENV_CHILD") == "1" {
		s := Start(t)
		fmt.Printf("PID %d\n", s.cmd.Process.Pid)
		<-waitfor.Context(t).Done() // until killed
		return
	}
	child := exec.Command(os.Args[0], "-test.run=^TestPrometheusDiesWithAKilledTestBinary$", "-test.v")
	child.Env = append(os.Environ(), "PROMENV_CHILD=1")
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	pid := 0
	sc := bufio.NewScanner(out)
	for pid == 0 && sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "PID "); ok {
			pid, _ = strconv.Atoi(rest)
		}
	}
	if pid == 0 {
		_ = child.Process.Kill()
		t.Fatalf("the child printed no Prometheus PID (exit: %v)", child.Wait())
	}
	if err := syscall.Kill(pid, 0); err != nil {
		t.Fatalf("Prometheus %d is not running before the kill: %v", pid, err)
	}
	_ = child.Process.Kill()
	_ = child.Wait()
	// Prometheus is the child's child: once killed it is re-parented and reaped, and
	// signal 0 answers ESRCH.
	waitfor.Poll(t, fmt.Sprintf("Prometheus %d to die with its parent", pid), func(context.Context) (bool, error) {
		return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH), nil
	})
}
