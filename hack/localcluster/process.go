package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// proc is one started component, as recorded in the state file. Args and Env are kept
// so that `start-component` can start a stopped component again exactly as before.
type proc struct {
	Name  string     `json:"name"`
	PID   int        `json:"pid"`
	Exe   string     `json:"exe"`
	Log   string     `json:"log"`
	Args  []string   `json:"args,omitempty"`
	Env   []string   `json:"env,omitempty"`
	Ready *readiness `json:"ready,omitempty"`
	// Addon names the addon this process belongs to ("" for the control plane).
	Addon string `json:"addon,omitempty"`
}

// readiness is how to tell that a component serves: an HTTP GET of URL answering 200,
// made with the client named by Client ("plain", "insecure" or "admin").
type readiness struct {
	URL    string `json:"url"`
	Client string `json:"client"`
}

// state is what `up` records in DIR/state.json and `down` reads back.
type state struct {
	Ports      map[string]int `json:"ports"`
	Server     string         `json:"server"`
	Kubeconfig string         `json:"kubeconfig"`
	Procs      []proc         `json:"procs"`
	Started    string         `json:"started"`
	// Addons lists the addons started, in order.
	Addons []string `json:"addons,omitempty"`
}

func statePath(dir string) string { return filepath.Join(dir, "state.json") }

func readState(dir string) (*state, error) {
	b, err := os.ReadFile(statePath(dir))
	if err != nil {
		return nil, err
	}
	var s state
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("reading %s: %w", statePath(dir), err)
	}
	return &s, nil
}

func writeState(dir string, s *state) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp := statePath(dir) + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, statePath(dir))
}

// lockState takes an exclusive lock on DIR's state, held until the returned function is
// called: `up`, `down`, `addons --ensure` and the component commands of several
// processes (parallel test packages) never interleave their changes.
func lockState(dir string) (unlock func(), err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, "state.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("locking %s: %w", f.Name(), err)
	}
	return func() { _ = f.Close() }, nil
}

// find returns the index of the named process, or -1.
func (s *state) find(name string) int {
	for i, p := range s.Procs {
		if p.Name == name {
			return i
		}
	}
	return -1
}

// alive reports whether the recorded process still runs the recorded executable. The
// executable check guards against signalling a recycled PID.
func (p proc) alive() bool {
	if p.PID <= 0 {
		return false
	}
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", p.PID))
	if err != nil {
		return false
	}
	exe = strings.TrimSuffix(exe, " (deleted)")
	if exe != p.Exe {
		return false
	}
	// A zombie still has /proc/PID/exe unreadable, but check its state to be sure.
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.PID))
	if err != nil {
		return false
	}
	if i := strings.LastIndexByte(string(b), ')'); i > 0 && i+2 < len(b) && b[i+2] == 'Z' {
		return false
	}
	return true
}

// startProc starts a component in its own session (so a terminal's Ctrl-C or the
// exit of `up` does not take it down), its output appended to a log file.
func startProc(name, exe, logDir string, env []string, args ...string) (proc, error) {
	logPath := filepath.Join(logDir, name+".log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return proc{}, err
	}
	defer f.Close()
	cmd := exec.Command(exe, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return proc{}, fmt.Errorf("starting %s: %w", name, err)
	}
	// Reap it when it exits while we still run, so alive() sees it gone.
	go func() { _ = cmd.Wait() }()
	abs, err := filepath.EvalSymlinks(exe)
	if err != nil {
		abs = exe
	}
	return proc{Name: name, PID: cmd.Process.Pid, Exe: abs, Log: logPath, Args: args, Env: env}, nil
}

// stopProcs sends SIGTERM to every live recorded process at once, waits for them to
// exit, and SIGKILLs what is left after the grace period.
func stopProcs(procs []proc, grace time.Duration) {
	var live []proc
	for _, p := range procs {
		if p.alive() {
			_ = syscall.Kill(p.PID, syscall.SIGTERM)
			live = append(live, p)
		}
	}
	deadline := time.Now().Add(grace)
	for _, p := range live {
		if !waitExit(p, time.Until(deadline)) && p.alive() {
			_ = syscall.Kill(p.PID, syscall.SIGKILL)
			waitExit(p, grace)
		}
	}
}

// waitExit waits until p has exited or d has passed, and reports whether it exited.
// It waits on a pidfd (an event, not a poll) and needs no parent-child relation, so it
// works for processes an earlier `up` started.
func waitExit(p proc, d time.Duration) bool {
	const sysPidfdOpen = 434 // the same number on every Linux architecture
	fd, _, errno := syscall.Syscall(sysPidfdOpen, uintptr(p.PID), 0, 0)
	if errno != 0 {
		return pollExit(p, d) // a kernel older than 5.3
	}
	defer syscall.Close(int(fd))
	if !p.alive() { // the PID may have been recycled before the pidfd was opened
		return true
	}
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return !p.alive()
	}
	defer syscall.Close(epfd)
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(fd)}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, int(fd), &ev); err != nil {
		return !p.alive()
	}
	deadline := time.Now().Add(d)
	for {
		ms := int(time.Until(deadline).Milliseconds())
		if ms <= 0 {
			return !p.alive()
		}
		events := make([]syscall.EpollEvent, 1)
		n, err := syscall.EpollWait(epfd, events, ms)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil || n > 0 {
			// The pidfd is readable once the process exits; a zombie child of ours is
			// reaped by startProc's goroutine.
			return n > 0 || !p.alive()
		}
	}
}

// pollExit is waitExit for kernels without pidfd_open.
func pollExit(p proc, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for p.alive() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

// tail returns the last n lines of a log file, for error messages.
func tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}

// logSays reports whether a log file contains text.
func logSays(path, text string) bool {
	b, err := os.ReadFile(path)
	return err == nil && bytes.Contains(b, []byte(text))
}

// componentError is a start-up failure of one component, carrying its last log lines.
type componentError struct {
	Component string
	Err       error
	LogTail   string
}

func (e *componentError) Error() string {
	msg := fmt.Sprintf("%s: %v", e.Component, e.Err)
	if e.LogTail != "" {
		msg += "\n--- last lines of the " + e.Component + " log ---\n" + e.LogTail
	}
	return msg
}

func (e *componentError) Unwrap() error { return e.Err }

var errExited = errors.New("process exited during start-up")
