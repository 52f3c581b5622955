package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const (
	gitopsV1 = "auth-api-secrets-20250715100000"
	gitopsV2 = "auth-api-secrets-20250723110000"
)

// gitopsDir writes a small directory of manifests and returns it.
func gitopsDir(t *testing.T, extra map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"api/deployment.yaml": `# The API.
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: payments}
spec:
  template:
    spec:
      containers:
      - name: app
        envFrom:
        - secretRef:
            name: auth-api-secrets-20250715100000   # rotated by rotor
`,
		"legacy.yaml":                     "kind: Pod\nmetadata: {name: old}\nspec:\n  containers: [{name: a, envFrom: [{secretRef: {name: auth-api-secrets}}]}]\n",
		"chart/Chart.yaml":                "name: c\n",
		"chart/templates/deployment.yaml": "metadata:\n  name: {{ .Release.Name }}\n",
	}
	for k, v := range extra {
		files[k] = v
	}
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestGitOpsSetDryRunPrintsTheDiffAndWritesNothing(t *testing.T) {
	dir := gitopsDir(t, nil)
	before, _ := os.ReadFile(filepath.Join(dir, "api/deployment.yaml"))
	code, out, stderr := runCLI("rotor", "gitops", "set", "auth-api-secrets", "--to", gitopsV2, "--path", dir, "--dry-run")
	if code != 0 {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
	assertGolden(t, "gitops/set-dry-run.stdout", out)
	assertGolden(t, "gitops/set-dry-run.stderr", strings.ReplaceAll(stderr, dir, "DIR"))
	after, _ := os.ReadFile(filepath.Join(dir, "api/deployment.yaml"))
	if string(after) != string(before) {
		t.Fatal("--dry-run wrote the file")
	}
}

func TestGitOpsSetWritesAndSetsBack(t *testing.T) {
	dir := gitopsDir(t, nil)
	file := filepath.Join(dir, "api/deployment.yaml")
	before, _ := os.ReadFile(file)
	if code, _, stderr := runCLI("rotor", "gitops", "set", "auth-api-secrets", "--to", gitopsV2, "--path", dir); code != 0 || !strings.Contains(stderr, "rewrote 1 reference(s) in 1 file(s), from "+gitopsV1+" to "+gitopsV2) {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
	mid, _ := os.ReadFile(file)
	if !strings.Contains(string(mid), "name: "+gitopsV2+"   # rotated by rotor") {
		t.Fatalf("not rewritten:\n%s", mid)
	}
	if code, _, stderr := runCLI("rotor", "gitops", "set", "auth-api-secrets", "--to", gitopsV1, "--path", dir); code != 0 {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
	if after, _ := os.ReadFile(file); string(after) != string(before) {
		t.Fatalf("v1 → v2 → v1 is not the original:\n%s", after)
	}
}

func TestGitOpsSetRefusals(t *testing.T) {
	secret := map[string]string{"db-secret.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData: {password: canary-hunter2}\n"}
	tests := []struct {
		name    string
		extra   map[string]string
		args    []string
		wantErr string
	}{
		{"a Secret with values in git, named", secret, []string{"--to", gitopsV2},
			"refusing to rewrite: Secret values are committed under the directory, and rotor will not add a commit to it:\n  DIR/db-secret.yaml:4 (Secret/db): a Secret with stringData"},
		{"a target that is not a version", nil, []string{"--to", "latest"}, `"latest" is not a version of auth-api-secrets`},
		{"no --to", nil, nil, "--to is required"},
		{"--message without --commit", nil, []string{"--to", gitopsV2, "--message", "x"}, "--message needs --commit"},
		{"--dry-run=server", nil, []string{"--to", gitopsV2, "--dry-run=server"}, "has no meaning for files"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := gitopsDir(t, tt.extra)
			before, _ := os.ReadFile(filepath.Join(dir, "api/deployment.yaml"))
			args := append([]string{"rotor", "gitops", "set", "auth-api-secrets", "--path", dir}, tt.args...)
			code, out, stderr := runCLI(args...)
			stderr = strings.ReplaceAll(stderr, dir, "DIR")
			if code != 1 || !strings.Contains(stderr, tt.wantErr) {
				t.Fatalf("code %d, stderr:\n%s", code, stderr)
			}
			if strings.Contains(out+stderr, "canary-hunter2") {
				t.Fatal("a value was printed")
			}
			if after, _ := os.ReadFile(filepath.Join(dir, "api/deployment.yaml")); string(after) != string(before) {
				t.Fatal("a refused command wrote a file")
			}
		})
	}
}

func TestGitOpsSetCommits(t *testing.T) {
	dir := gitopsDir(t, nil)
	env := []string{"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1", "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.invalid",
		"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.invalid"}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("init", "--quiet")
	git("add", ".")
	git("commit", "--quiet", "-m", "manifests")
	code, _, stderr := runCLI("rotor", "gitops", "set", "auth-api-secrets", "--to", gitopsV2, "--path", dir, "--commit", "--message", "Rotate the API token (ticket 42)")
	if code != 0 || !strings.Contains(stderr, "committed "+git("rev-parse", "HEAD")) {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
	msg := git("log", "-1", "--format=%B")
	if !strings.HasPrefix(msg, "Rotate the API token (ticket 42)\n\nRotor-Family: auth-api-secrets\nRotor-From: "+gitopsV1+"\nRotor-To: "+gitopsV2) {
		t.Fatalf("message:\n%s", msg)
	}
	if st := git("status", "--porcelain"); st != "" {
		t.Fatalf("the work tree is not clean after the commit:\n%s", st)
	}
}
