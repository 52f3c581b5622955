package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rotor-project/rotor/test/clusterenv"
	"github.com/rotor-project/rotor/test/waitfor"
)

// waitExit waits for cmd to end, or for the test's own deadline: a command that ignores
// SIGTERM never ends, and the test must fail rather than hang.
func waitExit(t *testing.T, cmd *exec.Cmd, what string) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return exit.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-waitfor.Context(t).Done():
		_ = cmd.Process.Kill()
		err := <-done
		t.Fatalf("%s: rotor did not stop (killed at the test's deadline: %v)", what, err)
		return -1
	}
}

// TestSIGTERMStopsALongRead: a create blocked reading standard input that never ends,
// or opening a FIFO nobody writes to, stops on SIGTERM as on Ctrl-C: exit 130,
// nothing created.
func TestSIGTERMStopsALongRead(t *testing.T) {
	ns := clusterenv.Namespace(t)
	bin := rotorBinary(t)
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		args []string
	}{
		{"standard input", []string{"--from-stdin", "k"}},
		{"a FIFO without a writer", []string{"--from-file", "k=" + fifo}},
		{"an env file that is a FIFO", []string{"--from-env-file", fifo}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := snapshot(t, ns)
			stdinR, stdinW, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = stdinW.Close() }()
			cmd := exec.Command(bin, append([]string{"--kubeconfig", clusterenv.Kubeconfig(t), "create", "app", "-n", ns}, tt.args...)...)
			var stderr bytes.Buffer
			cmd.Stdin, cmd.Stderr = stdinR, &stderr
			// Started: the write end stays open, so the read never ends by itself.
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			_ = stdinR.Close()
			// Wait until rotor is blocked in its read: its main thread sleeps in a
			// read or an open (state S) with the flags parsed. Reading /proc is a
			// condition, not a guess at a duration.
			waitBlocked(t, cmd.Process.Pid)
			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			if code := waitExit(t, cmd, tt.name); code != 130 || !strings.Contains(stderr.String(), "interrupted") {
				t.Fatalf("exit %d, stderr %q; want 130 and \"interrupted\"", code, stderr.String())
			}
			assertUnchanged(t, ns, before)
		})
	}
}

// blockingCalls are the system calls (linux/amd64 and arm64) rotor blocks in while it
// waits for its input: read and openat.
var blockingCalls = map[string][]string{"amd64": {"0", "257"}, "arm64": {"63", "56"}}

// waitBlocked waits until a thread of pid sits in a read of standard input or in the
// open of a FIFO: rotor is blocked on its input (main set up its signal handling long
// before).
func waitBlocked(t *testing.T, pid int) {
	t.Helper()
	calls, ok := blockingCalls[runtime.GOARCH]
	if !ok {
		t.Skip("no system call table for", runtime.GOARCH)
	}
	waitfor.Poll(t, "rotor blocked in its read", func(context.Context) (bool, error) {
		tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
		if err != nil {
			return false, nil
		}
		for _, task := range tasks {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/syscall", pid, task.Name()))
			if err != nil {
				continue
			}
			f := strings.Fields(string(b))
			if len(f) < 2 {
				continue
			}
			// A read of fd 0 (standard input), or an open waiting for a FIFO's writer.
			if f[0] == calls[0] && f[1] == "0x0" {
				return true, nil
			}
			if f[0] == calls[1] {
				wchan, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/wchan", pid, task.Name()))
				if string(wchan) == "wait_for_partner" {
					return true, nil
				}
			}
		}
		return false, nil
	})
}

// openPTY opens a pseudo-terminal pair.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skip("no pseudo-terminals here:", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	return m, s
}

// TestAValueTypedAtATerminalIsNotEchoed types a value into rotor create --from-stdin on
// a real pseudo-terminal: the terminal shows the prompt, never the value, and the
// version holds exactly the line typed.
func TestAValueTypedAtATerminalIsNotEchoed(t *testing.T) {
	ns := clusterenv.Namespace(t)
	master, slave := openPTY(t)
	defer func() { _ = master.Close() }()
	const value = "CANARY-typed-7f3a=+/"
	cmd := exec.Command(rotorBinary(t), "--kubeconfig", clusterenv.Kubeconfig(t), "create", "app", "-n", ns, "--from-stdin", "token")
	stderrR, stderrW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, &stdout, stderrW
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	_ = slave.Close()
	_ = stderrW.Close()
	echoed := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(master) // ends with EIO once rotor closes the terminal
		echoed <- string(b)
	}()
	// The prompt comes once echo is off; type the value then.
	prompt := bufio.NewReader(stderrR)
	var seen strings.Builder
	prompted := make(chan error, 1)
	go func() {
		for !strings.Contains(seen.String(), "not echoed") {
			b, err := prompt.ReadByte()
			if err != nil {
				prompted <- err
				return
			}
			seen.WriteByte(b)
		}
		prompted <- nil
	}()
	select {
	case err := <-prompted:
		if err != nil {
			t.Fatalf("no prompt (stderr so far: %q): %v", seen.String(), err)
		}
	case <-waitfor.Context(t).Done():
		_ = cmd.Process.Kill()
		t.Fatal("rotor never prompted for the value")
	}
	if _, err := master.Write([]byte(value + "\n")); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(prompt)
	if code := waitExit(t, cmd, "create on a terminal"); code != 0 {
		t.Fatalf("exit %d: %s%s", code, seen.String(), rest)
	}
	if out := <-echoed; strings.Contains(out, "CANARY") {
		t.Fatalf("the terminal echoed the value: %q", out)
	}
	name := strings.TrimSpace(stdout.String())
	s, err := clusterenv.Client(t).CoreV1().Secrets(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if string(s.Data["token"]) != value {
		t.Fatalf("the version holds %d bytes, not the line typed", len(s.Data["token"]))
	}
}
