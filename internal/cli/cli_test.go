package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func runCLI(args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := Run(context.Background(), args, IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}, Deps{})
	return code, out.String(), errOut.String()
}

func TestProgramNameDecidesHowRotorPresentsItself(t *testing.T) {
	tests := []struct {
		name string
		argv string
		want string
	}{
		{"as rotor, help and examples say rotor", "/usr/local/bin/rotor", "  rotor create auth-api-secrets"},
		{"as the kubectl plugin, they say kubectl rotor", "/usr/local/bin/kubectl-rotor", "  kubectl rotor create auth-api-secrets"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, _ := runCLI(tt.argv, "create", "--help")
			if code != 0 || !strings.Contains(out, tt.want) {
				t.Fatalf("code %d, help lacks %q:\n%s", code, tt.want, out)
			}
		})
	}
}

func TestUsageErrorsAreOneClearMessage(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"create without a family names the missing argument", []string{"create"}, "accepts 1 arg(s)"},
		{"versions with an unknown output format lists the valid ones", []string{"versions", "db", "-o", "csv", "--server", "https://127.0.0.1:1"}, "unknown output format"},
		{"an unknown command is refused", []string{"rotate-everything"}, "unknown command"},
		{"version with an unknown output format is refused", []string{"version", "--client", "-o", "xml"}, "use json or yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runCLI(append([]string{"rotor"}, tt.args...)...)
			if code != 1 {
				t.Fatalf("exit code = %d, want 1", code)
			}
			if !strings.HasPrefix(stderr, "error: ") || !strings.Contains(stderr, tt.wantErr) {
				t.Fatalf("stderr = %q, want an error containing %q", stderr, tt.wantErr)
			}
		})
	}
}

func TestVersionClientNeedsNoCluster(t *testing.T) {
	code, out, stderr := runCLI("rotor", "version", "--client", "-o", "json")
	if code != 0 || !strings.Contains(out, `"rotor"`) || !strings.Contains(out, `"go"`) {
		t.Fatalf("code %d stdout %q stderr %q", code, out, stderr)
	}
}

func TestCompletionScriptsAreGenerated(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish"} {
		t.Run(shell+" completion is generated", func(t *testing.T) {
			code, out, stderr := runCLI("rotor", "completion", shell)
			if code != 0 || !strings.Contains(out, "rotor") {
				t.Fatalf("code %d, stderr %q", code, stderr)
			}
		})
	}
}
