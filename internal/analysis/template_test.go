package analysis

import (
	"strings"
	"testing"
)

const argoTemplate = `apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: error-rate
spec:
  args:
  - name: service
  - name: threshold
    value: "5"
  metrics:
  - name: error-rate
    interval: 30s
    count: 4
    failureLimit: 1
    successCondition: result[0] < {{args.threshold}}
    provider:
      prometheus:
        address: http://prometheus.monitoring:9090
        query: sum(rate(http_requests_total{service="{{args.service}}",code="500",secret="{{ args.version }}"}[5m]))
`

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		doc     string
		args    map[string]string
		wantErr string
		check   func(t *testing.T, tm *Template)
	}{
		{
			name: "an Argo AnalysisTemplate is accepted as is and its args are filled",
			doc:  argoTemplate,
			args: map[string]string{"service": "api", "version": "auth-20250101000000"},
			check: func(t *testing.T, tm *Template) {
				m := tm.Metrics[0]
				if m.SuccessCondition != "result[0] < 5" {
					t.Errorf("condition = %q", m.SuccessCondition)
				}
				if q := m.Provider.Prometheus.Query; !strings.Contains(q, `service="api"`) || !strings.Contains(q, `secret="auth-20250101000000"`) {
					t.Errorf("query = %q", q)
				}
			},
		},
		{
			name: "a --arg overrides a default declared in spec.args",
			doc:  argoTemplate,
			args: map[string]string{"service": "api", "threshold": "0.5", "version": "v"},
			check: func(t *testing.T, tm *Template) {
				if got := tm.Metrics[0].SuccessCondition; got != "result[0] < 0.5" {
					t.Errorf("condition = %q", got)
				}
			},
		},
		{
			name:    "a declared arg without a value or a --arg is refused with the flag to pass",
			doc:     argoTemplate,
			args:    map[string]string{"version": "v"},
			wantErr: "argument service has no value: pass --arg service=VALUE",
		},
		{
			name:    "an undeclared placeholder without a value is refused",
			doc:     argoTemplate,
			args:    map[string]string{"service": "api"},
			wantErr: "{{ args.version }} has no value",
		},
		{
			name: "a bare metrics list without kind is accepted",
			doc:  "metrics:\n- name: up\n  provider:\n    web:\n      url: http://127.0.0.1:1/x\n      jsonPath: '{$.ok}'\n",
			check: func(t *testing.T, tm *Template) {
				if tm.Metrics[0].Provider.Web.JSONPath != "{$.ok}" {
					t.Errorf("jsonPath = %q", tm.Metrics[0].Provider.Web.JSONPath)
				}
			},
		},
		{
			name: "rotor's own kind Analysis with the same spec is accepted",
			doc:  "apiVersion: rotor.dev/v1alpha1\nkind: Analysis\nspec:\n  metrics:\n  - name: dd\n    provider:\n      datadog:\n        apiVersion: v2\n        query: avg:errors{*}\n",
		},
		{
			name:    "another kind is refused and the accepted kinds are named",
			doc:     "apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nspec:\n  metrics: []\n",
			wantErr: `kind "Rollout" is not an analysis definition`,
		},
		{
			name:    "a template without metrics is refused",
			doc:     "kind: AnalysisTemplate\nspec:\n  metrics: []\n",
			wantErr: "no metrics",
		},
		{
			name:    "an unknown field is refused instead of ignored",
			doc:     "metrics:\n- name: x\n  intervall: 5s\n  provider:\n    web: {url: 'http://a/b'}\n",
			wantErr: "unknown field",
		},
		{
			name:    "a provider rotor does not support is refused",
			doc:     "metrics:\n- name: x\n  provider: {}\n",
			wantErr: "exactly one of prometheus, datadog or web",
		},
		{
			name:    "two providers in one metric are refused",
			doc:     "metrics:\n- name: x\n  provider:\n    web: {url: 'http://a/b'}\n    datadog: {query: q}\n",
			wantErr: "exactly one of",
		},
		{
			name:    "an interval that is not a duration is refused with an example",
			doc:     "metrics:\n- name: x\n  interval: often\n  provider:\n    web: {url: 'http://a/b'}\n",
			wantErr: `interval "often" is not a duration`,
		},
		{
			name:    "a count above one without an interval is refused",
			doc:     "metrics:\n- name: x\n  count: 3\n  provider:\n    web: {url: 'http://a/b'}\n",
			wantErr: "no interval is set",
		},
		{
			name:    "a count given as an arg must be a whole number",
			doc:     "metrics:\n- name: x\n  interval: 1s\n  count: '{{args.n}}'\n  provider:\n    web: {url: 'http://a/b'}\n",
			args:    map[string]string{"n": "three"},
			wantErr: `count "three" is not a whole number`,
		},
		{
			name:    "two metrics with the same name are refused",
			doc:     "metrics:\n- name: x\n  provider: {web: {url: 'http://a/b'}}\n- name: x\n  provider: {web: {url: 'http://a/c'}}\n",
			wantErr: `two metrics are named "x"`,
		},
		{
			name:    "a prometheus address that is not a URL is refused without echoing credentials",
			doc:     "metrics:\n- name: x\n  provider:\n    prometheus: {address: 'prometheus:9090', query: up}\n",
			wantErr: "is not an http(s) URL",
		},
		{
			name:    "a placeholder other than args is refused",
			doc:     "metrics:\n- name: x\n  provider:\n    web: {url: 'http://a/{{secrets.token}}'}\n",
			wantErr: "only {{args.NAME}} is",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tm, err := Parse([]byte(tt.doc), tt.args)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.check != nil {
				tt.check(t, tm)
			}
		})
	}
}

func TestMergeArgs(t *testing.T) {
	tests := []struct {
		name    string
		user    map[string]string
		want    map[string]string
		wantErr string
	}{
		{"the rotation's facts are added to the user's args", map[string]string{"service": "api"},
			map[string]string{"service": "api", "family": "auth", "version": "auth-20250101000000", "namespace": "pay"}, ""},
		{"a user arg repeating a fact with the same value is fine", map[string]string{"family": "auth"},
			map[string]string{"family": "auth", "version": "auth-20250101000000", "namespace": "pay"}, ""},
		{"a user arg contradicting a fact is refused, its value not quoted", map[string]string{"namespace": "CANARY-prod"}, nil, "conflicts with the rotation's namespace"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := MergeArgs(tt.user, Facts{Family: "auth", Version: "auth-20250101000000", Namespace: "pay"})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "CANARY") {
					t.Fatalf("the error quotes a value: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
		})
	}
}

func TestParseArgs(t *testing.T) {
	tests := []struct {
		name    string
		pairs   []string
		wantErr string
	}{
		{"NAME=VALUE pairs are read, and a value may contain '='", []string{"a=1", "q=x=y"}, ""},
		{"a pair without '=' is refused by position, not quoted", []string{"a=1", "CANARY-token"}, "--arg #2 has no NAME= part"},
		{"a pair whose name is not a name is refused by position", []string{"CANARY+token/x==padding=1"}, "--arg #1: the name is not valid"},
		{"the same name twice is refused", []string{"a=1", "a=2"}, "given twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseArgs(tt.pairs)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "CANARY") {
					t.Fatalf("the error quotes a value: %v", err)
				}
				return
			}
			if err != nil || got["q"] != "x=y" || got["a"] != "1" {
				t.Fatalf("got %v, %v", got, err)
			}
		})
	}
}
