package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

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
