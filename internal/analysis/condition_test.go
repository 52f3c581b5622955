package analysis

import (
	"math"
	"strings"
	"testing"

	"github.com/rotor-project/rotor/internal/gate"
)

func TestAssess(t *testing.T) {
	tests := []struct {
		name             string
		success, failure string
		result           any
		want             gate.Phase
		wantErr          string
	}{
		{"a true success condition alone is Successful", "result[0] < 5", "", []float64{1}, gate.Successful, ""},
		{"a false success condition alone is Failed (Argo: not-success is failure)", "result[0] < 5", "", []float64{9}, gate.Failed, ""},
		{"a false failure condition alone is Successful", "", "result > 10", 3.0, gate.Successful, ""},
		{"a true failure condition alone is Failed", "", "result > 10", 30.0, gate.Failed, ""},
		{"with both conditions, neither true is Inconclusive", "result < 1", "result > 10", 5.0, gate.Inconclusive, ""},
		{"with both conditions, a true failure wins", "result < 100", "result > 10", 50.0, gate.Failed, ""},
		{"no condition at all is Successful for any value", "", "", 5.0, gate.Successful, ""},
		{"isNaN sees a NaN value", "", "isNaN(result)", math.NaN(), gate.Failed, ""},
		{"isInf sees an infinite value", "!isInf(result)", "", math.Inf(1), gate.Failed, ""},
		{"all() works over a vector", "all(result, {# < 1})", "", []float64{0, 0.5, 2}, gate.Failed, ""},
		{"a web value is compared as decoded JSON", `result == "ok"`, "", "ok", gate.Successful, ""},
		{"asFloat converts a string value", "asFloat(result) < 2", "", "1.5", gate.Successful, ""},
		{"default fills in for nil", "default(0) == 0", "", nil, gate.Successful, ""},
		{"comparing a vector with a number is an evaluation error, not a verdict", "result < 5", "", []float64{1}, gate.Error, "evaluating"},
		{"a condition that is not a boolean is an error", "result", "", 5.0, gate.Error, "not true or false"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := compileCondition("successCondition", tt.success)
			if err != nil {
				t.Fatal(err)
			}
			f, err := compileCondition("failureCondition", tt.failure)
			if err != nil {
				t.Fatal(err)
			}
			got, _, err := assess(s, f, tt.result)
			if got != tt.want {
				t.Errorf("phase = %s, want %s (err %v)", got, tt.want, err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("error = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestCompileCondition(t *testing.T) {
	tests := []struct {
		name, src, wantErr string
	}{
		{"a syntax error does not compile and the condition is quoted", "result[0] <", `successCondition "result[0] <" does not compile`},
		{"an unknown name does not compile", "reslt < 5", "unknown name reslt"},
		{"an unknown function does not compile", "avg(result) < 5", "does not compile"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := compileCondition("successCondition", tt.src)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want %q", err, tt.wantErr)
			}
		})
	}
}
