package runbook

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/internal/config"
	"github.com/rotor-project/rotor/internal/promotion"
)

// policy is production's policy in a rotor.yaml with the given production lines.
func policy(t *testing.T, production string) config.Policy {
	t.Helper()
	doc := "apiVersion: rotor.dev/v1alpha1\nkind: Config\nenvironments:\n- name: staging\n  namespaces: [stg]\n  soak: 1h\n- name: production\n  namespaces: [prd]\n  requires: [staging]\n" + production
	c, err := config.Parse("rotor.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.Policy("production", "app")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func mt(s string) *metav1.Time { t := metav1.NewTime(at(s)); return &t }

func TestTheRunbookDatesTheRotationAndItsCleanupFromNowOrTheWindow(t *testing.T) {
	const bluegreen = "  strategy: {type: bluegreen, steps: [50, 100], pause: 5m}\n  retention: {retain: 14d, keep: 3}\n"
	tests := []struct {
		name       string
		production string
		now        string
		soakEnds   string
		want       []string
	}{
		{
			name:       "a window open now starts the rotation now, not at the window's opening",
			production: bluegreen + "  windows:\n  - {start: \"08:00\", end: \"18:00\", timeZone: UTC}\n",
			now:        "2025-07-23T11:00:00Z",
			want: []string{
				"The rotation may start 2025-07-23T11:00:00Z and should finish before 2025-07-23T18:00:00Z",
				// 10 minutes of pauses, then 14 days.
				"deleted by cleanup from 2025-08-06T11:10:00Z at the earliest",
			},
		},
		{
			name:       "a window that opens later starts the rotation at its opening",
			production: bluegreen + "  windows:\n  - {start: \"20:00\", end: \"22:00\", timeZone: UTC}\n",
			now:        "2025-07-23T11:00:00Z",
			want: []string{
				"The rotation may start 2025-07-23T20:00:00Z and should finish before 2025-07-23T22:00:00Z",
				"deleted by cleanup from 2025-08-06T20:10:00Z at the earliest",
			},
		},
		{
			name:       "a soak that ends inside an open window starts the rotation at the soak's end",
			production: bluegreen + "  windows:\n  - {start: \"08:00\", end: \"18:00\", timeZone: UTC}\n",
			now:        "2025-07-23T11:00:00Z",
			soakEnds:   "2025-07-23T12:30:00Z",
			want:       []string{"The rotation may start 2025-07-23T12:30:00Z and should finish before 2025-07-23T18:00:00Z"},
		},
		{
			name:       "the cleanup command keeps what the environment's retention keeps",
			production: bluegreen,
			now:        "2025-07-23T11:00:00Z",
			want:       []string{"`rotor cleanup app -n prd --retain 14d --keep 3 --dry-run`"},
		},
		{
			name:       "a short retention is written as the flag takes it",
			production: "  retention: {retain: 90m, keep: 1}\n",
			now:        "2025-07-23T11:00:00Z",
			want:       []string{"`rotor cleanup app -n prd --retain 1h30m --keep 1 --dry-run`"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gate := &promotion.Decision{}
			if tt.soakEnds != "" {
				gate.SoakEnds = at(tt.soakEnds)
				gate.Unmet = []promotion.Unmet{{Environment: "staging", Reason: "the soak has not ended", SoakEnds: at(tt.soakEnds)}}
			}
			out := Render(Input{Family: "app", Environment: "production", Now: at(tt.now), Policy: policy(t, tt.production), Gate: gate,
				Scopes: []Scope{{Namespace: "prd", InUse: []string{"app-20250701000000"}, Latest: "app-20250701000000"}}, Timeout: time.Hour})
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("the runbook lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

func TestARequiredRotationSaysWhetherItsSoakEndedOrWhenItEnds(t *testing.T) {
	tests := []struct {
		name string
		now  string
		want string
	}{
		{"a soak that has ended is ticked: soaked until", "2025-07-23T13:00:00Z", "- [x] staging: rotation `r1` in namespace `stg` (ID `staging-1`) finished 2025-07-23T11:00:00Z, soaked until 2025-07-23T12:00:00Z."},
		{"a soak still running is not: its soak ends", "2025-07-23T11:30:00Z", "- [ ] staging: rotation `r1` in namespace `stg` (ID `staging-1`) finished 2025-07-23T11:00:00Z, its soak ends 2025-07-23T12:00:00Z."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gate := &promotion.Decision{Links: []v1alpha1.RotationLink{{Environment: "staging", Namespace: "stg", Name: "r1", Run: "staging-1",
				Finished: mt("2025-07-23T11:00:00Z"), SoakEnded: mt("2025-07-23T12:00:00Z")}}}
			out := Render(Input{Family: "app", Environment: "production", Now: at(tt.now), Policy: policy(t, ""), Gate: gate,
				Scopes: []Scope{{Namespace: "prd"}}, Timeout: time.Hour})
			if !strings.Contains(out, tt.want) {
				t.Errorf("the runbook lacks %q:\n%s", tt.want, out)
			}
		})
	}
}
