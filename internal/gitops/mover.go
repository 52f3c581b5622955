package gitops

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/internal/rotation"
)

// Mover carries out the re-points and reverts of rotations through git
// (rotation.Mover): it rewrites the references of the moving consumers in the
// manifests under the rotation's path, commits exactly those files, pushes the commit
// when the rotation says so, and returns it. The engine records the commit in the
// journal and waits for the cluster to show it: the GitOps engine applies it.
//
// Only the consumers' references change, and only to the move's versions: a forward
// move sets every reference of each consumer to its target (as a live re-point
// does); a revert sets back only the references that name the version the rotation
// moved to. A commit a dead run made already is found again (its trailers name the
// rotation) rather than made twice.
type Mover struct {
	Git Git
	// Repo is a directory of the clone of the repository the GitOps engine reads.
	Repo string
	// Notify, if set, is called after each push with the remote's URL, to ask the
	// GitOps engine to fetch at once (FluxSources.Reconcile); without it the engine
	// finds the commit at its next poll.
	Notify func(ctx context.Context, rot *v1alpha1.SecretRotation, url string)
}

// Trailers rotor writes on the commits of a rotation, besides Rotor-Family, Rotor-From
// and Rotor-To.
const (
	TrailerRotation = "Rotor-Rotation"
	TrailerAction   = "Rotor-Action"
	TrailerReverts  = "Rotor-Reverts"
)

// NotInManifestsError refuses a move: consumers the cluster shows naming the family
// that no manifest under the rotation's path names. A commit cannot move them.
type NotInManifestsError struct {
	Root    string
	Objects []string
}

func (e *NotInManifestsError) Error() string {
	return fmt.Sprintf("%s name(s) a version of the family in the cluster, but no manifest under %s names it: a commit there cannot move it (the GitOps engine applies it from elsewhere, or it is not managed from git); narrow the rotation to the consumers of this repository, or give the directory that holds their manifests",
		strings.Join(e.Objects, ", "), e.Root)
}

// Root is the directory of manifests of a rotation through git in the clone at top.
func Root(top string, spec *v1alpha1.GitOpsSpec) string {
	if spec == nil || spec.Path == "" {
		return top
	}
	return filepath.Join(top, filepath.FromSlash(spec.Path))
}

// Move commits the rewrite of m's consumers and returns the commit.
func (mv *Mover) Move(ctx context.Context, rot *v1alpha1.SecretRotation, m rotation.Move) (*v1alpha1.SourceChange, error) {
	spec := rot.Spec.GitOps
	if spec == nil {
		return nil, errors.New("the rotation does not go through git (no spec.gitops)")
	}
	g := mv.Git
	top, err := g.Top(ctx, mv.Repo)
	if err != nil {
		return nil, err
	}
	if spec.Push {
		if err := g.Sync(ctx, top, spec.Remote, spec.Branch); err != nil {
			return nil, err
		}
	}
	root := Root(top, spec)
	var written []FileChange
	undo := func() {
		for i := len(written) - 1; i >= 0; i-- {
			_ = os.WriteFile(written[i].File, written[i].Old, written[i].Mode.Perm())
		}
	}
	files := map[string]bool{}
	from, to := map[string]bool{}, map[string]bool{}
	for _, items := range byTarget(m.Items) {
		p, err := plan(ctx, g, top, root, rot, items, m.Back, files)
		if err != nil {
			undo()
			return nil, err
		}
		if err := p.Write(); err != nil {
			undo()
			return nil, err
		}
		for _, c := range p.Changes {
			written = append(written, c)
			files[c.File] = true
		}
		for _, f := range p.From {
			from[f] = true
		}
		if len(p.Changes) > 0 {
			to[p.To] = true
		}
	}
	change := &v1alpha1.SourceChange{Objects: m.Objects()}
	if len(files) == 0 {
		// The manifests say it already: an earlier run committed it (or someone did).
		if change.Commit, err = mv.reused(ctx, top, rot, m); err != nil {
			return nil, err
		}
		change.Reused = true
	} else {
		rels, err := relative(top, files)
		if err != nil {
			undo()
			return nil, err
		}
		change.Files = rels
		msg := mv.message(ctx, top, rot, m, sorted(from), sorted(to))
		if change.Commit, err = g.CommitFiles(ctx, top, rels, msg); err != nil {
			undo()
			return nil, fmt.Errorf("committing the rewrite: %w; the files were put back as they were", err)
		}
	}
	if !spec.Push {
		return change, nil
	}
	ahead, err := g.Ahead(ctx, top, spec.Remote, spec.Branch)
	if err != nil {
		return nil, err
	}
	if ahead {
		pushed, err := g.Push(ctx, top, spec.Remote, spec.Branch)
		if err != nil {
			return nil, err
		}
		if !change.Reused {
			change.Commit = pushed // rebased onto a remote that moved
		}
	}
	change.Pushed = true
	if mv.Notify != nil {
		if url, err := g.RemoteURL(ctx, top, spec.Remote); err == nil {
			mv.Notify(ctx, rot, url)
		}
	}
	return change, nil
}

// Preview works out, without writing, the rewrites a forward move of every active
// consumer of rot would commit: one plan per target version, each against the files as
// they are. It refuses, with nothing written, what Move would refuse: Secret values in
// git, references that cannot be spliced, consumers no manifest names, and files with
// uncommitted changes.
func (mv *Mover) Preview(ctx context.Context, rot *v1alpha1.SecretRotation) ([]*Plan, error) {
	top, err := mv.Git.Top(ctx, mv.Repo)
	if err != nil {
		return nil, err
	}
	var items []rotation.MoveItem
	for i, c := range rot.Status.Consumers {
		if !c.Skip && c.From != c.To {
			items = append(items, rotation.MoveItem{Index: i, Consumer: c, From: c.From, To: c.To})
		}
	}
	var plans []*Plan
	for _, group := range byTarget(items) {
		p, err := plan(ctx, mv.Git, top, Root(top, rot.Spec.GitOps), rot, group, false, nil)
		if err != nil {
			return nil, err
		}
		plans = append(plans, p)
	}
	return plans, nil
}

// plan works out the rewrite of items (all with one target) in the files under root
// as they are now, and checks that the files it changes have no uncommitted changes
// (besides those in ours: files this move already rewrote).
func plan(ctx context.Context, g Git, top, root string, rot *v1alpha1.SecretRotation, items []rotation.MoveItem, back bool, ours map[string]bool) (*Plan, error) {
	scan, err := ScanDir(root, rot.Spec.Family)
	if err != nil {
		return nil, err
	}
	names := func(r Reference, it rotation.MoveItem) bool {
		return r.Object.Kind == it.Consumer.Kind && r.Object.Name == it.Consumer.Name &&
			(r.Object.Namespace == "" || r.Object.Namespace == rot.Namespace)
	}
	if !back {
		var missing []string
		for _, it := range items {
			if !slices.ContainsFunc(scan.References, func(r Reference) bool { return names(r, it) }) {
				missing = append(missing, it.Consumer.Kind+"/"+it.Consumer.Name)
			}
		}
		if len(missing) > 0 {
			return nil, &NotInManifestsError{Root: root, Objects: missing}
		}
	}
	p, err := scan.Set(items[0].To, SetOptions{Select: func(r Reference) bool {
		return slices.ContainsFunc(items, func(it rotation.MoveItem) bool { return names(r, it) && (!back || r.Secret == it.From) })
	}})
	if err != nil {
		return nil, err
	}
	var check []string
	for _, c := range p.Changes {
		if !ours[c.File] {
			check = append(check, c.File)
		}
	}
	rels, err := relative(top, setOf(check))
	if err != nil {
		return nil, err
	}
	dirty, err := g.Dirty(ctx, top, rels)
	if err != nil {
		return nil, err
	}
	if dirty != "" {
		return nil, fmt.Errorf("files rotor would change have uncommitted changes:\n%s\ncommit or stash them first, so the rotation's commit holds only the rotation", indentLines(dirty))
	}
	return p, nil
}

// byTarget groups items by the version they go to, in order of first appearance.
func byTarget(items []rotation.MoveItem) [][]rotation.MoveItem {
	idx := map[string]int{}
	var out [][]rotation.MoveItem
	for _, it := range items {
		i, ok := idx[it.To]
		if !ok {
			i = len(out)
			idx[it.To] = i
			out = append(out, nil)
		}
		out[i] = append(out[i], it)
	}
	return out
}

// reused is the commit that already made the move: the newest commit with the
// rotation's and the action's trailers, else HEAD.
func (mv *Mover) reused(ctx context.Context, top string, rot *v1alpha1.SecretRotation, m rotation.Move) (string, error) {
	h, err := mv.Git.FindCommit(ctx, top, TrailerRotation+": "+rot.Namespace+"/"+rot.Name, TrailerAction+": "+actionOf(m))
	if err == nil && h != "" {
		return h, nil
	}
	return mv.Git.Head(ctx, top)
}

func actionOf(m rotation.Move) string {
	if m.Back {
		return string(rotation.ActRestore)
	}
	return string(rotation.ActRepoint)
}

// message is a move's commit message, with the trailers that make it findable.
func (mv *Mover) message(ctx context.Context, top string, rot *v1alpha1.SecretRotation, m rotation.Move, from, to []string) string {
	fam, ns := rot.Spec.Family, rot.Namespace
	objects := strings.Join(m.Objects(), ", ")
	var subject, body, reverts string
	switch {
	case m.Back:
		forward := lastCommit(rot, string(rotation.ActRepoint))
		subject = fmt.Sprintf("Revert \"rotor: set %s to %s in namespace %s\"", fam, strings.Join(from, ", "), ns)
		body = fmt.Sprintf("Returns %s to %s: rotation %s failed (%s).", objects, strings.Join(to, ", "), rot.Name, rot.Status.Message)
		if forward != "" {
			body = fmt.Sprintf("This reverts commit %s.\n\n%s", forward, body)
			reverts = forward
		}
	case rot.Spec.Action == v1alpha1.ActionRollback:
		subject = fmt.Sprintf("rotor: roll back %s in namespace %s to %s", fam, ns, strings.Join(to, ", "))
		body = fmt.Sprintf("Returns %s to the version(s) they had before", objects)
		if rot.Spec.Reverts != "" {
			body += " rotation " + rot.Spec.Reverts
			if h, err := mv.Git.FindCommit(ctx, top, TrailerRotation+": "+ns+"/"+rot.Spec.Reverts, TrailerAction+": "+string(rotation.ActRepoint)); err == nil && h != "" {
				body = fmt.Sprintf("This reverts commit %s.\n\n%s", h, body)
				reverts = h
			}
		}
		body += "."
	default:
		subject = fmt.Sprintf("rotor: set %s to %s in namespace %s", fam, strings.Join(to, ", "), ns)
		body = fmt.Sprintf("Re-points %s from %s (rotation %s).", objects, strings.Join(from, ", "), rot.Name)
	}
	trailers := []string{
		"Rotor-Family: " + fam,
		"Rotor-From: " + strings.Join(from, ", "),
		"Rotor-To: " + strings.Join(to, ", "),
		TrailerRotation + ": " + ns + "/" + rot.Name,
		TrailerAction + ": " + actionOf(m),
	}
	if reverts != "" {
		trailers = append(trailers, TrailerReverts+": "+reverts)
	}
	return subject + "\n\n" + body + "\n\n" + strings.Join(trailers, "\n") + "\n"
}

// lastCommit is the newest commit of the rotation's journal made by action.
func lastCommit(rot *v1alpha1.SecretRotation, action string) string {
	for i := len(rot.Status.Commits) - 1; i >= 0; i-- {
		if c := rot.Status.Commits[i]; c.Action == action {
			return c.Commit
		}
	}
	return ""
}

// relative are files relative to top, slash-separated, sorted.
func relative(top string, files map[string]bool) ([]string, error) {
	out := make([]string, 0, len(files))
	for f := range files {
		abs, err := filepath.Abs(f)
		if err != nil {
			return nil, err
		}
		if d, err := filepath.EvalSymlinks(filepath.Dir(abs)); err == nil {
			abs = filepath.Join(d, filepath.Base(abs))
		}
		rel, err := filepath.Rel(top, abs)
		if err != nil || strings.HasPrefix(rel, "..") {
			return nil, fmt.Errorf("%s is outside the work tree %s", f, top)
		}
		out = append(out, filepath.ToSlash(rel))
	}
	slices.Sort(out)
	return out, nil
}

func setOf(list []string) map[string]bool {
	m := make(map[string]bool, len(list))
	for _, s := range list {
		m[s] = true
	}
	return m
}

func sorted(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
