package retention

import (
	"strings"
	"testing"
	"time"
)

func TestHoldForCronJob(t *testing.T) {
	repoint := time.Date(2025, 7, 2, 9, 30, 0, 0, time.UTC)
	tests := []struct {
		name     string
		schedule string
		zone     string
		retain   time.Duration
		interval time.Duration
		until    time.Time
		err      string
	}{
		{"a monthly job holds about two months (its longest month counted twice)", "0 3 1 * *", "", 14 * Day,
			31 * Day, repoint.Add(62 * Day), ""},
		{"the @monthly descriptor is the same schedule", "@monthly", "", 14 * Day,
			31 * Day, repoint.Add(62 * Day), ""},
		{"a daily job is held by the longer retention", "15 4 * * *", "", 14 * Day,
			Day, repoint.Add(14 * Day), ""},
		{"a weekly job holds two weeks when retention is shorter", "0 0 * * 1", "", 3 * Day,
			Week, repoint.Add(2 * Week), ""},
		{"a job in a time zone without a DST change keeps whole weeks", "0 2 * * 0", "Europe/Berlin", 0,
			Week, repoint.Add(2 * Week), ""},
		{"a CRON_TZ prefix is understood", "CRON_TZ=America/New_York 0 0 1 * *", "", 0,
			31 * Day, repoint.Add(62 * Day), ""},
		{"an unparsable schedule is an error", "every tuesday", "", 0, 0, time.Time{}, "cannot parse CronJob schedule"},
		{"an unknown time zone is an error", "0 0 * * *", "Mars/Olympus", 0, 0, time.Time{}, "unknown time zone"},
		{"a zone in both schedule and timeZone is an error", "TZ=UTC 0 0 * * *", "UTC", 0, 0, time.Time{}, "Kubernetes refuses both"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := HoldForCronJob(tt.schedule, tt.zone, repoint, tt.retain)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v; want it to contain %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if h.Interval != tt.interval || !h.Until.Equal(tt.until) {
				t.Fatalf("hold = %v until %v; want %v until %v", h.Interval, h.Until, tt.interval, tt.until)
			}
		})
	}
}

func TestHoldForCronJobDSTInterval(t *testing.T) {
	// Berlin leaves summer time on 26 October 2025: the weekly run that day is an hour
	// further from the one before, and that longest gap is what counts.
	repoint := time.Date(2025, 10, 18, 0, 0, 0, 0, time.UTC)
	h, err := HoldForCronJob("0 3 * * 0", "Europe/Berlin", repoint, 0)
	if err != nil {
		t.Fatal(err)
	}
	if want := Week + time.Hour; h.Interval != want {
		t.Fatalf("interval = %v; want %v", h.Interval, want)
	}
}
