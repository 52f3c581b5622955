package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The endpoint is a real HTTP server on loopback serving JSON, which is all the web
// provider is for.
func TestQuery(t *testing.T) {
	const secretHeader = "Bearer CANARY-web-token"
	var gotAuth, gotMethod string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth, gotMethod = r.Header.Get("Authorization"), r.Method
		switch r.URL.Path {
		case "/metrics":
			_, _ = w.Write([]byte(`{"data":{"errorRate":0.25,"ok":true,"series":[1,2,3],"missing":null}}`))
		case "/broken":
			_, _ = w.Write([]byte(`{"data":`))
		default:
			http.Error(w, "nope", http.StatusInternalServerError)
		}
	}))
	defer srv.Close()
	tests := []struct {
		name     string
		url      string
		method   string
		jsonPath string
		want     any
		wantErr  string
	}{
		{"a number is selected by its path", srv.URL + "/metrics", "", "{$.data.errorRate}", 0.25, ""},
		{"a boolean is selected as is", srv.URL + "/metrics", "", "{$.data.ok}", true, ""},
		{"a list is returned whole", srv.URL + "/metrics", "", "{$.data.series}", []any{1.0, 2.0, 3.0}, ""},
		{"a JSON null is no data", srv.URL + "/metrics", "", "{$.data.missing}", nil, ""},
		{"a path that matches nothing is no data", srv.URL + "/metrics", "", "{$.data.absent}", nil, ""},
		{"the method is configurable", srv.URL + "/metrics", "post", "{$.data.errorRate}", 0.25, ""},
		{"a non-2xx answer is an error naming the status", srv.URL + "/fail?token=CANARY-query", "", "", nil, "500"},
		{"the URL's path is never in an error (webhook-style URLs carry tokens there)", srv.URL + "/hooks/CANARY-path-token", "", "", nil, "answered 500"},
		{"invalid JSON is an error", srv.URL + "/broken", "", "", nil, "JSON"},
		{"an unreachable endpoint is an error", "http://127.0.0.1:1/x?token=CANARY-query", "", "", nil, "unreachable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(tt.url, tt.method, tt.jsonPath, []Header{{Key: "Authorization", Value: secretHeader}}, 2*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.Query(context.Background())
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "CANARY") {
					t.Fatalf("the error leaks a credential: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Query = %#v, want %#v", got, tt.want)
			}
			if gotAuth != secretHeader {
				t.Fatalf("header not sent: %q", gotAuth)
			}
			if tt.method != "" && gotMethod != strings.ToUpper(tt.method) {
				t.Fatalf("method = %s", gotMethod)
			}
		})
	}
}

func TestNewRefusesAJSONPathThatDoesNotParse(t *testing.T) {
	if _, err := New("http://x", "", "{$.data[", nil, 0); err == nil || !strings.Contains(err.Error(), "does not parse") {
		t.Fatalf("err = %v", err)
	}
}

func TestCustomHeadersAreNotForwardedToAnotherHost(t *testing.T) {
	var leaked http.Header
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked = r.Header.Clone()
		_, _ = w.Write([]byte(`{"v": 1}`))
	}))
	defer other.Close()
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, strings.Replace(other.URL, "127.0.0.1", "localhost", 1)+"/v", http.StatusFound)
	}))
	defer origin.Close()
	c, err := New(origin.URL+"/v", "", "{$.v}", []Header{{Key: "X-Api-Key", Value: "CANARY-x"}, {Key: "DD-API-KEY", Value: "CANARY-dd"}}, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Query(context.Background()); err != nil {
		t.Fatal(err)
	}
	if leaked == nil {
		t.Fatal("the redirect was not followed")
	}
	for k, v := range leaked {
		if strings.Contains(strings.Join(v, ","), "CANARY") {
			t.Fatalf("header %s was forwarded to another host", k)
		}
	}
}
