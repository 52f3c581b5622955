package analysis

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/rotor-project/rotor/internal/gate"
	"github.com/rotor-project/rotor/test/promenv"
	"github.com/rotor-project/rotor/test/waitfor"
)

// steppingClock completes every wait at once by moving time forward, so intervals of
// minutes take no time in tests.
type steppingClock struct {
	*clocktesting.FakeClock
	mu sync.Mutex
}

func (c *steppingClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := c.FakeClock.After(d)
	c.Step(d)
	return ch
}

// prometheusURL starts a real Prometheus for the test (ready in about 0.1 s).
// vector(N) queries need no scrape, so these tests do not wait for one.
func prometheusURL(t *testing.T) string {
	return promenv.Start(t).URL
}

func metricDoc(address, query, extra string) string {
	return fmt.Sprintf("metrics:\n- name: errors\n%s  provider:\n    prometheus:\n      address: %s\n      query: %q\n", extra, address, query)
}

func TestGate(t *testing.T) {
	url := prometheusURL(t)
	step := gate.Step{Family: "auth", Namespace: "pay", Version: "auth-20250101000000"}
	tests := []struct {
		name        string
		doc         string
		wantNew     string // NewGate error
		wantInvalid string // Validate error
		want        gate.Phase
		wantCount   int
	}{
		{name: "a query under the threshold passes", doc: metricDoc(url, "vector(0)", "  successCondition: result[0] < 1\n"), want: gate.Successful, wantCount: 1},
		{name: "a query over the threshold fails and the verdict names the metric and condition", doc: metricDoc(url, "vector(10)", "  successCondition: result[0] < 1\n"), want: gate.Failed, wantCount: 1},
		{name: "no data is inconclusive, never a pass", doc: metricDoc(url, "sum(absent_metric_total)", "  successCondition: result[0] < 1\n"), want: gate.Inconclusive, wantCount: 1},
		{name: "a count takes that many measurements at the interval", doc: metricDoc(url, "vector(0)", "  interval: 1m\n  count: 3\n  successCondition: result[0] < 1\n"), want: gate.Successful, wantCount: 3},
		{name: "a failureLimit of 1 tolerates one failure and fails at the second", doc: metricDoc(url, "vector(5)", "  interval: 1m\n  count: 5\n  failureLimit: 1\n  successCondition: result[0] < 1\n"), want: gate.Failed, wantCount: 2},
		{name: "bad PromQL is refused by Validate", doc: metricDoc(url, "sum(rate(x[5m]", "  successCondition: result[0] < 1\n"), wantInvalid: "bad PromQL"},
		{name: "an unreachable Prometheus is refused by Validate", doc: metricDoc("http://127.0.0.1:1", "vector(0)", "  successCondition: result[0] < 1\n"), wantInvalid: "unreachable"},
		{name: "a condition that does not compile is refused by NewGate", doc: metricDoc(url, "vector(0)", "  successCondition: result[0] <\n"), wantNew: "does not compile"},
		{name: "a condition that cannot apply to the value is refused by Validate", doc: metricDoc(url, "vector(0)", "  successCondition: result < 1\n"), wantInvalid: "evaluating"},
		{name: "an unreachable provider counts against consecutiveErrorLimit and ends in Error, not Failed", doc: metricDoc("http://127.0.0.1:1", "vector(0)", "  interval: 1s\n  count: 3\n  consecutiveErrorLimit: 2\n  successCondition: result[0] < 1\n"), wantInvalid: "unreachable", want: gate.Error, wantCount: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl, err := Parse([]byte(tt.doc), nil)
			if err != nil {
				t.Fatal(err)
			}
			clk := &steppingClock{FakeClock: clocktesting.NewFakeClock(time.Now())}
			var seen []Measurement
			var mu sync.Mutex
			g, err := NewGate(tmpl, Options{Clock: clk, OnMeasurement: func(m Measurement) { mu.Lock(); seen = append(seen, m); mu.Unlock() }})
			if tt.wantNew != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantNew) {
					t.Fatalf("NewGate error = %v, want %q", err, tt.wantNew)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			ctx := waitfor.Context(t)
			err = g.Validate(ctx, step)
			if tt.wantInvalid != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantInvalid) || !strings.Contains(err.Error(), `metric "errors"`) {
					t.Fatalf("Validate error = %v, want %q naming the metric", err, tt.wantInvalid)
				}
				if tt.want == "" {
					return
				}
			} else if err != nil {
				t.Fatalf("Validate: %v", err)
			}
			v := g.Run(ctx, step)
			if v.Phase != tt.want {
				t.Fatalf("verdict %s (%s), want %s", v.Phase, v.Message, tt.want)
			}
			if v.Phase == gate.Failed && (!strings.Contains(v.Message, `metric "errors"`) || !strings.Contains(v.Message, "result[0] < 1 is false") || !strings.Contains(v.Message, "[")) {
				t.Errorf("a failure report must name the metric, its value and the condition: %s", v.Message)
			}
			count := 0
			for _, m := range seen {
				if m.Phase != gate.Error {
					count++
				}
			}
			if count != tt.wantCount {
				t.Errorf("%d measurements (not errors), want %d: %+v", count, tt.wantCount, seen)
			}
		})
	}
}

func TestEvaluateWindow(t *testing.T) {
	url := prometheusURL(t)
	tmpl, err := Parse([]byte(metricDoc(url, "vector(0)", "  interval: 10m\n  successCondition: result[0] < 1\n")), nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		startBefore time.Duration
		window      time.Duration
		want        int
	}{
		{"a metric without count measures every interval until the window ends", 0, time.Hour, 7},
		{"a resumed window does not make up missed measurements", 45 * time.Minute, time.Hour, 2},
		{"a window that ended while nobody watched still gets one measurement", 2 * time.Hour, time.Hour, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := time.Now()
			clk := &steppingClock{FakeClock: clocktesting.NewFakeClock(now)}
			n := 0
			g, err := NewGate(tmpl, Options{Clock: clk, OnMeasurement: func(Measurement) { n++ }})
			if err != nil {
				t.Fatal(err)
			}
			start := now.Add(-tt.startBefore)
			res := g.Evaluate(context.Background(), gate.Step{}, Window{Start: start, End: start.Add(tt.window)})
			if res.Phase != gate.Successful || n != tt.want {
				t.Fatalf("phase %s with %d measurements, want Successful with %d (%s)", res.Phase, n, tt.want, res.Message)
			}
		})
	}
}
