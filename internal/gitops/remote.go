package gitops

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// Where a rotation through git writes: the clone's top directory, and the remote and
// branch its commits are pushed to.

// Top is the top directory of the git work tree holding dir.
func (g Git) Top(ctx context.Context, dir string) (string, error) {
	top, err := g.run(ctx, dir, nil, "rev-parse", "--show-toplevel")
	if err != nil {
		return "", fmt.Errorf("%s is not in a git work tree (%w): give the directory of a clone of the repository the GitOps engine reads", dir, err)
	}
	return filepath.EvalSymlinks(top)
}

// Upstream is where the current branch of the clone at top pushes: its remote and the
// remote's branch (git's branch.NAME.remote and branch.NAME.merge).
func (g Git) Upstream(ctx context.Context, top string) (remote, branch string, err error) {
	local, err := g.run(ctx, top, nil, "symbolic-ref", "--quiet", "--short", "HEAD")
	if err != nil {
		return "", "", fmt.Errorf("the clone %s is not on a branch (a detached HEAD): check out the branch the GitOps engine reads", top)
	}
	remote, rerr := g.run(ctx, top, nil, "config", "--get", "branch."+local+".remote")
	merge, merr := g.run(ctx, top, nil, "config", "--get", "branch."+local+".merge")
	if rerr != nil || merr != nil || remote == "" || remote == "." || merge == "" {
		return "", "", fmt.Errorf("the branch %s of the clone %s has no upstream, so rotor does not know where to push: set one (git branch --set-upstream-to REMOTE/BRANCH), or leave pushing out", local, top)
	}
	return remote, strings.TrimPrefix(merge, "refs/heads/"), nil
}

// RemoteURL is the URL of a remote.
func (g Git) RemoteURL(ctx context.Context, top, remote string) (string, error) {
	return g.run(ctx, top, nil, "remote", "get-url", remote)
}

// Head is the commit HEAD points to.
func (g Git) Head(ctx context.Context, top string) (string, error) {
	return g.run(ctx, top, nil, "rev-parse", "HEAD")
}

// ErrDiverged says the clone and its remote both have commits the other lacks.
var ErrDiverged = errors.New("the clone and its remote have diverged")

// Sync fetches branch from remote and fast-forwards the clone to it, so a rotation
// commits on top of what the GitOps engine reads. A clone ahead of the remote (commits
// not pushed yet) is left as it is; a clone that diverged is refused.
func (g Git) Sync(ctx context.Context, top, remote, branch string) error {
	if _, err := g.run(ctx, top, nil, "fetch", "--quiet", remote, "refs/heads/"+branch); err != nil {
		return fmt.Errorf("fetching %s from %s: %w", branch, remote, err)
	}
	head, err := g.Head(ctx, top)
	if err != nil {
		return err
	}
	fetched, err := g.run(ctx, top, nil, "rev-parse", "FETCH_HEAD")
	if err != nil {
		return err
	}
	switch {
	case head == fetched, g.isAncestor(ctx, top, fetched, head):
		return nil
	case g.isAncestor(ctx, top, head, fetched):
		if _, err := g.run(ctx, top, nil, "merge", "--quiet", "--ff-only", fetched); err != nil {
			return fmt.Errorf("fast-forwarding the clone to %s/%s: %w", remote, branch, err)
		}
		return nil
	}
	return fmt.Errorf("%w: %s/%s has commits the clone %s lacks and the other way round; reconcile them (git pull --rebase) and run rotor again", ErrDiverged, remote, branch, top)
}

func (g Git) isAncestor(ctx context.Context, top, a, b string) bool {
	_, err := g.run(ctx, top, nil, "merge-base", "--is-ancestor", a, b)
	return err == nil
}

// pushAttempts bounds the pushes of one commit that the remote rejects because it moved
// meanwhile (each followed by a rebase onto it).
const pushAttempts = 3

// Push sends HEAD to branch of remote. When the remote moved meanwhile (a rejected
// push), the clone's new commits are rebased onto it and pushed again; a rebase that
// conflicts is undone and reported. It returns the commit pushed (HEAD, possibly
// rebased).
func (g Git) Push(ctx context.Context, top, remote, branch string) (string, error) {
	var err error
	for attempt := 0; attempt < pushAttempts; attempt++ {
		if _, err = g.run(ctx, top, nil, "push", "--quiet", remote, "HEAD:refs/heads/"+branch); err == nil {
			return g.Head(ctx, top)
		}
		var ge *GitError
		if !errors.As(err, &ge) || !rejected(ge.Stderr) {
			return "", fmt.Errorf("pushing to %s %s: %w", remote, branch, err)
		}
		if _, ferr := g.run(ctx, top, nil, "fetch", "--quiet", remote, "refs/heads/"+branch); ferr != nil {
			return "", fmt.Errorf("the push to %s %s was rejected, and fetching it failed: %w", remote, branch, ferr)
		}
		if _, rerr := g.run(ctx, top, nil, "rebase", "--quiet", "FETCH_HEAD"); rerr != nil {
			_, _ = g.run(ctx, top, nil, "rebase", "--abort")
			return "", fmt.Errorf("the push to %s %s was rejected (the branch moved), and rotor's commit does not rebase cleanly onto it: %w; the commit is in the clone, not pushed", remote, branch, rerr)
		}
	}
	return "", fmt.Errorf("pushing to %s %s: rejected %d times (the branch keeps moving): %w", remote, branch, pushAttempts, err)
}

// bre quotes the characters a basic regular expression gives a meaning.
var bre = strings.NewReplacer(`\`, `\\`, `.`, `\.`, `[`, `\[`, `]`, `\]`, `*`, `\*`, `^`, `\^`, `$`, `\$`)

func rejected(stderr string) bool {
	for _, s := range []string{"[rejected]", "non-fast-forward", "fetch first", "failed to update ref", "cannot lock ref"} {
		if strings.Contains(stderr, s) {
			return true
		}
	}
	return false
}

// Ahead reports whether the clone has commits its remote's branch lacks (as of the
// last fetch).
func (g Git) Ahead(ctx context.Context, top, remote, branch string) (bool, error) {
	if _, err := g.run(ctx, top, nil, "fetch", "--quiet", remote, "refs/heads/"+branch); err != nil {
		return false, fmt.Errorf("fetching %s from %s: %w", branch, remote, err)
	}
	out, err := g.run(ctx, top, nil, "rev-list", "--count", "FETCH_HEAD..HEAD")
	if err != nil {
		return false, err
	}
	return out != "0", nil
}

// FindCommit is the newest commit reachable from HEAD whose message has every one of
// the trailers as a line of its own, or "" when there is none.
func (g Git) FindCommit(ctx context.Context, top string, trailers ...string) (string, error) {
	args := []string{"log", "-1", "--format=%H", "--all-match"}
	for _, t := range trailers {
		args = append(args, "--grep=^"+bre.Replace(t)+"$")
	}
	return g.run(ctx, top, nil, append(args, "HEAD", "--")...)
}

// CommitFiles stages files (relative to top) and commits exactly them with message
// (through standard input). It returns the new commit's hash. When the commit fails
// (no committer identity, a hook that refuses it) the files are unstaged again.
func (g Git) CommitFiles(ctx context.Context, top string, files []string, message string) (string, error) {
	if _, err := g.run(ctx, top, nil, append([]string{"add", "--"}, files...)...); err != nil {
		return "", err
	}
	if _, err := g.run(ctx, top, []byte(message), append([]string{"commit", "--quiet", "--file=-", "--"}, files...)...); err != nil {
		// Unstage them again: the caller puts the files back as they were.
		_, _ = g.run(context.WithoutCancel(ctx), top, nil, append([]string{"reset", "--quiet", "--"}, files...)...)
		return "", err
	}
	return g.Head(ctx, top)
}

// Dirty lists the files (relative to top) among files with uncommitted changes.
func (g Git) Dirty(ctx context.Context, top string, files []string) (string, error) {
	if len(files) == 0 {
		return "", nil
	}
	return g.run(ctx, top, nil, append([]string{"status", "--porcelain", "--"}, files...)...)
}
