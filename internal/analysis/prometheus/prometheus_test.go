package prometheus

import (
	"context"
	"strings"
	"testing"
	"time"

	"k8s.io/utils/clock"

	"github.com/rotor-project/rotor/test/promenv"
	"github.com/rotor-project/rotor/test/waitfor"
)

// These tests query a real Prometheus (Debian's package) started by the test on a
// free loopback port, scraping an exporter the test controls.
func TestQueryAgainstARealPrometheus(t *testing.T) {
	exp := promenv.StartExporter(t)
	srv := promenv.Start(t, exp.Target)
	tests := []struct {
		name    string
		address string
		query   string
		want    any
		wantErr string
	}{
		{"a vector becomes a list of numbers", srv.URL, "vector(42)", []float64{42}, ""},
		{"a scalar becomes a number", srv.URL, "scalar(vector(1.5))", 1.5, ""},
		{"an empty vector is no data (nil), not zero", srv.URL, `sum(no_such_metric_total)`, nil, ""},
		{"bad PromQL is refused and named as such", srv.URL, "sum(rate(x[5m]", nil, "bad PromQL"},
		{"a range vector is refused with what to use instead", srv.URL, "vector(1)[1m:]", nil, "instant vector or a scalar"},
		{"an unreachable server is named unreachable", "http://127.0.0.1:1", "vector(1)", nil, "is unreachable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(tt.address, tt.query, 5*time.Second, clock.RealClock{})
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.Query(context.Background())
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			switch w := tt.want.(type) {
			case nil:
				if got != nil {
					t.Fatalf("got %v, want no data", got)
				}
			case []float64:
				g, ok := got.([]float64)
				if !ok || len(g) != len(w) || g[0] != w[0] {
					t.Fatalf("got %#v, want %v", got, w)
				}
			case float64:
				if got != w {
					t.Fatalf("got %#v, want %v", got, w)
				}
			}
		})
	}

	t.Run("an error rate served by the exporter shows in a rate query", func(t *testing.T) {
		srv.WaitForTarget(t)
		c, err := New(srv.URL, `sum(rate(app_requests_total{code="500"}[5s]))`, 5*time.Second, clock.RealClock{})
		if err != nil {
			t.Fatal(err)
		}
		exp.SetErrorRate(50)
		waitfor.Poll(t, "the error rate to rise above 10/s", func(ctx context.Context) (bool, error) {
			last, err := c.Query(ctx)
			v, ok := last.([]float64)
			return err == nil && ok && v[0] > 10, nil
		})
	})
}
