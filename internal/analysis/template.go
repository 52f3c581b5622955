// Package analysis gates a rotation on metrics. An analysis definition reuses Argo
// Rollouts' AnalysisTemplate metric schema (metrics[] with interval, initialDelay,
// count, successCondition, failureCondition, failureLimit, inconclusiveLimit,
// consecutiveErrorLimit, and the prometheus, datadog and web providers), so what users
// already wrote for Argo works here. Conditions are expressions evaluated by
// github.com/expr-lang/expr, as Argo does; "no data" (an empty vector or no match) is
// inconclusive, never a pass. The measurement loop follows Argo's semantics, and the
// result is exposed as a gate.Gate that also validates its queries up front.
package analysis

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/rotor-project/rotor/internal/boundedyaml"
)

// Template is a loaded analysis definition with every {{args.NAME}} filled in.
type Template struct {
	// Source is where the definition came from (a file path), for messages.
	Source  string
	Metrics []Metric
}

// Metric is one metric of an analysis, in Argo Rollouts' schema.
type Metric struct {
	Name                  string              `json:"name"`
	Interval              string              `json:"interval,omitempty"`
	InitialDelay          string              `json:"initialDelay,omitempty"`
	Count                 *intstr.IntOrString `json:"count,omitempty"`
	SuccessCondition      string              `json:"successCondition,omitempty"`
	FailureCondition      string              `json:"failureCondition,omitempty"`
	FailureLimit          *intstr.IntOrString `json:"failureLimit,omitempty"`
	InconclusiveLimit     *intstr.IntOrString `json:"inconclusiveLimit,omitempty"`
	ConsecutiveErrorLimit *intstr.IntOrString `json:"consecutiveErrorLimit,omitempty"`
	Provider              Provider            `json:"provider"`
}

// Provider says where a metric's value comes from; exactly one is set.
type Provider struct {
	Prometheus *PrometheusProvider `json:"prometheus,omitempty"`
	Datadog    *DatadogProvider    `json:"datadog,omitempty"`
	Web        *WebProvider        `json:"web,omitempty"`
}

// PrometheusProvider queries a Prometheus server with an instant query.
type PrometheusProvider struct {
	Address string `json:"address"`
	Query   string `json:"query"`
	// Timeout is the query timeout in seconds.
	Timeout *int64 `json:"timeout,omitempty"`
}

// DatadogProvider queries Datadog's v1 or v2 metrics API. Keys come from the
// environment (DD_API_KEY, DD_APP_KEY, DD_ADDRESS) or from the Secret SecretRef names
// (keys api-key, app-key, address) in the rotation's namespace; never from the file.
type DatadogProvider struct {
	Query      string `json:"query"`
	APIVersion string `json:"apiVersion,omitempty"`
	// Interval is the query window ending now (default 5m).
	Interval  string            `json:"interval,omitempty"`
	SecretRef *DatadogSecretRef `json:"secretRef,omitempty"`
}

// DatadogSecretRef names a Secret holding Datadog keys.
type DatadogSecretRef struct {
	Name string `json:"name"`
}

// WebProvider reads a JSON endpoint and picks a value with a JSONPath expression.
type WebProvider struct {
	URL            string      `json:"url"`
	Method         string      `json:"method,omitempty"`
	JSONPath       string      `json:"jsonPath,omitempty"`
	Headers        []WebHeader `json:"headers,omitempty"`
	TimeoutSeconds int64       `json:"timeoutSeconds,omitempty"`
}

// WebHeader is one request header.
type WebHeader struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Arg is a declared argument with an optional default.
type Arg struct {
	Name  string  `json:"name"`
	Value *string `json:"value,omitempty"`
}

type spec struct {
	Args    []Arg    `json:"args,omitempty"`
	Metrics []Metric `json:"metrics"`
}

// document is what a file may hold: an Argo AnalysisTemplate or
// ClusterAnalysisTemplate, rotor's own kind Analysis (same spec), or a bare spec.
type document struct {
	APIVersion string         `json:"apiVersion,omitempty"`
	Kind       string         `json:"kind,omitempty"`
	Metadata   map[string]any `json:"metadata,omitempty"`
	Spec       *spec          `json:"spec,omitempty"`
	Args       []Arg          `json:"args,omitempty"`
	Metrics    []Metric       `json:"metrics,omitempty"`
}

// Load reads an analysis definition from path and fills {{args.NAME}} from args (which
// take precedence over defaults declared in spec.args). The file is read through the
// bounded reader: at most 1 MiB, no alias cycles or fan-out.
func Load(ctx context.Context, path string, args map[string]string) (*Template, error) {
	b, err := boundedyaml.ReadFile(ctx, path, boundedyaml.Defaults)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("analysis file %w", err)
	}
	t, err := parse(path, b, args)
	if err != nil {
		var be *boundedyaml.Error
		if errors.As(err, &be) {
			return nil, fmt.Errorf("analysis file %w", err)
		}
		return nil, fmt.Errorf("analysis file %s: %w", path, err)
	}
	t.Source = path
	return t, nil
}

// Parse reads an analysis definition from YAML or JSON and fills its arguments.
func Parse(data []byte, args map[string]string) (*Template, error) {
	return parse("the analysis", data, args)
}

func parse(name string, data []byte, args map[string]string) (*Template, error) {
	var doc document
	if err := boundedyaml.UnmarshalStrict(name, data, boundedyaml.Defaults, &doc); err != nil {
		var be *boundedyaml.Error
		if errors.As(err, &be) && be.Err == nil {
			return nil, err // a refusal of size or shape
		}
		return nil, fmt.Errorf("%w (the file must be an AnalysisTemplate: spec.metrics[] in Argo Rollouts' schema)", err)
	}
	s, err := doc.spec()
	if err != nil {
		return nil, err
	}
	values, err := resolveArgs(s.Args, args)
	if err != nil {
		return nil, err
	}
	if len(s.Metrics) == 0 {
		return nil, errors.New("no metrics: add at least one entry under spec.metrics")
	}
	t := &Template{}
	seen := map[string]bool{}
	for i, m := range s.Metrics {
		if err := substituteMetric(&m, values); err != nil {
			return nil, fmt.Errorf("metric %q: %w", m.Name, err)
		}
		if m.Name == "" {
			return nil, fmt.Errorf("metrics[%d] has no name", i)
		}
		if seen[m.Name] {
			return nil, fmt.Errorf("two metrics are named %q: names must be unique", m.Name)
		}
		seen[m.Name] = true
		if _, err := settingsOf(m); err != nil {
			return nil, fmt.Errorf("metric %q: %w", m.Name, err)
		}
		t.Metrics = append(t.Metrics, m)
	}
	return t, nil
}

func (d *document) spec() (*spec, error) {
	switch {
	case d.Kind == "" && d.Spec == nil:
		return &spec{Args: d.Args, Metrics: d.Metrics}, nil
	case d.Kind == "AnalysisTemplate" || d.Kind == "ClusterAnalysisTemplate":
		if d.APIVersion != "" && !strings.HasPrefix(d.APIVersion, "argoproj.io/") {
			return nil, fmt.Errorf("kind %s with apiVersion %q: expected argoproj.io/v1alpha1", d.Kind, d.APIVersion)
		}
	case d.Kind == "Analysis":
		if d.APIVersion != "" && !strings.HasPrefix(d.APIVersion, "rotor.dev/") {
			return nil, fmt.Errorf("kind Analysis with apiVersion %q: expected rotor.dev/v1alpha1", d.APIVersion)
		}
	case d.Kind != "":
		return nil, fmt.Errorf("kind %q is not an analysis definition: use kind AnalysisTemplate (Argo Rollouts) or Analysis (rotor.dev/v1alpha1)", d.Kind)
	}
	if d.Spec == nil {
		return nil, errors.New("no spec: an AnalysisTemplate keeps its metrics under spec.metrics")
	}
	if len(d.Args) > 0 || len(d.Metrics) > 0 {
		return nil, errors.New("args and metrics belong under spec, not at the top level")
	}
	return d.Spec, nil
}

// Digest identifies the filled-in definition: two templates with the same digest
// measure the same things in the same way.
func (t *Template) Digest() string {
	b, _ := json.Marshal(t.Metrics)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

var placeholder = regexp.MustCompile(`\{\{\s*([^{}]*?)\s*\}\}`)

func resolveArgs(declared []Arg, given map[string]string) (map[string]string, error) {
	values := map[string]string{}
	for _, a := range declared {
		if a.Name == "" {
			return nil, errors.New("spec.args has an entry without a name")
		}
		if a.Value != nil {
			values[a.Name] = *a.Value
		}
	}
	for k, v := range given {
		values[k] = v
	}
	var missing []string
	for _, a := range declared {
		if _, ok := values[a.Name]; !ok {
			missing = append(missing, a.Name)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, fmt.Errorf("argument %s has no value: pass --arg %s=VALUE", strings.Join(missing, ", "), missing[0])
	}
	return values, nil
}

// substitute fills {{args.NAME}} placeholders in s.
func substitute(s string, values map[string]string) (string, error) {
	var err error
	out := placeholder.ReplaceAllStringFunc(s, func(m string) string {
		expr := strings.TrimSpace(placeholder.FindStringSubmatch(m)[1])
		name, ok := strings.CutPrefix(expr, "args.")
		if !ok {
			if err == nil {
				err = fmt.Errorf("placeholder %s is not supported: only {{args.NAME}} is", m)
			}
			return m
		}
		v, ok := values[name]
		if !ok {
			if err == nil {
				err = fmt.Errorf("%s has no value: pass --arg %s=VALUE or declare it with a value under spec.args", m, name)
			}
			return m
		}
		return v
	})
	return out, err
}

func substituteMetric(m *Metric, values map[string]string) error {
	fields := []*string{&m.Interval, &m.InitialDelay, &m.SuccessCondition, &m.FailureCondition}
	for _, is := range []*intstr.IntOrString{m.Count, m.FailureLimit, m.InconclusiveLimit, m.ConsecutiveErrorLimit} {
		if is != nil && is.Type == intstr.String {
			fields = append(fields, &is.StrVal)
		}
	}
	p := m.Provider
	if p.Prometheus != nil {
		fields = append(fields, &p.Prometheus.Address, &p.Prometheus.Query)
	}
	if p.Datadog != nil {
		fields = append(fields, &p.Datadog.Query, &p.Datadog.APIVersion, &p.Datadog.Interval)
		if p.Datadog.SecretRef != nil {
			fields = append(fields, &p.Datadog.SecretRef.Name)
		}
	}
	if p.Web != nil {
		fields = append(fields, &p.Web.URL, &p.Web.JSONPath, &p.Web.Method)
		for i := range p.Web.Headers {
			fields = append(fields, &p.Web.Headers[i].Key, &p.Web.Headers[i].Value)
		}
	}
	for _, f := range fields {
		v, err := substitute(*f, values)
		if err != nil {
			return err
		}
		*f = v
	}
	return nil
}
