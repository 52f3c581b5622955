package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/internal/journal"
	"github.com/rotor-project/rotor/test/clusterenv"
)

// TestCredentialsNeedNotBeInArgv: a webhook URL and analysis arguments that are
// credentials reach rotor from a file or the environment (--notify-url-file,
// ROTOR_NOTIFY_URL, --arg-file, --arg-from-env), are used, and are never printed.
func TestCredentialsNeedNotBeInArgv(t *testing.T) {
	ns := clusterenv.Namespace(t)
	rotated(t, ns, "auth")
	const apiKey, region, hookToken = "CANARY-api-key-91ab", "CANARY-region-77", "CANARY-hook-token-3c"
	metrics := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Api-Key") != apiKey || r.URL.Path != "/"+region {
			http.Error(w, "who are you", http.StatusUnauthorized)
			return
		}
		_, _ = w.Write([]byte(`{"errors": 5}`))
	}))
	defer metrics.Close()
	var mu sync.Mutex
	var posts []string
	hook := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		mu.Lock()
		posts = append(posts, r.URL.Path)
		mu.Unlock()
	}))
	defer hook.Close()
	dir := t.TempDir()
	analysisFile := filepath.Join(dir, "errors.yaml")
	mustWrite(t, analysisFile, fmt.Sprintf(`spec:
  args:
  - name: api-key
  - name: region
  metrics:
  - name: errors
    interval: 1s
    successCondition: result == 0
    provider:
      web:
        url: %s/{{args.region}}
        jsonPath: "{$.errors}"
        headers:
        - key: X-Api-Key
          value: "{{args.api-key}}"
`, metrics.URL))
	argFile := filepath.Join(dir, "args.env")
	mustWrite(t, argFile, "# credentials\napi-key="+apiKey+"\n")
	urlFile := filepath.Join(dir, "webhook-url")
	mustWrite(t, urlFile, hook.URL+"/services/"+hookToken+"\n")
	t.Setenv("ROTOR_TEST_REGION", region)

	for _, tt := range []struct {
		name string
		args []string
		env  string
	}{
		{"the webhook URL from a file", []string{"--notify-url-file", urlFile}, ""},
		{"the webhook URL from ROTOR_NOTIFY_URL", nil, hook.URL + "/services/" + hookToken},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.env != "" {
				t.Setenv("ROTOR_NOTIFY_URL", tt.env)
			}
			mu.Lock()
			posts = nil
			mu.Unlock()
			args := append([]string{"watch", "auth", "-n", ns, "--analysis", analysisFile, "--for", "1h",
				"--arg-file", argFile, "--arg-from-env", "region=ROTOR_TEST_REGION"}, tt.args...)
			r := run(t, nil, "", args...)
			if r.Code != 1 || !strings.Contains(r.Stdout, "Watch of auth in "+ns+": Failed") || !strings.Contains(r.Stdout, "Notified: "+hook.URL+"\n") {
				t.Fatalf("exit %d; want a failed watch that notified %s\nstdout: %s\nstderr: %s", r.Code, hook.URL, r.Stdout, r.Stderr)
			}
			if strings.Contains(r.Stdout+r.Stderr, "CANARY") {
				t.Fatalf("a credential was printed:\n%s\n%s", r.Stdout, r.Stderr)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(posts) != 1 || posts[0] != "/services/"+hookToken {
				t.Fatalf("webhook posts: %v", posts)
			}
		})
	}
}

// TestPrivateAnalysisArgumentsAreNotJournaled: analysis arguments given from a file or
// the environment gate the rollout, and the rotation's journal records their names
// only, so a credential never lands in a ConfigMap of the namespace.
func TestPrivateAnalysisArgumentsAreNotJournaled(t *testing.T) {
	t.Parallel()
	ns := clusterenv.Namespace(t)
	rotated(t, ns, "auth")
	const apiKey = "CANARY-journal-key-5d"
	metrics := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Api-Key") != apiKey {
			http.Error(w, "who are you", http.StatusUnauthorized)
			return
		}
		_, _ = w.Write([]byte(`{"errors": 0}`))
	}))
	defer metrics.Close()
	dir := t.TempDir()
	analysisFile := filepath.Join(dir, "errors.yaml")
	mustWrite(t, analysisFile, fmt.Sprintf(`spec:
  args:
  - name: api-key
  - name: zone
  metrics:
  - name: errors
    successCondition: result == 0
    provider:
      web:
        url: %s/{{args.zone}}
        jsonPath: "{$.errors}"
        headers:
        - key: X-Api-Key
          value: "{{args.api-key}}"
`, metrics.URL))
	argFile := filepath.Join(dir, "args.env")
	mustWrite(t, argFile, "api-key="+apiKey+"\n")
	if r := run(t, nil, "new-token", "create", "auth", "-n", ns, "--from-stdin", "token"); r.Code != 0 {
		t.Fatalf("create: exit %d\n%s", r.Code, r.Stderr)
	}
	r := run(t, nil, "", "rollout", "auth", "-n", ns, "--to", "latest", "--yes", "--timeout", rotorTimeout(t),
		"--analysis", analysisFile, "--arg-file", argFile, "--arg", "zone=eu")
	if r.Code != 0 {
		t.Fatalf("rollout: exit %d\nstdout: %s\nstderr: %s", r.Code, r.Stdout, r.Stderr)
	}
	if strings.Contains(r.Stdout+r.Stderr, "CANARY") {
		t.Fatalf("a credential was printed:\n%s\n%s", r.Stdout, r.Stderr)
	}
	cms, err := clusterenv.Client(t).CoreV1().ConfigMaps(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	journaled := false
	for _, cm := range cms.Items {
		b, _ := json.Marshal(cm)
		if strings.Contains(string(b), "CANARY") {
			t.Fatalf("ConfigMap %s holds the credential", cm.Name)
		}
		// The public argument is recorded with its value, the private one by name.
		var rot v1alpha1.SecretRotation
		if cm.Data[journal.DataKey] == "" || json.Unmarshal([]byte(cm.Data[journal.DataKey]), &rot) != nil || rot.Spec.Analysis == nil {
			continue
		}
		want := []v1alpha1.AnalysisArg{{Name: "api-key", Private: true}, {Name: "zone", Value: "eu"}}
		if !reflect.DeepEqual(rot.Spec.Analysis.Args, want) {
			t.Fatalf("journal %s records the arguments %+v, want %+v", cm.Name, rot.Spec.Analysis.Args, want)
		}
		journaled = true
	}
	if !journaled {
		t.Fatalf("no journal records the arguments as expected in %d ConfigMaps", len(cms.Items))
	}
}
