package analysis

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"k8s.io/utils/clock"

	"github.com/rotor-project/rotor/internal/analysis/datadog"
	"github.com/rotor-project/rotor/internal/analysis/prometheus"
	"github.com/rotor-project/rotor/internal/analysis/web"
	"github.com/rotor-project/rotor/internal/gate"
)

// Options configure a Gate.
type Options struct {
	// Clock times intervals and delays; nil means the real clock.
	Clock clock.Clock
	// Duration is how long Run keeps measuring metrics that have an interval but no
	// count, from Run's start. Zero: such metrics take one measurement (a step gate);
	// the rollout's --analysis-duration after the last step is a Gate with a Duration.
	Duration time.Duration
	// Getenv reads Datadog's DD_API_KEY, DD_APP_KEY and DD_ADDRESS; nil reads nothing.
	Getenv func(string) string
	// SecretData reads the data of a Secret, for provider.datadog.secretRef (looked up
	// in the step's namespace). Nil refuses secretRef.
	SecretData func(ctx context.Context, namespace, name string) (map[string][]byte, error)
	// OnMeasurement, if set, is called after every measurement (for heartbeats). It
	// runs on the metric's goroutine and must return quickly.
	OnMeasurement func(Measurement)
	// PrivateArgs are the values of the arguments a rotation records as private (given
	// from a file or the environment, never written to its journal).
	PrivateArgs map[string]string
}

// Gate is a metric analysis as a step gate.
type Gate struct {
	tmpl    *Template
	opts    Options
	metrics []*metricRun
}

type metricRun struct {
	metric           Metric
	settings         settings
	success, failure *condition
	// client is built once for Prometheus and web; Datadog's depends on the step's
	// namespace (its keys may live in a Secret), so it is built per run.
	client querier
}

var (
	_ gate.Gate      = (*Gate)(nil)
	_ gate.Validator = (*Gate)(nil)
)

// NewGate compiles tmpl's conditions and makes its provider clients. A condition that
// does not compile is an error here, before anything changes.
func NewGate(tmpl *Template, opts Options) (*Gate, error) {
	if tmpl == nil || len(tmpl.Metrics) == 0 {
		return nil, errors.New("analysis: no metrics")
	}
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	if opts.Getenv == nil {
		opts.Getenv = func(string) string { return "" }
	}
	g := &Gate{tmpl: tmpl, opts: opts}
	for _, m := range tmpl.Metrics {
		mr := &metricRun{metric: m}
		var err error
		if mr.settings, err = settingsOf(m); err != nil {
			return nil, fmt.Errorf("metric %q: %w", m.Name, err)
		}
		if mr.success, err = compileCondition("successCondition", m.SuccessCondition); err != nil {
			return nil, fmt.Errorf("metric %q: %w", m.Name, err)
		}
		if mr.failure, err = compileCondition("failureCondition", m.FailureCondition); err != nil {
			return nil, fmt.Errorf("metric %q: %w", m.Name, err)
		}
		switch p := m.Provider; {
		case p.Prometheus != nil:
			var timeout time.Duration
			if p.Prometheus.Timeout != nil {
				timeout = time.Duration(*p.Prometheus.Timeout) * time.Second
			}
			mr.client, err = prometheus.New(p.Prometheus.Address, p.Prometheus.Query, timeout, opts.Clock)
		case p.Web != nil:
			hs := make([]web.Header, 0, len(p.Web.Headers))
			for _, h := range p.Web.Headers {
				hs = append(hs, web.Header{Key: h.Key, Value: h.Value})
			}
			mr.client, err = web.New(p.Web.URL, p.Web.Method, p.Web.JSONPath, hs, time.Duration(p.Web.TimeoutSeconds)*time.Second)
		}
		if err != nil {
			return nil, fmt.Errorf("metric %q: %w", m.Name, err)
		}
		g.metrics = append(g.metrics, mr)
	}
	return g, nil
}

// Name is "analysis".
func (g *Gate) Name() string { return "analysis" }

// Template is the analysis the gate runs.
func (g *Gate) Template() *Template { return g.tmpl }

// WithDuration returns a copy of the gate whose Run measures for d (see
// Options.Duration), e.g. for the analysis after a rollout's last step.
func (g *Gate) WithDuration(d time.Duration) *Gate {
	c := *g
	c.opts.Duration = d
	return &c
}

// Validate evaluates every metric once: a query the provider refuses, an unreachable
// provider, missing credentials, or a condition that cannot be evaluated on the value
// returned is an error naming the metric. No data is not an error here.
func (g *Gate) Validate(ctx context.Context, step gate.Step) error {
	var errs []error
	for _, mr := range g.metrics {
		q, err := g.client(ctx, mr, step.Namespace)
		if err != nil {
			errs = append(errs, fmt.Errorf("metric %q: %w", mr.metric.Name, err))
			continue
		}
		v, err := q.Query(ctx)
		if err != nil {
			errs = append(errs, fmt.Errorf("metric %q: %w", mr.metric.Name, err))
			continue
		}
		if noData(v) {
			continue
		}
		if _, _, err := assess(mr.success, mr.failure, v); err != nil {
			errs = append(errs, fmt.Errorf("metric %q: value %s: %w", mr.metric.Name, formatValue(v), err))
		}
	}
	return errors.Join(errs...)
}

func (g *Gate) client(ctx context.Context, mr *metricRun, namespace string) (querier, error) {
	if mr.client != nil {
		return mr.client, nil
	}
	p := mr.metric.Provider.Datadog
	keys, err := g.datadogKeys(ctx, p, namespace)
	if err != nil {
		return nil, err
	}
	window, _ := duration("interval", p.Interval)
	return datadog.New(keys, p.Query, p.APIVersion, window, g.opts.Clock)
}

func (g *Gate) datadogKeys(ctx context.Context, p *DatadogProvider, namespace string) (datadog.Keys, error) {
	if p.SecretRef == nil {
		return datadog.Keys{APIKey: g.opts.Getenv("DD_API_KEY"), AppKey: g.opts.Getenv("DD_APP_KEY"), Address: g.opts.Getenv("DD_ADDRESS")}, nil
	}
	if g.opts.SecretData == nil {
		return datadog.Keys{}, errors.New("provider.datadog.secretRef cannot be read here")
	}
	data, err := g.opts.SecretData(ctx, namespace, p.SecretRef.Name)
	if err != nil {
		return datadog.Keys{}, fmt.Errorf("reading Datadog keys from Secret %s/%s: %w", namespace, p.SecretRef.Name, err)
	}
	return datadog.Keys{APIKey: string(data["api-key"]), AppKey: string(data["app-key"]), Address: string(data["address"])}, nil
}

// Run measures every metric as the analysis says, from now, and returns the verdict.
func (g *Gate) Run(ctx context.Context, step gate.Step) gate.Verdict {
	start := g.opts.Clock.Now()
	w := Window{Start: start}
	if g.opts.Duration > 0 {
		w.End = start.Add(g.opts.Duration)
	}
	return g.Evaluate(ctx, step, w).Verdict(g.Name())
}

// Window bounds an evaluation. Measurements start at Start plus each metric's
// initialDelay (Start may be in the past, for a resumed watch; missed measurements
// are not made up). Metrics without a count measure until End; with End zero they take
// one measurement. Every metric takes at least one measurement.
type Window struct {
	Start, End time.Time
}

// Result is how an evaluation ended.
type Result struct {
	Phase   gate.Phase
	Message string
	Metrics []MetricResult
	// Interrupted is set when the caller's context ended the evaluation.
	Interrupted bool
}

// Evaluate runs every metric concurrently within w. The first metric that ends other
// than Successful stops the others (the verdict can no longer be Successful).
func (g *Gate) Evaluate(ctx context.Context, step gate.Step, w Window) Result {
	inner, stop := context.WithCancel(ctx)
	defer stop()
	results := make([]MetricResult, len(g.metrics))
	var wg sync.WaitGroup
	for i, mr := range g.metrics {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = g.runMetric(inner, mr, step.Namespace, w)
			if results[i].Phase != gate.Successful {
				stop()
			}
		}()
	}
	wg.Wait()
	res := Result{Phase: gate.Successful, Metrics: results}
	if ctx.Err() != nil {
		res.Phase, res.Interrupted = gate.Error, true
		res.Message = "analysis interrupted: " + ctx.Err().Error()
		return res
	}
	var msgs []string
	for _, r := range results {
		if r.Phase == "" {
			continue
		}
		if worse(res.Phase, r.Phase) {
			res.Phase = r.Phase
		}
		if r.Phase != gate.Successful {
			msgs = append(msgs, r.describe())
		}
	}
	res.Message = strings.Join(msgs, "; ")
	if res.Phase == gate.Successful {
		res.Message = fmt.Sprintf("%d metric(s) successful", len(results))
	}
	return res
}

func (r MetricResult) describe() string {
	s := fmt.Sprintf("metric %q %s: %s", r.Name, r.Phase, r.Message)
	if n := len(r.Last); n > 0 {
		last := r.Last[n-1]
		s += fmt.Sprintf("; last value %s (%s)", last.Value, last.Message)
	}
	return s
}

// runMetric is Argo Rollouts' measurement loop for one metric.
func (g *Gate) runMetric(ctx context.Context, mr *metricRun, namespace string, w Window) MetricResult {
	res := MetricResult{Name: mr.metric.Name}
	s := mr.settings
	next := w.Start.Add(s.initialDelay)
	for {
		if err := g.sleepUntil(ctx, next); err != nil {
			res.Phase, res.Message = g.stopped(res, s)
			return res
		}
		m := g.measure(ctx, mr, namespace, res.Successful+res.Failed+res.Inconclusive+res.Errors+1)
		if ctx.Err() != nil {
			res.Phase, res.Message = g.stopped(res, s)
			return res
		}
		res.add(m)
		if g.opts.OnMeasurement != nil {
			g.opts.OnMeasurement(m)
		}
		if phase, msg := res.limitsExceeded(s); phase != "" {
			res.Phase, res.Message = phase, msg
			return res
		}
		if s.count > 0 && res.Count >= s.count {
			res.Phase, res.Message = gate.Successful, fmt.Sprintf("count (%d) reached", s.count)
			return res
		}
		if s.interval == 0 {
			if m.Phase == gate.Error {
				// Retry errors right away would hammer the provider; wait a second.
				next = g.opts.Clock.Now().Add(time.Second)
				continue
			}
			res.Phase, res.Message = gate.Successful, "measured once"
			return res
		}
		next = next.Add(s.interval)
		if now := g.opts.Clock.Now(); next.Before(now) {
			// Behind (a resumed window, or a slow provider): missed measurements are
			// not made up; the next one is an interval from now.
			next = now.Add(s.interval)
		}
		if (s.count == 0 && w.End.IsZero()) || (!w.End.IsZero() && next.After(w.End)) {
			res.Phase, res.Message = gate.Successful, "window ended"
			return res
		}
	}
}

// stopped is the phase of a metric whose run was cut short: as in Argo, a terminated
// metric that exceeded no limit is Successful.
func (g *Gate) stopped(res MetricResult, s settings) (gate.Phase, string) {
	if phase, msg := res.limitsExceeded(s); phase != "" {
		return phase, msg
	}
	return gate.Successful, fmt.Sprintf("stopped after %d measurement(s)", len(res.Last))
}

func (g *Gate) sleepUntil(ctx context.Context, t time.Time) error {
	d := t.Sub(g.opts.Clock.Now())
	if d <= 0 {
		return ctx.Err()
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-g.opts.Clock.After(d):
		return nil
	}
}

func (g *Gate) measure(ctx context.Context, mr *metricRun, namespace string, index int) Measurement {
	m := Measurement{Metric: mr.metric.Name, Index: index, At: g.opts.Clock.Now()}
	q, err := g.client(ctx, mr, namespace)
	if err != nil {
		m.Phase, m.Value, m.Message = gate.Error, "-", err.Error()
		return m
	}
	v, err := q.Query(ctx)
	if err != nil {
		m.Phase, m.Value, m.Message = gate.Error, "-", err.Error()
		return m
	}
	if noData(v) {
		m.Phase, m.Value = gate.Inconclusive, "no data"
		m.Message = "the query returned no data (an empty result is inconclusive, never a pass)"
		return m
	}
	m.Value = formatValue(v)
	phase, detail, err := assess(mr.success, mr.failure, v)
	if err != nil {
		m.Phase, m.Message = gate.Error, err.Error()
		return m
	}
	m.Phase, m.Message = phase, detail
	return m
}

// Verdict turns the result into a gate verdict, with the last measurements of every
// metric as its measurements.
func (r Result) Verdict(name string) gate.Verdict {
	v := gate.Verdict{Gate: name, Phase: r.Phase, Message: r.Message}
	for _, mr := range r.Metrics {
		for _, m := range mr.Last {
			v.Measurements = append(v.Measurements, gate.Measurement{
				Name: m.Metric, Value: m.Value, At: m.At, Phase: m.Phase, Detail: m.Message,
			})
		}
	}
	return v
}
