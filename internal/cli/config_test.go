package cli

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/ with the current output")

// assertGolden compares got with testdata/NAME.golden; -update rewrites the file.
func assertGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run the test with -update to create it)", err)
	}
	if got != string(want) {
		t.Fatalf("output differs from %s (rerun with -update if the change is intended):\n--- got ---\n%s\n--- want ---\n%s", path, got, want)
	}
}

const testKubeconfig = "testdata/config/kubeconfig"

func TestConfigValidateReportsEveryProblemWithItsPosition(t *testing.T) {
	tests := []struct {
		name   string
		file   string
		golden string
	}{
		{"problems in the file itself", "testdata/config/broken.yaml", "config/validate-broken"},
		{"a context the kubeconfig lacks and an unreadable analysis template", "testdata/config/badcontext.yaml", "config/validate-badcontext"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, stderr := runCLI("rotor", "config", "validate", "--config", tt.file, "--kubeconfig", testKubeconfig)
			if code != 1 || out != "" {
				t.Fatalf("code %d, stdout %q", code, out)
			}
			assertGolden(t, tt.golden, stderr)
		})
	}
}

func TestConfigValidateFindsTheFile(t *testing.T) {
	t.Run("from --config", func(t *testing.T) {
		code, out, stderr := runCLI("rotor", "config", "validate", "--config", "testdata/config/rotor.yaml", "--kubeconfig", testKubeconfig)
		if code != 0 || out != "testdata/config/rotor.yaml is valid: 3 environment(s) (dev, staging, production), 2 families\n" {
			t.Fatalf("code %d, stdout %q, stderr %q", code, out, stderr)
		}
	})
	t.Run("from $ROTOR_CONFIG", func(t *testing.T) {
		t.Setenv("ROTOR_CONFIG", "testdata/config/broken.yaml")
		code, _, stderr := runCLI("rotor", "config", "validate", "--kubeconfig", testKubeconfig)
		if code != 1 || !strings.Contains(stderr, "testdata/config/broken.yaml is not valid (5 problems)") {
			t.Fatalf("code %d, stderr %q", code, stderr)
		}
	})
	t.Run("from ./rotor.yaml", func(t *testing.T) {
		t.Setenv("ROTOR_CONFIG", "")
		t.Chdir("testdata/config")
		code, out, stderr := runCLI("rotor", "config", "validate", "--kubeconfig", "kubeconfig")
		if code != 0 || !strings.HasPrefix(out, "rotor.yaml is valid") {
			t.Fatalf("code %d, stdout %q, stderr %q", code, out, stderr)
		}
	})
	t.Run("nowhere", func(t *testing.T) {
		t.Setenv("ROTOR_CONFIG", "")
		t.Chdir(t.TempDir())
		code, _, stderr := runCLI("rotor", "config", "validate")
		if code != 1 || !strings.Contains(stderr, "no rotor.yaml in . and ROTOR_CONFIG is not set") {
			t.Fatalf("code %d, stderr %q", code, stderr)
		}
	})
}

func TestConfigExplainShowsWhereEachValueCameFrom(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		golden string
	}{
		{"every policy of one environment, as text", []string{"--env", "production"}, "config/explain-production"},
		{"one family in one environment, as JSON", []string{"--env", "production", "--family", "auth-api-secrets", "-o", "json"}, "config/explain-production-family-json"},
		{"an unversioned environment, as YAML", []string{"--env", "dev", "--family", "auth-api-secrets", "-o", "yaml"}, "config/explain-dev-family-yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"rotor", "config", "explain", "--config", "testdata/config/rotor.yaml", "--kubeconfig", testKubeconfig}, tt.args...)
			code, out, stderr := runCLI(args...)
			if code != 0 {
				t.Fatalf("code %d, stderr %q", code, stderr)
			}
			assertGolden(t, tt.golden, out)
		})
	}
}

func TestConfigExplainRefusesAnUnknownEnvironment(t *testing.T) {
	code, _, stderr := runCLI("rotor", "config", "explain", "--config", "testdata/config/rotor.yaml", "--kubeconfig", testKubeconfig, "--env", "qa")
	if code != 1 || !strings.Contains(stderr, `environment "qa" is not defined in testdata/config/rotor.yaml: the environments are "dev", "staging", "production" (--env)`) {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
}
