package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func load(t *testing.T) *Config {
	t.Helper()
	c, err := Load(filepath.Join("testdata", "rotor.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestTheIssueExampleLoads(t *testing.T) {
	c := load(t)
	if got := c.EnvironmentNames(); !reflect.DeepEqual(got, []string{"dev", "staging", "production"}) {
		t.Fatalf("environments = %v", got)
	}
	prod, _ := c.Environment("production")
	if !reflect.DeepEqual(prod.Contexts, []string{"prod-eu", "prod-us"}) || !reflect.DeepEqual(prod.Requires, []string{"staging"}) {
		t.Fatalf("production = %+v", prod)
	}
	if w := prod.Policy.Windows.Value; len(w) != 1 || w[0].String() != "Tue,Wed,Thu 02:00-05:00 Europe/Berlin" {
		t.Fatalf("windows = %v", w)
	}
	if a := prod.Policy.Analysis.Value; a.Path != filepath.Join("testdata", "error-rate.yaml") || a.Args["service"] != "auth" {
		t.Fatalf("analysis = %+v", a)
	}
	dev, _ := c.Environment("dev")
	if !dev.Versioned.Set || dev.Versioned.Value {
		t.Fatalf("dev must be unversioned: %+v", dev.Versioned)
	}
	fam, _ := c.Family("auth-api-secrets")
	if fam.RotateAfter.Value != 90*24*time.Hour || len(fam.Overrides) != 2 {
		t.Fatalf("family = %+v", fam)
	}
}

func TestEffectivePolicySaysWhereEachValueCameFrom(t *testing.T) {
	c := load(t)
	tests := []struct {
		name     string
		env, fam string
		check    func(p Policy) (got, want any)
	}{
		{"an unset value is the default", "staging", "", func(p Policy) (any, any) {
			return []any{p.Keep.Value, p.Keep.From.Kind}, []any{DefaultKeep, FromDefault}
		}},
		{"the environment's value, with its position", "production", "", func(p Policy) (any, any) {
			return []any{p.Pause.Value, p.Pause.From.String()}, []any{5 * time.Minute, "environment production (testdata/rotor.yaml:18:60)"}
		}},
		{"a family's override for every environment wins over the environment", "staging", "auth-api-secrets", func(p Policy) (any, any) {
			return []any{p.Soak.Value, p.Soak.From.Kind, p.Soak.From.Environment}, []any{48 * time.Hour, FromFamily, ""}
		}},
		{"an override of one leaf keeps the environment's other leaves", "production", "auth-api-secrets", func(p Policy) (any, any) {
			return []any{p.Strategy.Value, p.Strategy.From.Kind, p.Pause.Value, p.Pause.From.Environment, p.Keep.Value, p.Retain.From.Kind},
				[]any{BlueGreen, FromEnvironment, 15 * time.Minute, "production", 3, FromEnvironment}
		}},
		{"a family without overrides gets the environment's policy", "production", "db-credentials", func(p Policy) (any, any) {
			return []any{p.Pause.Value, p.Keep.Value, len(p.RequiredKeys.Value)}, []any{5 * time.Minute, 2, 0}
		}},
		{"a family rotor.yaml does not list gets the environment's policy", "staging", "unlisted", func(p Policy) (any, any) {
			return []any{p.Soak.Value, p.Soak.From.Kind}, []any{24 * time.Hour, FromEnvironment}
		}},
		{"the family's own settings are in every environment's policy", "dev", "auth-api-secrets", func(p Policy) (any, any) {
			return []any{p.RequiredKeys.Value, p.RotateAfter.Value, p.Versioned.Value}, []any{[]string{"api-token"}, 90 * 24 * time.Hour, false}
		}},
		{"a verification Job is the environment's", "staging", "", func(p Policy) (any, any) {
			return []any{p.Verify.Value.Job, p.Verify.From.Kind}, []any{"integration-tests", FromEnvironment}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := c.Policy(tt.env, tt.fam)
			if err != nil {
				t.Fatal(err)
			}
			got, want := tt.check(p)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("got %v, want %v", got, want)
			}
		})
	}
}

func TestAnUnknownEnvironmentIsATypedError(t *testing.T) {
	_, err := load(t).Policy("qa", "")
	var unknown *UnknownEnvironmentError
	if !errors.As(err, &unknown) || !strings.Contains(err.Error(), `"dev", "staging", "production"`) {
		t.Fatalf("err = %v", err)
	}
}

func TestChecksAskTheCallerAboutContextsAndFiles(t *testing.T) {
	c := load(t)
	known := map[string]bool{"staging-eu": true, "prod-eu": true}
	err := c.Check(Checks{
		ContextExists: func(n string) bool { return known[n] },
		ReadableFile:  func(p string) error { _, err := os.Stat(p); return err },
	})
	var errs Errors
	if !errors.As(err, &errs) || len(errs) != 1 {
		t.Fatalf("want one problem, got %v", err)
	}
	if want := `testdata/rotor.yaml:15:23: environments[production].contexts: the kubeconfig has no context "prod-us"`; !strings.HasPrefix(errs[0].Error(), want) {
		t.Fatalf("got %q, want prefix %q", errs[0].Error(), want)
	}
	if err := c.Check(Checks{ReadableFile: func(string) error { return os.ErrNotExist }}); err == nil || !strings.Contains(err.Error(), "analysis.template: cannot read error-rate.yaml") {
		t.Fatalf("a missing template must be reported, got %v", err)
	}
}

func TestLocateFindsTheFile(t *testing.T) {
	env := func(v string) func(string) string { return func(string) string { return v } }
	exists := func(b bool) func(string) bool { return func(string) bool { return b } }
	tests := []struct {
		name     string
		explicit string
		env      string
		exists   bool
		want     string
		wantErr  bool
	}{
		{"the flag wins", "a.yaml", "b.yaml", true, "a.yaml", false},
		{"then the environment variable", "", "b.yaml", true, "b.yaml", false},
		{"then rotor.yaml in the directory", "", "", true, "rotor.yaml", false},
		{"none of them is an error", "", "", false, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Locate(tt.explicit, env(tt.env), exists(tt.exists), ".")
			var nf *NotFoundError
			if got != tt.want || (err != nil) != tt.wantErr || (tt.wantErr && !errors.As(err, &nf)) {
				t.Fatalf("got %q, %v", got, err)
			}
		})
	}
}
