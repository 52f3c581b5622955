package engine

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/internal/analysis"
)

func TestAnalysisGateFillsPrivateArguments(t *testing.T) {
	tmpl := `{"args":[{"name":"key"},{"name":"zone"}],"metrics":[{"name":"m","successCondition":"result == 0",` +
		`"provider":{"web":{"url":"http://127.0.0.1:1/{{args.zone}}","jsonPath":"{$.x}","headers":[{"key":"K","value":"{{args.key}}"}]}}}]}`
	rot := func(args ...v1alpha1.AnalysisArg) *v1alpha1.SecretRotation {
		return &v1alpha1.SecretRotation{
			ObjectMeta: metav1.ObjectMeta{Namespace: "ns"},
			Spec: v1alpha1.RotationSpec{Family: "app", Analysis: &v1alpha1.Analysis{
				Inline: &runtime.RawExtension{Raw: []byte(tmpl)}, Args: args}},
		}
	}
	tests := []struct {
		name    string
		args    []v1alpha1.AnalysisArg
		private map[string]string
		wantErr string
	}{
		{"a recorded argument and a private one given to the run make a gate",
			[]v1alpha1.AnalysisArg{{Name: "zone", Value: "eu"}, {Name: "key", Private: true}}, map[string]string{"key": "s3cret"}, ""},
		{"a private argument the run does not give again is refused, by name",
			[]v1alpha1.AnalysisArg{{Name: "zone", Value: "eu"}, {Name: "key", Private: true}}, nil, `analysis argument "key" was given privately`},
		{"a private value is never taken from the record",
			[]v1alpha1.AnalysisArg{{Name: "zone", Value: "eu"}, {Name: "key", Value: "stale", Private: true}}, nil, `analysis argument "key" was given privately`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := AnalysisGate(rot(tt.args...), analysis.Options{PrivateArgs: tt.private})
			if tt.wantErr == "" {
				if err != nil || g == nil {
					t.Fatalf("AnalysisGate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "stale") || strings.Contains(err.Error(), "s3cret") {
				t.Fatalf("the error quotes a value: %v", err)
			}
		})
	}
}
