// Package gitserver serves real git repositories over smart HTTP on loopback for tests:
// git's own git-http-backend run through the standard library's net/http/cgi, on a
// port the kernel chooses (127.0.0.1:0, held open for the test's life). Clones, fetches
// and pushes work as against any git host, for git and for Flux's source-controller
// alike (Flux needs an http(s) URL; file:// is refused).
//
//	srv := gitserver.Start(t)
//	repo := srv.NewRepo(t, "app")                         // bare, pushes allowed
//	hash := repo.Commit(t, "add app", map[string]string{"app/deploy.yaml": "…"})
//	// repo.URL is http://127.0.0.1:PORT/app.git; branch main
//	work := repo.Clone(t)                                  // a working copy to edit and push
package gitserver

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Branch is the branch every repository starts on.
const Branch = "main"

// Server is a running git HTTP server.
type Server struct {
	// URL is its base address, e.g. http://127.0.0.1:41234 (repositories below it).
	URL string
	// Root holds the bare repositories, one directory NAME.git each.
	Root string
}

// Start serves a new, empty root of repositories until the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	backend := filepath.Join(strings.TrimSpace(Git(t, "", "--exec-path")), "git-http-backend")
	if _, err := os.Stat(backend); err != nil {
		t.Fatalf("git-http-backend not found (%v): install git (Debian package `git`)", err)
	}
	root := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &cgi.Handler{
		Path: backend,
		Root: "/",
		Env:  []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1"},
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: time.Minute}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return &Server{URL: "http://" + l.Addr().String(), Root: root}
}

// Repo is one bare repository on the server.
type Repo struct {
	// Name is its name, URL its clone URL (http://127.0.0.1:PORT/NAME.git).
	Name, URL string
	// Dir is the bare repository on disk.
	Dir string
}

// NewRepo creates an empty bare repository NAME.git that accepts pushes, on branch
// main.
func (s *Server) NewRepo(t testing.TB, name string) *Repo {
	t.Helper()
	dir := filepath.Join(s.Root, name+".git")
	Git(t, "", "init", "--quiet", "--bare", "--initial-branch="+Branch, dir)
	Git(t, dir, "config", "http.receivepack", "true")
	return &Repo{Name: name, URL: s.URL + "/" + name + ".git", Dir: dir}
}

// Clone makes a working copy of the repository in a new temporary directory, with a
// committer identity set, and returns its path. Push with Git(t, dir, "push", …).
func (r *Repo) Clone(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	Git(t, "", "clone", "--quiet", r.URL, dir)
	Git(t, dir, "config", "user.name", "rotor tests")
	Git(t, dir, "config", "user.email", "tests@rotor.invalid")
	// An empty repository's clone has no branch yet.
	Git(t, dir, "checkout", "--quiet", "-B", Branch)
	return dir
}

// Commit writes files (path relative to the repository → content; "" deletes) in a
// fresh clone, commits them with message, pushes to main over HTTP, and returns the
// commit's hash.
func (r *Repo) Commit(t testing.TB, message string, files map[string]string) string {
	t.Helper()
	dir := r.Clone(t)
	for path, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(path))
		if content == "" {
			Git(t, dir, "rm", "--quiet", "-f", "--", path)
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		Git(t, dir, "add", "--", path)
	}
	Git(t, dir, "commit", "--quiet", "--allow-empty", "-m", message)
	Git(t, dir, "push", "--quiet", "origin", "HEAD:"+Branch)
	return strings.TrimSpace(Git(t, dir, "rev-parse", "HEAD"))
}

// Head is the hash main points to on the server.
func (r *Repo) Head(t testing.TB) string {
	t.Helper()
	return strings.TrimSpace(Git(t, r.Dir, "rev-parse", Branch))
}

// Git runs git in dir ("" for the current directory), without any user or system
// configuration, and returns its standard output; it fails the test on error.
func Git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_TERMINAL_PROMPT=0")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("git %s (in %s): %v\n%s", strings.Join(args, " "), dir, err, stderr.String())
	}
	return stdout.String()
}
