package datadog

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
)

// No Datadog is reachable from where these tests run, so the client is tested against
// a local HTTP server (httptest) that checks the requests and answers with the
// response shapes Datadog documents for GET /api/v1/query and POST /api/v2/query/scalar.
// This is the only provider tested this way; Prometheus tests use a real server.

const (
	v1Body = `{"status":"ok","res_type":"time_series","series":[{"metric":"errors","pointlist":[[1700000000000,0.5],[1700000060000,2.25]],"scope":"*"}],"from_date":1,"to_date":2,"query":"q"}`
	v1None = `{"status":"ok","res_type":"time_series","series":[],"query":"q"}`
	v2Body = `{"data":{"type":"scalar_response","attributes":{"columns":[{"name":"query","type":"number","values":[0.75],"meta":{"unit":null}}]}}}`
	v2None = `{"data":{"type":"scalar_response","attributes":{"columns":[{"name":"query","type":"number","values":[]}]}}}`
)

func TestQuery(t *testing.T) {
	now := time.Date(2025, 7, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		apiVersion string
		status     int
		body       string
		want       any
		wantErr    string
	}{
		{"v1 takes the last point of the first series", "v1", 200, v1Body, 2.25, ""},
		{"v1 with no series is no data", "v1", 200, v1None, nil, ""},
		{"v2 takes the first value of the first column", "v2", 200, v2Body, 0.75, ""},
		{"v2 with no values is no data", "v2", 200, v2None, nil, ""},
		{"a 403 names Datadog's errors and never the keys", "v1", 403, `{"errors":["Forbidden"]}`, nil, "403 Forbidden for query"},
		{"a body that is not JSON is an error", "v2", 200, `<html>`, nil, "not the documented JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("DD-API-KEY") != "api-secret" || r.Header.Get("DD-APPLICATION-KEY") != "app-secret" {
					t.Errorf("keys not sent in the documented headers: %v", r.Header)
				}
				switch tt.apiVersion {
				case "v1":
					if r.Method != http.MethodGet || r.URL.Path != "/api/v1/query" || r.URL.Query().Get("query") != "avg:errors{*}" ||
						r.URL.Query().Get("to") != "1751371200" || r.URL.Query().Get("from") != "1751370900" {
						t.Errorf("unexpected v1 request %s %s", r.Method, r.URL)
					}
				case "v2":
					var body struct {
						Data struct {
							Type       string `json:"type"`
							Attributes struct {
								From, To int64
								Queries  []map[string]string `json:"queries"`
							} `json:"attributes"`
						} `json:"data"`
					}
					if err := json.NewDecoder(r.Body).Decode(&body); err != nil || r.Method != http.MethodPost || r.URL.Path != "/api/v2/query/scalar" ||
						body.Data.Type != "scalar_request" || body.Data.Attributes.Queries[0]["query"] != "avg:errors{*}" ||
						body.Data.Attributes.To != now.UnixMilli() {
						t.Errorf("unexpected v2 request %s %s: %+v %v", r.Method, r.URL, body, err)
					}
				}
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			c, err := New(Keys{APIKey: "api-secret", AppKey: "app-secret", Address: srv.URL}, "avg:errors{*}", tt.apiVersion, 5*time.Minute, clocktesting.NewFakeClock(now))
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.Query(context.Background())
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "secret") {
					t.Fatalf("the error shows a key: %v", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %v (%v), want %v", got, err, tt.want)
			}
		})
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		keys    Keys
		version string
		wantErr string
	}{
		{"missing keys are refused with where to put them", Keys{APIKey: "a"}, "v1", "set DD_API_KEY and DD_APP_KEY"},
		{"an address that is not a URL is refused without echoing it", Keys{APIKey: "a", AppKey: "b", Address: "ftp://key@x"}, "v1", "not an http(s) URL"},
		{"an unknown API version is refused", Keys{APIKey: "a", AppKey: "b"}, "v3", `apiVersion "v3"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.keys, "q", tt.version, 0, clocktesting.NewFakeClock(time.Now()))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "key@") {
				t.Fatalf("error = %v, want %q", err, tt.wantErr)
			}
		})
	}
}
