package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFilesNamedByInputAreReadBounded: the analysis template an environment names in
// rotor.yaml and create --external's --from-remote-file are read as every file a
// person writes: at most 1 MiB (not by stat: /dev/zero claims no size), and YAML whose
// aliases loop or fan out is refused with the file and line, before any cluster is
// contacted.
func TestFilesNamedByInputAreReadBounded(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	bomb := write("bomb.yaml", "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"+
		"d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n")
	cycle := write("cycle.yaml", "- &a [*a]\n")
	config := func(template string) string {
		return write("rotor-"+filepath.Base(template)+".yaml", "apiVersion: rotor.dev/v1alpha1\nkind: Config\nenvironments:\n- name: staging\n  namespaces: [shop]\n  analysis: {template: "+template+"}\n")
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"an environment's analysis template that never ends is refused at 1 MiB",
			[]string{"rotate", "app", "--env", "staging", "--config", config("/dev/zero"), "--from-stdin", "token", "--yes"},
			"/dev/zero: is larger than 1 MiB"},
		{"an environment's analysis template with an alias bomb is refused",
			[]string{"rotate", "app", "--env", "staging", "--config", config(bomb), "--from-stdin", "token", "--yes"},
			bomb + ":"},
		{"--from-remote-file that never ends is refused at 1 MiB",
			[]string{"create", "app", "-n", "shop", "--external", "--store", "s", "--from-remote-file", "/dev/zero", "--dry-run=client"},
			"--from-remote-file: /dev/zero: is larger than 1 MiB"},
		{"--from-remote-file with an alias cycle is refused",
			[]string{"create", "app", "-n", "shop", "--external", "--store", "s", "--from-remote-file", cycle, "--dry-run=client"},
			"--from-remote-file: " + cycle + ":1:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, stderr := runAt(createdAt, append(append([]string{"rotor"}, tt.args...), "--kubeconfig", "/dev/null")...)
			if code != 1 || out != "" || !strings.Contains(stderr, tt.want) {
				t.Fatalf("code %d, stdout %q, stderr %q; want %q", code, out, stderr, tt.want)
			}
		})
	}
}
