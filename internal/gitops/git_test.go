package gitops

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// gitIdentity isolates git from the machine's configuration and names the author.
var gitIdentity = []string{
	"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
	"GIT_AUTHOR_NAME=rotor test", "GIT_AUTHOR_EMAIL=rotor@example.invalid",
	"GIT_COMMITTER_NAME=rotor test", "GIT_COMMITTER_EMAIL=rotor@example.invalid",
}

// repo makes a real git repository holding the fixture under deploy/, committed.
func repo(t *testing.T) (string, func(args ...string) string) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatalf("the tests need git: %v", err)
	}
	top := t.TempDir()
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = top
		cmd.Env = append(os.Environ(), gitIdentity...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("init", "--quiet", "--initial-branch=main")
	if err := os.Rename(fixture(t), filepath.Join(top, "deploy")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(top, "README.md"), []byte("notes\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	git("add", ".")
	git("commit", "--quiet", "-m", "the fixture")
	return top, git
}

func TestCommitMakesOneCommitOfExactlyTheRewrite(t *testing.T) {
	top, git := repo(t)
	// Another change, staged: the rotation's commit must not carry it.
	if err := os.WriteFile(filepath.Join(top, "README.md"), []byte("notes, edited\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	git("add", "README.md")
	p := set(t, filepath.Join(top, "deploy"), v2, SetOptions{})
	g := Git{Env: gitIdentity}
	ctx := context.Background()
	if err := g.CheckClean(ctx, p); err != nil {
		t.Fatal(err)
	}
	if err := p.Write(); err != nil {
		t.Fatal(err)
	}
	hash, err := g.Commit(ctx, p, "")
	if err != nil {
		t.Fatal(err)
	}
	if head := git("rev-parse", "HEAD"); head != hash {
		t.Fatalf("returned %s, HEAD is %s", hash, head)
	}
	msg := git("log", "-1", "--format=%B")
	for _, want := range []string{"rotor: set auth-api-secrets to " + v2, "Rotor-Family: auth-api-secrets", "Rotor-From: " + v1, "Rotor-To: " + v2} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
	files := strings.Fields(git("show", "--name-only", "--format=", "HEAD"))
	if len(files) != len(p.Changes) {
		t.Fatalf("committed %v, want the %d rewritten files", files, len(p.Changes))
	}
	for _, f := range files {
		if !strings.HasPrefix(f, "deploy/") {
			t.Fatalf("committed %s", f)
		}
	}
	if status := git("status", "--porcelain"); status != "M  README.md" {
		t.Fatalf("the staged README must stay staged and uncommitted, status:\n%s", status)
	}
	// The trailers make the commit findable by family.
	if found := git("log", "--format=%H", "--grep=^Rotor-Family: auth-api-secrets$"); found != hash {
		t.Fatalf("grep found %q", found)
	}
}

func TestCommitRefusesFilesWithUncommittedChanges(t *testing.T) {
	top, _ := repo(t)
	job := filepath.Join(top, "deploy", "apps", "worker", "job.json")
	data, err := os.ReadFile(job)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(job, append(data, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	p := set(t, filepath.Join(top, "deploy"), v2, SetOptions{})
	err = Git{Env: gitIdentity}.CheckClean(context.Background(), p)
	if err == nil || !strings.Contains(err.Error(), "deploy/apps/worker/job.json") || !strings.Contains(err.Error(), "commit or stash them first") {
		t.Fatalf("got %v", err)
	}
}

func TestCommitOutsideARepositoryIsAClearError(t *testing.T) {
	dir := fixture(t)
	p := set(t, dir, v2, SetOptions{})
	env := append([]string{"GIT_CEILING_DIRECTORIES=" + filepath.Dir(dir)}, gitIdentity...)
	_, err := Git{Env: env}.Commit(context.Background(), p, "")
	if err == nil || !strings.Contains(err.Error(), "is not in a git work tree") {
		t.Fatalf("got %v", err)
	}
}
