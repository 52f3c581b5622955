package config

import (
	"testing"
	"time"
)

func window(t *testing.T, days []time.Weekday, start, end, tz string) Window {
	t.Helper()
	loc, err := loadLocation(tz)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := clockMinutes(start)
	e, _ := clockMinutes(end)
	return Window{Days: days, Start: s, End: e, TimeZone: tz, Location: loc}
}

func at(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestWindowsAreWallClockTimesInTheirZone(t *testing.T) {
	tuThu := []time.Weekday{time.Tuesday, time.Wednesday, time.Thursday}
	berlin := Schedule{window(t, tuThu, "02:00", "05:00", "Europe/Berlin")}
	nightly := Schedule{window(t, nil, "22:00", "02:00", "UTC")}
	tests := []struct {
		name      string
		s         Schedule
		now       string
		open      bool
		currentTo string // when open: when it closes
		nextFrom  string // when closed: when the next opens
	}{
		{"inside a summer window (CEST, UTC+2)", berlin, "2025-07-22T00:30:00Z", true, "2025-07-22T03:00:00Z", ""},
		{"just before a summer window", berlin, "2025-07-21T23:59:00Z", false, "", "2025-07-22T00:00:00Z"},
		{"the end is exclusive", berlin, "2025-07-22T03:00:00Z", false, "", "2025-07-23T00:00:00Z"},
		{"inside a winter window (CET, UTC+1)", berlin, "2025-01-14T01:00:00Z", true, "2025-01-14T04:00:00Z", ""},
		{"Friday waits for Tuesday", berlin, "2025-07-25T12:00:00Z", false, "", "2025-07-29T00:00:00Z"},
		{"the next window after the clocks went back is an hour later in UTC", berlin, "2025-10-26T12:00:00Z", false, "", "2025-10-28T01:00:00Z"},
		{"a window crossing midnight is open after midnight", nightly, "2025-07-22T01:00:00Z", true, "2025-07-22T02:00:00Z", ""},
		{"a window crossing midnight is open before midnight", nightly, "2025-07-22T23:00:00Z", true, "2025-07-23T02:00:00Z", ""},
		{"no windows: always open, never closing", nil, "2025-07-22T12:00:00Z", true, "0001-01-01T00:00:00Z", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := at(t, tt.now)
			if got := tt.s.Open(now); got != tt.open {
				t.Fatalf("Open = %v, want %v", got, tt.open)
			}
			cur, ok := tt.s.Current(now)
			if ok != tt.open {
				t.Fatalf("Current ok = %v", ok)
			}
			if tt.open && cur.End.UTC().Format(time.RFC3339) != tt.currentTo {
				t.Fatalf("closes at %s, want %s", cur.End.UTC().Format(time.RFC3339), tt.currentTo)
			}
			if !tt.open {
				if got := tt.s.Next(now).Start.UTC().Format(time.RFC3339); got != tt.nextFrom {
					t.Fatalf("next opens at %s, want %s", got, tt.nextFrom)
				}
			}
		})
	}
}

func TestWindowsAcrossDaylightSavingChanges(t *testing.T) {
	everyDay := func(start, end string) Schedule { return Schedule{window(t, nil, start, end, "Europe/Berlin")} }
	tests := []struct {
		name       string
		s          Schedule
		day        string // a time on the day, before the window
		wantOpen   string
		wantClose  string
		wantLength time.Duration
	}{
		{"clocks forward: 02:00-05:00 opens at the change (03:00 CEST) and lasts two hours", everyDay("02:00", "05:00"),
			"2025-03-29T23:00:00Z", "2025-03-30T01:00:00Z", "2025-03-30T03:00:00Z", 2 * time.Hour},
		{"clocks forward: a window inside the skipped hour does not open that night", everyDay("02:15", "02:45"),
			"2025-03-29T23:00:00Z", "2025-03-31T00:15:00Z", "2025-03-31T00:45:00Z", 30 * time.Minute},
		{"clocks back: 02:00-05:00 opens at the first 02:00 (CEST) and lasts four hours", everyDay("02:00", "05:00"),
			"2025-10-25T22:00:00Z", "2025-10-26T00:00:00Z", "2025-10-26T04:00:00Z", 4 * time.Hour},
		{"clocks back: a window inside the repeated hour stays open through both", everyDay("02:15", "02:45"),
			"2025-10-25T22:00:00Z", "2025-10-26T00:15:00Z", "2025-10-26T01:45:00Z", 90 * time.Minute},
		{"whole days join into one span, cut at the first day end past a week, an hour short across the change", everyDay("00:00", "24:00"),
			"2025-03-29T22:59:00Z", "2025-03-28T23:00:00Z", "2025-04-05T22:00:00Z", 8*24*time.Hour - time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			iv := tt.s.Next(at(t, tt.day))
			if got := iv.Start.UTC().Format(time.RFC3339); got != tt.wantOpen {
				t.Fatalf("opens at %s, want %s", got, tt.wantOpen)
			}
			if got := iv.End.UTC().Format(time.RFC3339); got != tt.wantClose {
				t.Fatalf("closes at %s, want %s", got, tt.wantClose)
			}
			if iv.End.Sub(iv.Start) != tt.wantLength {
				t.Fatalf("length %s, want %s", iv.End.Sub(iv.Start), tt.wantLength)
			}
		})
	}
}

func TestTouchingWindowsAreOneSpan(t *testing.T) {
	s := Schedule{
		window(t, []time.Weekday{time.Monday}, "22:00", "24:00", "UTC"),
		window(t, []time.Weekday{time.Tuesday}, "00:00", "03:00", "UTC"),
	}
	cur, ok := s.Current(at(t, "2025-07-21T23:00:00Z")) // a Monday
	if !ok || cur.End.UTC().Format(time.RFC3339) != "2025-07-22T03:00:00Z" {
		t.Fatalf("current = %+v, %v", cur, ok)
	}
}

func TestSoakAndStepBoundaries(t *testing.T) {
	finished := at(t, "2025-07-21T10:00:00Z")
	if ok, left := Soaked(finished, 24*time.Hour, at(t, "2025-07-22T04:00:00Z")); ok || left != 6*time.Hour {
		t.Fatalf("soaked = %v, left %s", ok, left)
	}
	if ok, _ := Soaked(finished, 24*time.Hour, at(t, "2025-07-22T10:00:00Z")); !ok {
		t.Fatal("a soak ends exactly at finish + soak")
	}
	berlin := Schedule{window(t, []time.Weekday{time.Tuesday, time.Wednesday, time.Thursday}, "02:00", "05:00", "Europe/Berlin")}
	// The soak ends Tuesday 10:00 UTC, after Tuesday's window: Wednesday's is the first.
	if got := EarliestStart(finished, SoakEnd(finished, 24*time.Hour), berlin).Start.UTC().Format(time.RFC3339); got != "2025-07-23T00:00:00Z" {
		t.Fatalf("earliest start %s", got)
	}
	tests := []struct {
		name   string
		policy OnWindowEnd
		now    string
		want   WindowAction
		window string
	}{
		{"inside the window: proceed", WaitForNextWindow, "2025-07-22T01:00:00Z", Proceed, "2025-07-22T00:00:00Z"},
		{"past its end: wait for the next", WaitForNextWindow, "2025-07-22T03:30:00Z", WaitForWindow, "2025-07-23T00:00:00Z"},
		{"past its end with onWindowEnd fail: fail", FailAtWindowEnd, "2025-07-22T03:30:00Z", FailOutsideWindow, "2025-07-23T00:00:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Policy{Windows: Value[Schedule]{Value: berlin}, OnWindowEnd: Value[OnWindowEnd]{Value: tt.policy}}
			d := p.AtStepBoundary(at(t, tt.now))
			if d.Action != tt.want || d.Window.Start.UTC().Format(time.RFC3339) != tt.window {
				t.Fatalf("got %+v", d)
			}
		})
	}
}
