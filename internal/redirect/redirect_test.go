package redirect

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestCustomHeadersStayOnTheirHost(t *testing.T) {
	var got http.Header
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		w.WriteHeader(http.StatusOK)
	}))
	defer other.Close()
	var sameHostHeaders http.Header
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/away":
			// 127.0.0.1 and localhost are different hosts to the client.
			http.Redirect(w, r, strings.Replace(other.URL, "127.0.0.1", "localhost", 1)+"/x", http.StatusFound)
		case "/here":
			http.Redirect(w, r, "/landed", http.StatusFound)
		case "/landed":
			sameHostHeaders = r.Header.Clone()
		}
	}))
	defer origin.Close()
	client := &http.Client{CheckRedirect: Policy}
	do := func(path string) {
		req, _ := http.NewRequest(http.MethodGet, origin.URL+path, nil)
		req.Header.Set("X-Api-Key", "canary-key")
		req.Header.Set("DD-API-KEY", "canary-dd")
		req.Header.Set("Accept", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
	}
	do("/away")
	if got == nil {
		t.Fatal("the redirect was not followed")
	}
	if got.Get("X-Api-Key") != "" || got.Get("Dd-Api-Key") != "" {
		t.Fatalf("custom headers reached another host: %v", got)
	}
	if got.Get("Accept") != "application/json" {
		t.Fatalf("plain headers were dropped too: %v", got)
	}
	do("/here")
	if sameHostHeaders.Get("X-Api-Key") != "canary-key" {
		t.Fatalf("a same-host redirect lost its headers: %v", sameHostHeaders)
	}
}

func TestHTTPSToHTTPIsRefused(t *testing.T) {
	req, _ := http.NewRequest(http.MethodGet, "http://example.test/", nil)
	prev, _ := http.NewRequest(http.MethodGet, "https://example.test/", nil)
	if err := Policy(req, []*http.Request{prev}); err == nil {
		t.Fatal("a downgrade to http was allowed")
	}
}
