package gitserver

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCommitsPushedOverHTTPAreServedToClones(t *testing.T) {
	srv := Start(t)
	repo := srv.NewRepo(t, "app")
	if !strings.HasPrefix(repo.URL, "http://127.0.0.1:") || !strings.HasSuffix(repo.URL, "/app.git") {
		t.Fatalf("URL %q", repo.URL)
	}
	first := repo.Commit(t, "add the app", map[string]string{"deploy/app.yaml": "kind: Deployment\n", "README": "x\n"})
	second := repo.Commit(t, "drop the readme", map[string]string{"README": ""})
	if repo.Head(t) != second || first == second {
		t.Fatalf("server head %s, commits %s then %s", repo.Head(t), first, second)
	}
	work := repo.Clone(t)
	b, err := os.ReadFile(filepath.Join(work, "deploy", "app.yaml"))
	if err != nil || string(b) != "kind: Deployment\n" {
		t.Fatalf("cloned file: %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(work, "README")); !os.IsNotExist(err) {
		t.Fatalf("a deleted file is still there: %v", err)
	}
	// A push from a working copy, as the GitOps engine's users do.
	if err := os.WriteFile(filepath.Join(work, "deploy", "app.yaml"), []byte("kind: Deployment # v2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	Git(t, work, "commit", "--quiet", "-am", "v2")
	Git(t, work, "push", "--quiet", "origin", Branch)
	if got := strings.TrimSpace(Git(t, work, "rev-parse", "HEAD")); repo.Head(t) != got {
		t.Fatalf("server head %s after a push of %s", repo.Head(t), got)
	}
	if log := Git(t, repo.Dir, "log", "--format=%s", Branch); log != "v2\ndrop the readme\nadd the app\n" {
		t.Fatalf("history on the server:\n%s", log)
	}
}
