package retention

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

var now = time.Date(2025, 8, 1, 12, 0, 0, 0, time.UTC)

func ver(ns string, daysAgo int) Version {
	t := now.Add(-time.Duration(daysAgo) * Day)
	return Version{Namespace: ns, Name: fmt.Sprintf("auth-%s", t.Format("20060102150405")), Time: t, CreationTimestamp: t}
}

func replaced(v Version, daysAgo int) Version {
	t := now.Add(-time.Duration(daysAgo) * Day)
	v.ReplacedAt = &t
	return v
}

func restored(v Version, daysAgo int) Version {
	v.CreationTimestamp = now.Add(-time.Duration(daysAgo) * Day)
	return v
}

func untrusted(v Version) Version { v.Untrusted = true; return v }

func TestSelect(t *testing.T) {
	tests := []struct {
		name     string
		policy   Policy
		versions []Version
		// want lists "daysAgo:outcome-or-candidate:source" per version in output order.
		want string
	}{
		{"the newest two are kept however old", Policy{Retain: 14 * Day, Keep: 2},
			[]Version{ver("a", 100), ver("a", 90), ver("a", 80)},
			"80:kept: newest:created 90:kept: newest:created 100:candidate:created"},
		{"versions younger than the retention are kept", Policy{Retain: 14 * Day, Keep: 1},
			[]Version{ver("a", 1), ver("a", 10), ver("a", 20)},
			"1:kept: newest:created 10:kept: retention:created 20:candidate:created"},
		{"a version replaced recently is kept although created long ago", Policy{Retain: 14 * Day, Keep: 1},
			[]Version{ver("a", 1), replaced(ver("a", 60), 3)},
			"1:kept: newest:created 60:kept: retention:replaced"},
		{"a version replaced long ago is a candidate, its clock from the record", Policy{Retain: 14 * Day, Keep: 1},
			[]Version{ver("a", 1), replaced(ver("a", 60), 30)},
			"1:kept: newest:created 60:candidate:replaced"},
		{"a version stored recently under an old name counts from its creation", Policy{Retain: 14 * Day, Keep: 1},
			[]Version{ver("a", 1), restored(ver("a", 60), 2)},
			"1:kept: newest:created 60:kept: retention:created"},
		{"keep counts per namespace", Policy{Retain: 14 * Day, Keep: 1},
			[]Version{ver("b", 50), ver("a", 40), ver("a", 50)},
			"40:kept: newest:created 50:candidate:created 50:kept: newest:created"},
		{"keep zero and retention zero make every version but the newest a candidate", Policy{},
			[]Version{ver("a", 0), ver("a", 1), ver("a", 2)},
			"0:kept: newest:created 1:candidate:created 2:candidate:created"},
		{"keep zero never makes the only version a candidate", Policy{},
			[]Version{ver("a", 30)},
			"30:kept: newest:created"},
		{"an untrusted look-alike is kept and does not count among the newest", Policy{Retain: Day, Keep: 1},
			[]Version{untrusted(ver("a", 0)), ver("a", 10), ver("a", 20)},
			"0:kept: untrusted:created 10:kept: newest:created 20:candidate:created"},
		{"exactly the retention age is old enough", Policy{Retain: 14 * Day},
			[]Version{ver("a", 1), ver("a", 14)},
			"1:kept: newest:created 14:candidate:created"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, s := range Select(tt.policy, now, tt.versions) {
				state := "candidate"
				if !s.Candidate {
					state = string(s.Outcome)
				}
				got = append(got, fmt.Sprintf("%d:%s:%s", int(now.Sub(s.Version.Time)/Day), state, s.ClockSource))
				if want := s.ClockStart.Add(tt.policy.Retain); !s.EligibleAt.Equal(want) {
					t.Errorf("EligibleAt = %v; want %v", s.EligibleAt, want)
				}
			}
			if g := strings.Join(got, " "); g != tt.want {
				t.Fatalf("got  %s\nwant %s", g, tt.want)
			}
		})
	}
}
