package cli

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/internal/config"
)

func TestTheEligibleEntryGivesTheCleanupCommandOfThePolicy(t *testing.T) {
	c, err := config.Parse("rotor.yaml", []byte("apiVersion: rotor.dev/v1alpha1\nkind: Config\nenvironments:\n- name: production\n  namespaces: [prd]\n  retention: {retain: 14d, keep: 3}\n"))
	if err != nil {
		t.Fatal(err)
	}
	pol, err := c.Policy("production", "app")
	if err != nil {
		t.Fatal(err)
	}
	finished := metav1.NewTime(time.Date(2025, 7, 23, 11, 0, 0, 0, time.UTC))
	rot := func(from string) *v1alpha1.SecretRotation {
		r := &v1alpha1.SecretRotation{ObjectMeta: metav1.ObjectMeta{Name: "r1", Namespace: "prd"}}
		r.Status.Finished = &finished
		r.Status.Consumers = []v1alpha1.ConsumerStatus{{Kind: "Deployment", Name: "api", From: from, To: "app-20250723110000"}}
		return r
	}
	tests := []struct {
		name    string
		from    string
		context string
		at      time.Time
		detail  string
	}{
		{"a replaced version may go after the retention, by the command that keeps what the policy keeps", "app-20250701000000", "",
			finished.Add(14 * 24 * time.Hour),
			"cleanup may delete app-20250701000000 from then (retain 14d from this rotation's finish; the newest 3 are always kept): rotor cleanup app -n prd --retain 14d --keep 3"},
		{"in another cluster the command names its context", "app-20250701000000", "prod-eu",
			finished.Add(14 * 24 * time.Hour),
			"cleanup may delete app-20250701000000 from then (retain 14d from this rotation's finish; the newest 3 are always kept): rotor cleanup app -n prd --context prod-eu --retain 14d --keep 3"},
		{"an adoption replaced the unversioned Secret, which cleanup never deletes", "app", "",
			finished.Time,
			"the unversioned Secret app is not a version: cleanup never deletes it; delete it yourself once nothing names it (rotor refs app -n prd)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := eligibleEntry(rot(tt.from), "app", pol, tt.context)
			if e.Name != checkEligible || !e.At.Time.Equal(tt.at) || e.Detail != tt.detail {
				t.Fatalf("entry %s at %s: %q\nwant at %s: %q", e.Name, e.At.UTC(), e.Detail, tt.at.UTC(), tt.detail)
			}
		})
	}
}
