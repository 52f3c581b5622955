package promenv

import (
	"strings"
	"testing"
)

// TestPrometheusStartsOnAPortTheKernelChoseAndAnswersQueries starts the real server on
// 127.0.0.1:0 and queries it through the address it logged.
func TestPrometheusStartsOnAPortTheKernelChoseAndAnswersQueries(t *testing.T) {
	s := Start(t)
	if !strings.HasPrefix(s.URL, "http://127.0.0.1:") || strings.HasSuffix(s.URL, ":0") {
		t.Fatalf("URL %q", s.URL)
	}
	out, err := s.Query("vector(42)")
	if err != nil || !strings.Contains(out, `"42"`) {
		t.Fatalf("vector(42): %s, %v", out, err)
	}
}
