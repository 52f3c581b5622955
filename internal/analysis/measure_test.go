package analysis

import (
	"testing"

	"github.com/rotor-project/rotor/internal/gate"
)

func TestLimits(t *testing.T) {
	S, F, I, E := gate.Successful, gate.Failed, gate.Inconclusive, gate.Error
	tests := []struct {
		name      string
		s         settings
		sequence  []gate.Phase
		want      gate.Phase // "" means the metric goes on
		wantCount int
	}{
		{"one failure fails a metric with the default failureLimit 0", settings{consecutiveErrorLimit: 4}, []gate.Phase{S, F}, F, 2},
		{"failures up to failureLimit are tolerated", settings{failureLimit: 2, consecutiveErrorLimit: 4}, []gate.Phase{F, S, F}, "", 3},
		{"one failure more than failureLimit fails", settings{failureLimit: 2, consecutiveErrorLimit: 4}, []gate.Phase{F, F, F}, F, 3},
		{"a negative failureLimit never fails", settings{failureLimit: -1, consecutiveErrorLimit: 4}, []gate.Phase{F, F, F, F}, "", 4},
		{"one inconclusive (no data) ends the metric Inconclusive by default", settings{consecutiveErrorLimit: 4}, []gate.Phase{I}, I, 1},
		{"inconclusives up to inconclusiveLimit are tolerated", settings{inconclusiveLimit: 2, consecutiveErrorLimit: 4}, []gate.Phase{I, I}, "", 2},
		{"provider errors are not failures and do not count as measurements", settings{consecutiveErrorLimit: 4}, []gate.Phase{E, E, E, E}, "", 0},
		{"more consecutive errors than consecutiveErrorLimit is Error", settings{consecutiveErrorLimit: 4}, []gate.Phase{E, E, E, E, E}, E, 0},
		{"a measurement between errors resets the consecutive count", settings{consecutiveErrorLimit: 2}, []gate.Phase{E, E, S, E, E}, "", 1},
		{"consecutiveErrorLimit 0 makes the first error final", settings{consecutiveErrorLimit: 0}, []gate.Phase{E}, E, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r MetricResult
			var got gate.Phase
			for i, p := range tt.sequence {
				r.add(Measurement{Phase: p})
				got, _ = r.limitsExceeded(tt.s)
				if got != "" && i != len(tt.sequence)-1 {
					t.Fatalf("ended %s after %d measurements, before the sequence was over", got, i+1)
				}
			}
			if got != tt.want {
				t.Errorf("phase = %q, want %q", got, tt.want)
			}
			if r.Count != tt.wantCount {
				t.Errorf("count = %d, want %d", r.Count, tt.wantCount)
			}
		})
	}
}

func TestNoData(t *testing.T) {
	tests := []struct {
		name string
		v    any
		want bool
	}{
		{"nil is no data", nil, true},
		{"an empty vector is no data", []float64{}, true},
		{"an empty JSON list is no data", []any{}, true},
		{"a zero is data", 0.0, false},
		{"a vector with a zero is data", []float64{0}, false},
		{"false is data", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := noData(tt.v); got != tt.want {
				t.Errorf("noData(%v) = %v", tt.v, got)
			}
		})
	}
}
