package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
)

// runAt runs a command line with the clock at t (no cluster is contacted by the cases
// here).
func runAt(t time.Time, args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := Run(context.Background(), args, IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut},
		Deps{Clock: clocktesting.NewFakeClock(t), IsTerminal: func(any) bool { return false }})
	return code, out.String(), errOut.String()
}

var createdAt = time.Date(2025, 7, 23, 11, 0, 0, 0, time.UTC)

func TestCreateExternalClientDryRunPrintsThePinnedExternalSecret(t *testing.T) {
	code, out, stderr := runAt(createdAt, "rotor", "create", "auth-api-secrets", "-n", "payments", "--kubeconfig", "/dev/null",
		"--external", "--store", "vault", "--remote-key", "prod/auth/api", "--property", "token", "--remote-version", "7",
		"--remote-key", "prod/auth/region", "--secret-key", "region", "--remote-version", "2",
		"--dry-run=client", "-o", "yaml")
	if code != 0 {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
	assertGolden(t, "create/external-dry-run.stdout", out)
	if !strings.Contains(stderr, "dry run (client): nothing was created") {
		t.Fatalf("stderr %q", stderr)
	}
}

func TestCreateExternalFromARemoteFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "keys.yaml")
	if err := os.WriteFile(file, []byte("- secretKey: token\n  remoteRef: {key: prod/auth/api, version: \"7\", property: token}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := runAt(createdAt, "rotor", "create", "auth-api-secrets", "-n", "payments", "--kubeconfig", "/dev/null",
		"--external", "--store", "vault", "--store-kind", "ClusterSecretStore", "--from-remote-file", file, "--dry-run=client")
	if code != 0 || out != "auth-api-secrets-20250723110000\n" {
		t.Fatalf("code %d, stdout %q, stderr %q", code, out, stderr)
	}
}

func TestCreateExternalRefusesBadInputNamingTheFlag(t *testing.T) {
	base := []string{"rotor", "create", "auth-api-secrets", "-n", "payments", "--kubeconfig", "/dev/null", "--dry-run=client"}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"a remote key without a version is refused, saying why", []string{"--external", "--store", "s", "--remote-key", "k"},
			"--remote-version (remote key #1): key \"k\" has no remote version: without one ESO fetches whatever the store holds at each sync"},
		{"a version before any remote key is refused", []string{"--external", "--store", "s", "--remote-version", "1"},
			"--remote-version must follow the --remote-key it belongs to"},
		{"two versions for one key are refused", []string{"--external", "--store", "s", "--remote-key", "k", "--remote-version", "1", "--remote-version", "2"},
			"given twice for --remote-key \"k\""},
		{"no store is refused", []string{"--external", "--remote-key", "k", "--remote-version", "1"}, "--store: no store"},
		{"values with --external are refused", []string{"--external", "--store", "s", "--remote-key", "k", "--remote-version", "1", "--from-literal", "a=b"},
			"--external takes no values"},
		{"store flags without --external are refused", []string{"--store", "s", "--from-literal", "a=b"}, "--store needs --external"},
		{"an unknown store kind is refused", []string{"--external", "--store", "s", "--store-kind", "Vault", "--remote-key", "k", "--remote-version", "1"},
			"--store-kind: \"Vault\" is not a store kind"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, stderr := runAt(createdAt, append(base, tt.args...)...)
			if code != 1 || out != "" || !strings.Contains(stderr, tt.want) {
				t.Fatalf("code %d, stdout %q, stderr %q; want %q", code, out, stderr, tt.want)
			}
		})
	}
}
