package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/internal/gitops"
	"github.com/rotor-project/rotor/internal/rotation"
)

// gitopsFlags are the flags of a rotation through git (rollout and rollback): the
// changes are commits in a clone of the repository the GitOps engine reads, not live
// patches.
type gitopsFlags struct {
	Enabled bool
	Repo    string
	Path    string
	Push    bool

	spec  *v1alpha1.GitOpsSpec
	mover *gitops.Mover
}

func (g *gitopsFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.BoolVar(&g.Enabled, "gitops", false, "Rotate through git: commit the change of the manifests in --repo instead of patching the cluster; the GitOps engine (Flux, Argo CD) applies it, rotor waits for the cluster to show it, gates it like a live rotation and reverts it by a commit on failure")
	fl.StringVar(&g.Repo, "repo", "", "With --gitops: a clone of the repository the GitOps engine reads")
	fl.StringVar(&g.Path, "path", "", "With --gitops: the directory of the manifests inside --repo (default: all of it)")
	fl.BoolVar(&g.Push, "push", false, "With --gitops: push each commit to the branch's upstream (and ask Flux to fetch it at once)")
}

// validate checks the flags without touching the repository.
func (g *gitopsFlags) validate() error {
	if !g.Enabled {
		for _, f := range []struct {
			set  bool
			name string
		}{{g.Repo != "", "--repo"}, {g.Path != "", "--path"}, {g.Push, "--push"}} {
			if f.set {
				return usageErrorf("%s needs --gitops: it says where a rotation through git commits", f.name)
			}
		}
		return nil
	}
	if g.Repo == "" {
		return usageErrorf("--gitops needs --repo DIR: a clone of the repository the GitOps engine reads")
	}
	return nil
}

// complete resolves the clone: its top, the manifests' directory in it, and (with
// --push) where the current branch pushes. It sets up the mover the engine commits
// through.
func (g *gitopsFlags) complete(ctx context.Context, f *factory, say func(string, ...any)) error {
	if !g.Enabled {
		return nil
	}
	git := gitops.Git{}
	top, err := git.Top(ctx, g.Repo)
	if err != nil {
		return usageErrorf("--repo %s: %v", g.Repo, err)
	}
	rel := "."
	if g.Path != "" {
		abs := g.Path
		if !filepath.IsAbs(abs) {
			abs = filepath.Join(top, g.Path)
		}
		if info, err := os.Stat(abs); err != nil || !info.IsDir() {
			return usageErrorf("--path %s: not a directory in the clone %s (give the manifests' directory, relative to the repository's top)", g.Path, top)
		}
		if real, err := filepath.EvalSymlinks(abs); err == nil {
			abs = real
		}
		if rel, err = filepath.Rel(top, abs); err != nil || strings.HasPrefix(rel, "..") {
			return usageErrorf("--path %s is outside the clone %s", g.Path, top)
		}
	}
	g.spec = &v1alpha1.GitOpsSpec{Path: filepath.ToSlash(rel), Push: g.Push}
	if g.spec.Path == "." {
		g.spec.Path = ""
	}
	if g.Push {
		if g.spec.Remote, g.spec.Branch, err = git.Upstream(ctx, top); err != nil {
			return usageErrorf("--push: %v", err)
		}
	}
	dyn, err := f.Dynamic()
	if err != nil {
		return err
	}
	flux := gitops.FluxSources{Dynamic: dyn, Now: f.Clock.Now}
	g.mover = &gitops.Mover{Git: git, Repo: top, Notify: func(ctx context.Context, rot *v1alpha1.SecretRotation, url string) {
		asked, err := flux.Reconcile(ctx, rot.Namespace, url)
		switch {
		case err != nil:
			say("could not ask Flux to fetch %s at once (%v); it fetches at its next poll", url, err)
		case len(asked) > 0:
			say("asked Flux GitRepository %s to fetch the commit now", strings.Join(asked, ", "))
		}
	}}
	return nil
}

// preview refuses, with nothing written, a rotation the mover would refuse, and with
// diff set prints the change of the manifests it would commit.
func (g *gitopsFlags) preview(ctx context.Context, rot *v1alpha1.SecretRotation, diff io.Writer) error {
	plans, err := g.mover.Preview(ctx, rot)
	if err != nil {
		var nim *gitops.NotInManifestsError
		var vig *gitops.ValuesInGitError
		var un *gitops.UnrewritableError
		if errors.As(err, &nim) || errors.As(err, &vig) || errors.As(err, &un) {
			return usageErrorf("not rotated through git, nothing was changed: %v (--repo, --path)", err)
		}
		return fmt.Errorf("not rotated through git, nothing was changed: %w", err)
	}
	if diff == nil {
		return nil
	}
	for _, p := range plans {
		if err := p.Diff(diff); err != nil {
			return err
		}
	}
	return nil
}

// isGitOpsUnavailable matches a rotation through git that a run without --gitops met.
func isGitOpsUnavailable(err error) bool {
	var e *rotation.GitOpsUnavailableError
	return errors.As(err, &e)
}
