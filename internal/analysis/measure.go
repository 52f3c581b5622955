package analysis

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/rotor-project/rotor/internal/gate"
)

// querier is a provider client: one query, one value (nil or an empty list when
// there is no data).
type querier interface {
	Query(ctx context.Context) (any, error)
}

// Measurement is one evaluation of one metric.
type Measurement struct {
	Metric string
	// Index counts this metric's measurements from 1.
	Index int
	At    time.Time
	Phase gate.Phase
	// Value is the observed value as text ("no data" when empty); Message says why
	// the phase is what it is (the conditions evaluated, or the provider's error).
	Value   string
	Message string
}

// MetricResult is how one metric ended, with Argo Rollouts' counters.
type MetricResult struct {
	Name    string
	Phase   gate.Phase
	Message string
	// Count counts measurements that were not errors (Argo does not count errors).
	Count, Successful, Failed, Inconclusive, Errors, ConsecutiveErrors int
	// Last are the most recent measurements, newest last (at most keepLast).
	Last []Measurement
}

const keepLast = 10

func (r *MetricResult) add(m Measurement) {
	switch m.Phase {
	case gate.Successful:
		r.Successful++
	case gate.Failed:
		r.Failed++
	case gate.Inconclusive:
		r.Inconclusive++
	case gate.Error:
		r.Errors++
		r.ConsecutiveErrors++
	}
	if m.Phase != gate.Error {
		r.Count++
		r.ConsecutiveErrors = 0
	}
	r.Last = append(r.Last, m)
	if len(r.Last) > keepLast {
		r.Last = r.Last[len(r.Last)-keepLast:]
	}
}

// limitsExceeded applies Argo Rollouts' order: failures, then inconclusives, then
// consecutive errors (the later check wins when several are exceeded, as in Argo).
func (r *MetricResult) limitsExceeded(s settings) (gate.Phase, string) {
	var phase gate.Phase
	var msg string
	if s.failureLimit >= 0 && r.Failed > s.failureLimit {
		phase, msg = gate.Failed, fmt.Sprintf("failed (%d) > failureLimit (%d)", r.Failed, s.failureLimit)
	}
	if s.inconclusiveLimit >= 0 && r.Inconclusive > s.inconclusiveLimit {
		phase, msg = gate.Inconclusive, fmt.Sprintf("inconclusive (%d) > inconclusiveLimit (%d)", r.Inconclusive, s.inconclusiveLimit)
	}
	if s.consecutiveErrorLimit >= 0 && r.ConsecutiveErrors > s.consecutiveErrorLimit {
		phase, msg = gate.Error, fmt.Sprintf("consecutiveErrors (%d) > consecutiveErrorLimit (%d)", r.ConsecutiveErrors, s.consecutiveErrorLimit)
	}
	return phase, msg
}

// noData reports whether a provider's value is empty: nil, or an empty list.
func noData(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case []float64:
		return len(x) == 0
	case []any:
		return len(x) == 0
	}
	return false
}

// formatValue renders a value for heartbeats and reports.
func formatValue(v any) string {
	switch x := v.(type) {
	case float64:
		return formatFloat(x)
	case []float64:
		parts := make([]string, len(x))
		for i, f := range x {
			parts[i] = formatFloat(f)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case string:
		return strconv.Quote(x)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	s := string(b)
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

func formatFloat(f float64) string {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	return strconv.FormatFloat(f, 'g', 6, 64)
}

// worse orders phases as Argo Rollouts does: Successful < Inconclusive < Error < Failed.
func worse(a, b gate.Phase) bool { return rank(b) > rank(a) }

func rank(p gate.Phase) int {
	switch p {
	case gate.Successful:
		return 1
	case gate.Inconclusive:
		return 2
	case gate.Error:
		return 3
	case gate.Failed:
		return 4
	}
	return 0
}
