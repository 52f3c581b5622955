package gitops

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Git runs the real git binary in the repository that holds a plan's files. Only names
// and paths reach git's argv; the commit message goes through standard input.
type Git struct {
	// Binary is the git executable; "git" (from PATH) when empty.
	Binary string
	// Env is added to the process environment (tests set an author identity here).
	Env []string
}

// GitError is a git command that failed, with what it said.
type GitError struct {
	Args   []string
	Stderr string
	Err    error
}

func (e *GitError) Error() string {
	msg := strings.TrimSpace(e.Stderr)
	if msg == "" {
		msg = e.Err.Error()
	}
	return fmt.Sprintf("git %s: %s", strings.Join(e.Args, " "), msg)
}

func (e *GitError) Unwrap() error { return e.Err }

func (g Git) run(ctx context.Context, dir string, stdin []byte, args ...string) (string, error) {
	bin := g.Binary
	if bin == "" {
		bin = "git"
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "LC_ALL=C"), g.Env...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return "", fmt.Errorf("git is not installed (or not on PATH): install it to commit the rewrite, or rewrite without a commit and commit by hand")
		}
		return "", &GitError{Args: args, Stderr: errOut.String(), Err: err}
	}
	return strings.TrimSpace(out.String()), nil
}

// repo is the work tree holding the plan's root, and the plan's files relative to it.
func (g Git) repo(ctx context.Context, p *Plan) (string, []string, error) {
	dir := p.Root
	if info, err := os.Stat(dir); err == nil && !info.IsDir() {
		dir = filepath.Dir(dir)
	}
	top, err := g.run(ctx, dir, nil, "rev-parse", "--show-toplevel")
	if err != nil {
		return "", nil, fmt.Errorf("%s is not in a git work tree (%w): rewrite without a commit, or run inside a clone", p.Root, err)
	}
	top, err = filepath.EvalSymlinks(top)
	if err != nil {
		return "", nil, err
	}
	files := make([]string, 0, len(p.Changes))
	for _, c := range p.Changes {
		abs, err := filepath.Abs(c.File)
		if err != nil {
			return "", nil, err
		}
		if dirPart, err := filepath.EvalSymlinks(filepath.Dir(abs)); err == nil {
			abs = filepath.Join(dirPart, filepath.Base(abs))
		}
		rel, err := filepath.Rel(top, abs)
		if err != nil || strings.HasPrefix(rel, "..") {
			return "", nil, fmt.Errorf("%s is outside the work tree %s", c.File, top)
		}
		files = append(files, filepath.ToSlash(rel))
	}
	return top, files, nil
}

// CheckClean refuses when a file the plan changes has changes of its own that are not
// committed: the commit would carry them too. Call it before Write.
func (g Git) CheckClean(ctx context.Context, p *Plan) error {
	if len(p.Changes) == 0 {
		return nil
	}
	top, files, err := g.repo(ctx, p)
	if err != nil {
		return err
	}
	out, err := g.run(ctx, top, nil, append([]string{"status", "--porcelain", "--"}, files...)...)
	if err != nil {
		return err
	}
	if out != "" {
		return fmt.Errorf("files rotor would change have uncommitted changes:\n%s\ncommit or stash them first, so the rotation's commit holds only the rotation", indentLines(out))
	}
	return nil
}

// DefaultMessage is the commit message when none is given.
func (p *Plan) DefaultMessage() string {
	return fmt.Sprintf("rotor: set %s to %s\n\nRe-points %d reference(s) in %d file(s) from %s.",
		p.Family, p.To, len(p.Edits()), len(p.Changes), strings.Join(p.From, ", "))
}

// Trailers name the family, the versions replaced and the version set, so a commit can
// be found and reverted by what it rotated.
func (p *Plan) Trailers() string {
	return fmt.Sprintf("Rotor-Family: %s\nRotor-From: %s\nRotor-To: %s\n", p.Family, strings.Join(p.From, ", "), p.To)
}

// Commit stages the plan's files and commits exactly them (other staged changes stay
// staged, uncommitted), with message (DefaultMessage when empty) and the trailers. It
// returns the new commit's hash.
func (g Git) Commit(ctx context.Context, p *Plan, message string) (string, error) {
	if len(p.Changes) == 0 {
		return "", errors.New("nothing to commit: every reference already names " + p.To)
	}
	top, files, err := g.repo(ctx, p)
	if err != nil {
		return "", err
	}
	if _, err := g.run(ctx, top, nil, append([]string{"add", "--"}, files...)...); err != nil {
		return "", err
	}
	if strings.TrimSpace(message) == "" {
		message = p.DefaultMessage()
	}
	msg := strings.TrimRight(message, "\n") + "\n\n" + p.Trailers()
	if _, err := g.run(ctx, top, []byte(msg), append([]string{"commit", "--quiet", "--file=-", "--"}, files...)...); err != nil {
		return "", err
	}
	return g.run(ctx, top, nil, "rev-parse", "HEAD")
}

func indentLines(s string) string { return "  " + strings.ReplaceAll(s, "\n", "\n  ") }
