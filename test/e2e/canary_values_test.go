package e2e

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rotor-project/rotor/test/clusterenv"
)

// canaryValues are values shaped like the ones that leak: '=', '+' and '/' (base64),
// newlines and NUL bytes, and a multi-KB PEM. Each is unique to the run.
type canaryValues struct {
	token, blob, env, literal, pem string
}

func newCanaryValues(t *testing.T) canaryValues {
	t.Helper()
	rnd := func(n int) []byte {
		b := make([]byte, n)
		if _, err := rand.Read(b); err != nil {
			t.Fatal(err)
		}
		return b
	}
	var pem strings.Builder
	pem.WriteString("-----BEGIN PRIVATE KEY-----\n")
	body := base64.StdEncoding.EncodeToString(rnd(3000))
	for len(body) > 64 {
		pem.WriteString(body[:64] + "\n")
		body = body[64:]
	}
	pem.WriteString(body + "\n-----END PRIVATE KEY-----\n")
	return canaryValues{
		token:   "tok+" + base64.StdEncoding.EncodeToString(rnd(20)) + "/x==",
		blob:    "line1-" + hex.EncodeToString(rnd(8)) + "\nline2\x00nul-" + hex.EncodeToString(rnd(8)) + "\n",
		env:     "e=" + hex.EncodeToString(rnd(8)) + "+/=",
		literal: "lit=" + base64.StdEncoding.EncodeToString(rnd(24)),
		pem:     pem.String(),
	}
}

// fragments are the pieces no output may contain: every line (and NUL-separated part)
// of every value, at least 12 characters long, without its PEM armour.
func (v canaryValues) fragments() []string {
	var out []string
	for _, val := range []string{v.token, v.blob, v.env, v.literal, v.pem} {
		for _, line := range strings.FieldsFunc(val, func(r rune) bool { return r == '\n' || r == 0 }) {
			if len(line) >= 12 && !strings.HasPrefix(line, "-----") {
				out = append(out, line)
			}
		}
	}
	return out
}

// window is the length of the pieces searched for: any 16 consecutive characters of a
// value (its random part) are a leak, be it a whole line, a key part quoted back, or
// base64 without its padding.
const window = 16

// leak returns the first piece of a value found in s, or "".
func (v canaryValues) leak(s string) string {
	pieces := map[string]bool{}
	for _, f := range v.fragments() {
		for i := 0; i+window <= len(f); i++ {
			pieces[f[i:i+window]] = true
		}
	}
	for i := 0; i+window <= len(s); i++ {
		if pieces[s[i:i+window]] {
			return s[i : i+window]
		}
	}
	return ""
}

// TestNoValueFragmentInAnyChannel plants canary values through every source of create,
// runs every command over them (also at the highest log level and with refused input
// shaped like the values), and searches every channel: stdout, stderr and logs, the
// namespace's objects (labels, annotations, records, Leases), Events, the files rotor
// and its hook write, and the command line and environment of the process rotor
// starts (--on-delete).
func TestNoValueFragmentInAnyChannel(t *testing.T) {
	ns := clusterenv.Namespace(t)
	vals := newCanaryValues(t)
	dir := t.TempDir()
	files := map[string]string{"key.pem": vals.pem, "blob": vals.blob, "app.env": "ENV_VALUE=" + vals.env + "\n"}
	for name, content := range files {
		mustWrite(t, filepath.Join(dir, name), content)
	}
	var outputs []result
	check := func(what string, r result) {
		t.Helper()
		if f := vals.leak(r.Stdout + r.Stderr); f != "" {
			t.Fatalf("%s printed a value fragment %q:\nstdout: %s\nstderr: %s", what, f, r.Stdout, r.Stderr)
		}
		outputs = append(outputs, r)
	}
	clk := newClock(t0)
	var names []string
	for i := 0; i < 3; i++ {
		r := run(t, clk, vals.token, "create", "app", "-n", ns, "-v", "10", "--from-stdin", "token",
			"--from-file", "tls.key="+filepath.Join(dir, "key.pem"), "--from-file", "blob="+filepath.Join(dir, "blob"),
			"--from-env-file", filepath.Join(dir, "app.env"), "--from-literal", "literal="+vals.literal)
		if r.Code != 0 {
			t.Fatalf("create: %+v", r)
		}
		check("create", r)
		names = append(names, strings.TrimSpace(r.Stdout))
		clk.Step(24 * time.Hour)
	}
	// Input shaped like values, refused: nothing of it may come back.
	pemLines := strings.Split(vals.pem, "\n")
	mustWrite(t, filepath.Join(dir, "pasted.env"), "A=1\n"+strings.Join(pemLines[1:4], "\n")+"\n")
	mustWrite(t, filepath.Join(dir, "padded.env"), "A=1\n"+strings.TrimRight(pemLines[1], "=")+"==\n")
	for _, args := range [][]string{
		{"--from-literal", vals.token},
		{"--from-literal", pemLines[1] + "=="},
		{"--from-literal", "a=1", "--from-literal", strings.TrimPrefix(vals.literal, "lit=") + "=="},
		{"--from-env-file", filepath.Join(dir, "pasted.env")},
		{"--from-env-file", filepath.Join(dir, "padded.env")},
		{"--from-env-file", filepath.Join(dir, "key.pem")},
		{"--from-stdin", vals.token},
	} {
		r := run(t, clk, vals.token, append([]string{"create", "app", "-n", ns, "-v", "10"}, args...)...)
		if r.Code == 0 {
			t.Fatalf("create %v was accepted", args)
		}
		check(fmt.Sprintf("refused create %v", args), r)
	}

	createDeployment(t, ns, keyRefDeployment("web", names[0], "token"))
	metrics := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"errors": 0}`))
	}))
	defer metrics.Close()
	analysisFile := filepath.Join(dir, "errors.yaml")
	mustWrite(t, analysisFile, fmt.Sprintf("spec:\n  metrics:\n  - name: errors\n    interval: 1s\n    count: 1\n    successCondition: result == 0\n    provider:\n      web: {url: %q, jsonPath: \"{$.errors}\"}\n", metrics.URL+"/e"))
	hookOut := filepath.Join(dir, "hook")
	hook := fmt.Sprintf(`cat /proc/$$/cmdline > %[1]s-cmdline-$ROTOR_VERSION; cat /proc/$$/environ > %[1]s-environ-$ROTOR_VERSION`, hookOut)
	for _, args := range [][]string{
		{"versions", "app", "-o", "yaml"},
		{"versions", "app", "-o", "wide"},
		{"refs", "--family", "app", "-o", "json"},
		{"status", "app", "-o", "json"},
		{"rollout", "app", "--to", "latest", "--dry-run=server"},
		{"rollout", "app", "--to", "latest", "--yes"},
		{"watch", "app", "--analysis", analysisFile, "--for", "1s"},
		{"rollback", "app", "--yes"},
		{"rollout", "app", "--to", "app-20300101000000", "--yes"}, // refused
		{"cleanup", "app", "--retain", "0d", "--keep", "1", "--yes", "-o", "json", "--on-delete", hook},
	} {
		r := run(t, nil, "", append(args, "-n", ns, "-v", "10")...)
		check(strings.Join(args[:2], " "), r)
	}
	if outputs[len(outputs)-1].Code != 0 || !strings.Contains(outputs[len(outputs)-1].Stdout, `"outcome": "deleted"`) {
		t.Fatalf("cleanup deleted nothing, so the hook never ran: %+v", outputs[len(outputs)-1])
	}

	// A real process with a HOME of its own: nothing it leaves there holds a value.
	home := filepath.Join(dir, "home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(rotorBinary(t), "--kubeconfig", clusterenv.Kubeconfig(t), "versions", "app", "-n", ns, "-o", "yaml", "-v", "10")
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CACHE_HOME="+filepath.Join(home, ".cache"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("versions: %v\n%s", err, out)
	}
	check("versions (process)", result{Stdout: string(out)})

	// Files: the hook's command line and environment, and anything under HOME.
	var written []string
	for _, root := range []string{dir, home} {
		_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && !strings.HasSuffix(p, "key.pem") && !strings.HasSuffix(p, "blob") && !strings.HasSuffix(p, ".env") {
				written = append(written, p)
			}
			return nil
		})
	}
	hookFiles := 0
	for _, p := range written {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(p, hookOut) {
			hookFiles++
		}
		if f := vals.leak(string(b)); f != "" {
			t.Fatalf("file %s holds a value fragment %q", p, f)
		}
	}
	if hookFiles == 0 {
		t.Fatal("the --on-delete hook wrote nothing: its command line was not checked")
	}

	// The namespace: every object's metadata, every record, every Lease, every Event.
	c := clusterenv.Client(t)
	ctx := context.Background()
	secrets, err := c.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range secrets.Items {
		b, _ := json.Marshal(s.ObjectMeta)
		if f := vals.leak(string(b)); f != "" {
			t.Fatalf("the labels or annotations of secret %s hold %q", s.Name, f)
		}
	}
	for what, list := range map[string]func() (any, error){
		"configmaps (records)": func() (any, error) { return c.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{}) },
		"deployments":          func() (any, error) { return c.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{}) },
		"replicasets":          func() (any, error) { return c.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{}) },
		"leases":               func() (any, error) { return c.CoordinationV1().Leases(ns).List(ctx, metav1.ListOptions{}) },
		"events":               func() (any, error) { return c.CoreV1().Events(ns).List(ctx, metav1.ListOptions{}) },
	} {
		obj, err := list()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(obj)
		if f := vals.leak(string(b)); f != "" {
			t.Fatalf("%s hold a value fragment %q", what, f)
		}
	}
	// The values did go in: the search would have found them.
	s, err := c.CoreV1().Secrets(ns).Get(ctx, names[2], metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if string(s.Data["tls.key"]) != vals.pem || string(s.Data["blob"]) != vals.blob || string(s.Data["ENV_VALUE"]) != vals.env || string(s.Data["token"]) != vals.token {
		t.Fatal("the version does not hold the values given")
	}
	if vals.leak(string(s.Data["tls.key"])) == "" {
		t.Fatal("the leak search cannot find a value where it is")
	}
}
