package gitops

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/internal/rotation"
)

const webYAML = `# the API
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
      - name: app
        envFrom:
        - secretRef: {name: ` + v1 + `}   # the token
`

const workerYAML = `apiVersion: apps/v1
kind: Deployment
metadata: {name: worker, namespace: payments}
spec:
  template:
    spec:
      volumes:
      - name: token
        secret:
          secretName: "` + v1 + `"
`

// gitRun runs git in dir with the test identity.
func gitRun(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), gitIdentity...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// remoteAndClone makes a bare repository holding deploy/web.yaml and
// deploy/worker.yaml, and a clone of it whose main tracks it.
func remoteAndClone(t *testing.T) (bare, clone string) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatalf("the tests need git: %v", err)
	}
	bare = filepath.Join(t.TempDir(), "app.git")
	gitRun(t, "", "init", "--quiet", "--bare", "--initial-branch=main", bare)
	seed := t.TempDir()
	gitRun(t, seed, "init", "--quiet", "--initial-branch=main")
	writeFile(t, filepath.Join(seed, "deploy", "web.yaml"), webYAML)
	writeFile(t, filepath.Join(seed, "deploy", "worker.yaml"), workerYAML)
	writeFile(t, filepath.Join(seed, "README.md"), "the app\n")
	gitRun(t, seed, "add", ".")
	gitRun(t, seed, "commit", "--quiet", "-m", "the app")
	gitRun(t, seed, "push", "--quiet", bare, "main")
	clone = filepath.Join(t.TempDir(), "clone")
	gitRun(t, "", "clone", "--quiet", bare, clone)
	return bare, clone
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// gitRotation is a rotation of web (and optionally worker) in payments from v1 to v2
// through git, pushed to origin main.
func gitRotation(consumers ...string) *v1alpha1.SecretRotation {
	rot := &v1alpha1.SecretRotation{
		ObjectMeta: metav1.ObjectMeta{Name: "rot-1", Namespace: "payments"},
		Spec: v1alpha1.RotationSpec{Family: fam, Target: v2, Action: v1alpha1.ActionRollout,
			GitOps: &v1alpha1.GitOpsSpec{Path: "deploy", Push: true, Remote: "origin", Branch: "main"}},
	}
	for _, c := range consumers {
		rot.Status.Consumers = append(rot.Status.Consumers, v1alpha1.ConsumerStatus{Kind: "Deployment", Name: c, From: v1, To: v2})
	}
	return rot
}

func forward(rot *v1alpha1.SecretRotation) rotation.Move {
	m := rotation.Move{}
	for i, c := range rot.Status.Consumers {
		m.Items = append(m.Items, rotation.MoveItem{Index: i, Consumer: c, From: c.From, To: c.To})
	}
	return m
}

func back(rot *v1alpha1.SecretRotation) rotation.Move {
	m := rotation.Move{Back: true}
	for i, c := range rot.Status.Consumers {
		m.Items = append(m.Items, rotation.MoveItem{Index: i, Consumer: c, From: c.To, To: c.From})
	}
	return m
}

func TestAMoveIsOnePushedCommitOfTheConsumersReferencesOnly(t *testing.T) {
	bare, clone := remoteAndClone(t)
	var notified []string
	mv := &Mover{Git: Git{Env: gitIdentity}, Repo: clone, Notify: func(_ context.Context, _ *v1alpha1.SecretRotation, url string) { notified = append(notified, url) }}
	rot := gitRotation("web")
	ctx := context.Background()
	ch, err := mv.Move(ctx, rot, forward(rot))
	if err != nil {
		t.Fatal(err)
	}
	if ch.Reused || !ch.Pushed || len(ch.Files) != 1 || ch.Files[0] != "deploy/web.yaml" || strings.Join(ch.Objects, ",") != "Deployment/web" {
		t.Fatalf("change %+v", ch)
	}
	if got := gitRun(t, bare, "rev-parse", "main"); got != ch.Commit {
		t.Fatalf("the remote's main is %s, the commit %s", got, ch.Commit)
	}
	if want := strings.Replace(webYAML, v1, v2, 1); readFile(t, filepath.Join(clone, "deploy", "web.yaml")) != want {
		t.Fatalf("web.yaml:\n%s", readFile(t, filepath.Join(clone, "deploy", "web.yaml")))
	}
	if readFile(t, filepath.Join(clone, "deploy", "worker.yaml")) != workerYAML {
		t.Fatal("worker.yaml changed, and the rotation does not move worker")
	}
	msg := gitRun(t, clone, "log", "-1", "--format=%B")
	for _, want := range []string{"rotor: set " + fam + " to " + v2 + " in namespace payments", "Rotor-Family: " + fam, "Rotor-From: " + v1, "Rotor-To: " + v2,
		"Rotor-Rotation: payments/rot-1", "Rotor-Action: Repoint"} {
		if !strings.Contains(msg, want) {
			t.Fatalf("the message lacks %q:\n%s", want, msg)
		}
	}
	if len(notified) != 1 || notified[0] != bare {
		t.Fatalf("notified %v, want the remote's URL once", notified)
	}

	// A run killed after the commit, before the journal recorded it, moves again: the
	// manifests say it already, so the same commit is found, not a second one made.
	again, err := mv.Move(ctx, rot, forward(rot))
	if err != nil {
		t.Fatal(err)
	}
	if !again.Reused || again.Commit != ch.Commit {
		t.Fatalf("the second move: %+v, want the first commit %s reused", again, ch.Commit)
	}
	if n := gitRun(t, bare, "rev-list", "--count", "main"); n != "2" {
		t.Fatalf("%s commits on the remote, want the seed and the rotation's", n)
	}

	// The revert returns the file to its original bytes, in a commit that says which
	// commit it reverts.
	rot.Status.Commits = []v1alpha1.SourceChange{{Action: "Repoint", Commit: ch.Commit}}
	rot.Status.Message = "Deployment/web: CrashLoopBackOff"
	rev, err := mv.Move(ctx, rot, back(rot))
	if err != nil {
		t.Fatal(err)
	}
	if readFile(t, filepath.Join(clone, "deploy", "web.yaml")) != webYAML {
		t.Fatal("the revert did not give the original bytes back")
	}
	msg = gitRun(t, clone, "log", "-1", "--format=%B")
	for _, want := range []string{"Revert \"rotor: set " + fam + " to " + v2, "This reverts commit " + ch.Commit, "CrashLoopBackOff", "Rotor-Action: Restore", "Rotor-Reverts: " + ch.Commit} {
		if !strings.Contains(msg, want) {
			t.Fatalf("the revert's message lacks %q:\n%s", want, msg)
		}
	}
	if got := gitRun(t, bare, "rev-parse", "main"); got != rev.Commit {
		t.Fatalf("the revert was not pushed: remote %s, revert %s", got, rev.Commit)
	}
}

func TestAMoveCommitsOnTopOfWhatTheRemoteGainedMeanwhile(t *testing.T) {
	bare, clone := remoteAndClone(t)
	other := filepath.Join(t.TempDir(), "other")
	gitRun(t, "", "clone", "--quiet", bare, other)
	writeFile(t, filepath.Join(other, "README.md"), "the app, documented\n")
	gitRun(t, other, "commit", "--quiet", "-am", "docs")
	gitRun(t, other, "push", "--quiet", "origin", "main")

	mv := &Mover{Git: Git{Env: gitIdentity}, Repo: clone}
	rot := gitRotation("web", "worker")
	ch, err := mv.Move(context.Background(), rot, forward(rot))
	if err != nil {
		t.Fatal(err)
	}
	if log := gitRun(t, bare, "log", "--format=%s", "main"); log != "rotor: set "+fam+" to "+v2+" in namespace payments\ndocs\nthe app" {
		t.Fatalf("remote history:\n%s", log)
	}
	if len(ch.Files) != 2 {
		t.Fatalf("files %v, want both manifests", ch.Files)
	}
}

func TestAMoveIsRefusedWithNothingWritten(t *testing.T) {
	ctx := context.Background()
	t.Run("a consumer no manifest names", func(t *testing.T) {
		_, clone := remoteAndClone(t)
		mv := &Mover{Git: Git{Env: gitIdentity}, Repo: clone}
		rot := gitRotation("web", "billing")
		_, err := mv.Move(ctx, rot, forward(rot))
		var nim *NotInManifestsError
		if !errors.As(err, &nim) || strings.Join(nim.Objects, ",") != "Deployment/billing" {
			t.Fatalf("err = %v", err)
		}
		if readFile(t, filepath.Join(clone, "deploy", "web.yaml")) != webYAML {
			t.Fatal("web.yaml was written")
		}
	})
	t.Run("a manifest with uncommitted changes", func(t *testing.T) {
		_, clone := remoteAndClone(t)
		edited := webYAML + "# edited by hand\n"
		writeFile(t, filepath.Join(clone, "deploy", "web.yaml"), edited)
		mv := &Mover{Git: Git{Env: gitIdentity}, Repo: clone}
		rot := gitRotation("web")
		rot.Spec.GitOps.Push = false
		if _, err := mv.Move(ctx, rot, forward(rot)); err == nil || !strings.Contains(err.Error(), "uncommitted changes") {
			t.Fatalf("err = %v", err)
		}
		if readFile(t, filepath.Join(clone, "deploy", "web.yaml")) != edited {
			t.Fatal("the edited file was overwritten")
		}
	})
	t.Run("Secret values committed in git", func(t *testing.T) {
		_, clone := remoteAndClone(t)
		writeFile(t, filepath.Join(clone, "deploy", "leak.yaml"), "apiVersion: v1\nkind: Secret\nmetadata: {name: leak}\nstringData: {token: not-a-real-value}\n")
		gitRun(t, clone, "add", ".")
		gitRun(t, clone, "commit", "--quiet", "-m", "a leak")
		mv := &Mover{Git: Git{Env: gitIdentity}, Repo: clone}
		rot := gitRotation("web")
		rot.Spec.GitOps.Push = false
		_, err := mv.Move(ctx, rot, forward(rot))
		var vig *ValuesInGitError
		if !errors.As(err, &vig) || strings.Contains(err.Error(), "not-a-real-value") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("a clone that diverged from its remote", func(t *testing.T) {
		bare, clone := remoteAndClone(t)
		other := filepath.Join(t.TempDir(), "other")
		gitRun(t, "", "clone", "--quiet", bare, other)
		writeFile(t, filepath.Join(other, "README.md"), "theirs\n")
		gitRun(t, other, "commit", "--quiet", "-am", "theirs")
		gitRun(t, other, "push", "--quiet", "origin", "main")
		writeFile(t, filepath.Join(clone, "README.md"), "ours\n")
		gitRun(t, clone, "commit", "--quiet", "-am", "ours")
		mv := &Mover{Git: Git{Env: gitIdentity}, Repo: clone}
		rot := gitRotation("web")
		_, err := mv.Move(ctx, rot, forward(rot))
		if !errors.Is(err, ErrDiverged) {
			t.Fatalf("err = %v", err)
		}
		if readFile(t, filepath.Join(clone, "deploy", "web.yaml")) != webYAML {
			t.Fatal("web.yaml was written")
		}
	})
	t.Run("a name shared through an anchor with an object that does not move", func(t *testing.T) {
		_, clone := remoteAndClone(t)
		writeFile(t, filepath.Join(clone, "deploy", "pair.yaml"), `apiVersion: v1
kind: ServiceAccount
metadata: {name: a}
imagePullSecrets: [{name: &pull `+v1+`}]
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: b}
imagePullSecrets: [{name: *pull}]
`)
		gitRun(t, clone, "add", ".")
		gitRun(t, clone, "commit", "--quiet", "-m", "pair")
		mv := &Mover{Git: Git{Env: gitIdentity}, Repo: clone}
		rot := gitRotation()
		rot.Spec.GitOps.Push = false
		rot.Status.Consumers = []v1alpha1.ConsumerStatus{{Kind: "ServiceAccount", Name: "a", From: v1, To: v2}}
		_, err := mv.Move(ctx, rot, forward(rot))
		var ue *UnrewritableError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), "shared") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestAMoveWithoutPushOnlyCommits(t *testing.T) {
	bare, clone := remoteAndClone(t)
	before := gitRun(t, bare, "rev-parse", "main")
	mv := &Mover{Git: Git{Env: gitIdentity}, Repo: clone}
	rot := gitRotation("worker")
	rot.Spec.GitOps.Push = false
	ch, err := mv.Move(context.Background(), rot, forward(rot))
	if err != nil {
		t.Fatal(err)
	}
	if ch.Pushed || gitRun(t, bare, "rev-parse", "main") != before || gitRun(t, clone, "rev-parse", "HEAD") != ch.Commit {
		t.Fatalf("change %+v; the remote moved or the clone did not", ch)
	}
	if !strings.Contains(readFile(t, filepath.Join(clone, "deploy", "worker.yaml")), `secretName: "`+v2+`"`) {
		t.Fatal("the quoting of worker's reference was not kept")
	}
}

func TestNormalizeURL(t *testing.T) {
	for _, tt := range []struct{ a, b string }{
		{"http://127.0.0.1:8080/app.git", "HTTP://127.0.0.1:8080/app"},
		{"https://user@git.example/org/app.git/", "https://git.example/org/app"},
	} {
		if NormalizeURL(tt.a) != NormalizeURL(tt.b) {
			t.Errorf("%q and %q differ: %q, %q", tt.a, tt.b, NormalizeURL(tt.a), NormalizeURL(tt.b))
		}
	}
	if NormalizeURL("http://h/a.git") == NormalizeURL("http://h/b.git") {
		t.Error("two repositories normalized to one")
	}
}

func TestGitsArgvCarriesOnlyNamesAndPaths(t *testing.T) {
	_, clone := remoteAndClone(t)
	real, err := exec.LookPath("git")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	logFile := filepath.Join(dir, "argv.log")
	wrapper := filepath.Join(dir, "git")
	writeFile(t, wrapper, "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '"+logFile+"'\nexec '"+real+"' \"$@\"\n")
	if err := os.Chmod(wrapper, 0o755); err != nil {
		t.Fatal(err)
	}
	mv := &Mover{Git: Git{Binary: wrapper, Env: gitIdentity}, Repo: clone}
	rot := gitRotation("web")
	ctx := context.Background()
	ch, err := mv.Move(ctx, rot, forward(rot))
	if err != nil {
		t.Fatal(err)
	}
	rot.Status.Commits = []v1alpha1.SourceChange{{Action: "Repoint", Commit: ch.Commit}}
	rot.Status.Message = "Deployment/web: CrashLoopBackOff (the reason a revert names)"
	if _, err := mv.Move(ctx, rot, back(rot)); err != nil {
		t.Fatal(err)
	}
	argv := readFile(t, logFile)
	for _, never := range []string{"CrashLoopBackOff", "Rotor-Family", "rotor: set"} {
		if strings.Contains(argv, never) {
			t.Fatalf("git's argv carries %q (the message goes through standard input):\n%s", never, argv)
		}
	}
	if !strings.Contains(argv, "commit --quiet --file=-") || !strings.Contains(argv, "push --quiet origin HEAD:refs/heads/main") {
		t.Fatalf("the wrapper did not see the commits and pushes:\n%s", argv)
	}
}

func TestAFailedCommitLeavesTheCloneAsItWas(t *testing.T) {
	_, clone := remoteAndClone(t)
	// A pre-commit hook that refuses every commit.
	writeFile(t, filepath.Join(clone, ".git", "hooks", "pre-commit"), "#!/bin/sh\necho 'commits are frozen' >&2\nexit 1\n")
	if err := os.Chmod(filepath.Join(clone, ".git", "hooks", "pre-commit"), 0o755); err != nil {
		t.Fatal(err)
	}
	mv := &Mover{Git: Git{Env: gitIdentity}, Repo: clone}
	rot := gitRotation("web")
	rot.Spec.GitOps.Push = false
	_, err := mv.Move(context.Background(), rot, forward(rot))
	if err == nil || !strings.Contains(err.Error(), "commits are frozen") || !strings.Contains(err.Error(), "put back") {
		t.Fatalf("err = %v", err)
	}
	if st := gitRun(t, clone, "status", "--porcelain"); st != "" {
		t.Fatalf("the clone is not clean after the refused commit:\n%s", st)
	}
}
