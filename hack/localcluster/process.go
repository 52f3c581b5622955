package main

import (
	"bufio"
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

// proc is one started component, as recorded in the state file.
type proc struct {
	Name string `json:"name"`
	PID  int    `json:"pid"`
	Exe  string `json:"exe"`
	Log  string `json:"log"`
}

// state is what `up` records in DIR/state.json and `down` reads back.
type state struct {
	PortBase   int    `json:"portBase"`
	Server     string `json:"server"`
	Kubeconfig string `json:"kubeconfig"`
	Procs      []proc `json:"procs"`
	Started    string `json:"started"`
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
// exit of `up` does not take it down), its output going to a log file.
func startProc(name, exe, logDir string, args ...string) (proc, error) {
	logPath := filepath.Join(logDir, name+".log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return proc{}, err
	}
	defer f.Close()
	cmd := exec.Command(exe, args...)
	cmd.Stdout, cmd.Stderr = f, f
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
	return proc{Name: name, PID: cmd.Process.Pid, Exe: abs, Log: logPath}, nil
}

// stopProcs sends SIGTERM to every live recorded process at once, waits, then SIGKILLs
// what is left.
func stopProcs(procs []proc, grace time.Duration) {
	for _, p := range procs {
		if p.alive() {
			_ = syscall.Kill(p.PID, syscall.SIGTERM)
		}
	}
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		left := false
		for _, p := range procs {
			if p.alive() {
				left = true
			}
		}
		if !left {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, p := range procs {
		if p.alive() {
			_ = syscall.Kill(p.PID, syscall.SIGKILL)
		}
	}
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
