package due

import (
	"testing"
	"time"
)

func TestOf(t *testing.T) {
	day := 24 * time.Hour
	now := time.Date(2025, 9, 1, 0, 0, 0, 0, time.UTC)
	old := Version{Name: "app-20250701000000", Created: now.Add(-62 * day)}
	mid := Version{Name: "app-20250801000000", Created: now.Add(-31 * day)}
	fresh := Version{Name: "app-20250825000000", Created: now.Add(-7 * day)}
	withPolicy := func(v Version, d time.Duration) Version { v.RotateAfter = d; return v }
	used := func(v Version) Version { v.InUse = true; return v }
	cases := []struct {
		name       string
		versions   []Version
		configured time.Duration
		ok         bool
		current    string
		due        bool
		source     string
	}{
		{"a family without a period is never due", []Version{old}, 0, false, old.Name, false, ""},
		{"the newest version counts when usage is unknown", []Version{withPolicy(old, 30*day), fresh}, 0, false, fresh.Name, false, SourceAnnotation},
		{"the newest version in use counts when a newer one is not rolled out", []Version{withPolicy(used(mid), 30*day), fresh}, 0, false, mid.Name, true, SourceAnnotation},
		{"the newest annotated version speaks for the family", []Version{withPolicy(old, 90*day), withPolicy(used(mid), 30*day)}, 0, false, mid.Name, true, SourceAnnotation},
		{"configuration wins over annotations", []Version{withPolicy(used(mid), 30*day)}, 60 * day, true, mid.Name, false, SourceConfig},
		{"a version exactly at its period is not yet due", []Version{withPolicy(used(mid), 31*day)}, 0, false, mid.Name, false, SourceAnnotation},
		{"no versions, no status", nil, 30 * day, true, "", false, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := Of(c.versions, now, c.configured, c.ok)
			if s.Current != c.current || s.Due != c.due || s.Source != c.source {
				t.Fatalf("got current %q due %v source %q, want %q %v %q", s.Current, s.Due, s.Source, c.current, c.due, c.source)
			}
		})
	}
}
