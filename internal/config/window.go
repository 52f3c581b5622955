package config

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
	// The IANA database is compiled in, so a time zone means the same on every machine
	// (a container image without /usr/share/zoneinfo included).
	_ "time/tzdata"
)

// Window is a recurring maintenance window: from Start to End (wall-clock minutes after
// midnight in Location) on each of Days, or every day when Days is empty. End is at most
// 24:00; an End not after Start crosses midnight (22:00–02:00 ends the next day; Days
// are the days it starts on).
//
// Daylight saving time: the times are wall-clock times. On the day the clocks go
// forward, a time that does not exist is the moment of the change (02:30 in Berlin is
// 03:00 that night). On the day they go back, a window opens the first time the clock
// shows its start and closes the last time it shows its end, so it never closes and
// reopens within the repeated hour.
type Window struct {
	Days       []time.Weekday
	Start, End int
	TimeZone   string
	Location   *time.Location
	Pos        Pos
}

// String is e.g. "Tue,Wed,Thu 02:00-05:00 Europe/Berlin".
func (w Window) String() string {
	days := "every day"
	if len(w.Days) > 0 {
		names := make([]string, len(w.Days))
		for i, d := range w.Days {
			names[i] = d.String()[:3]
		}
		days = strings.Join(names, ",")
	}
	return fmt.Sprintf("%s %s-%s %s", days, formatMinutes(w.Start), formatMinutes(w.End), w.TimeZone)
}

func (w Window) on(day time.Weekday) bool {
	if len(w.Days) == 0 {
		return true
	}
	for _, d := range w.Days {
		if d == day {
			return true
		}
	}
	return false
}

// occurrence is the window that starts on the calendar day y-m-d (in its zone), if it
// opens that day.
func (w Window) occurrence(y int, m time.Month, d int) (Interval, bool) {
	date := time.Date(y, m, d, 12, 0, 0, 0, w.Location)
	if !w.on(date.Weekday()) {
		return Interval{}, false
	}
	start := wallInstant(y, m, d, w.Start, w.Location, true)
	endDay := d
	if w.End <= w.Start {
		endDay++
	}
	end := wallInstant(y, m, endDay, w.End, w.Location, false)
	if !end.After(start) {
		return Interval{}, false
	}
	return Interval{Start: start, End: end}, true
}

// wallInstant is the instant the clock in loc shows minutes after midnight on y-m-d:
// the first such instant when the clock shows it twice (earliest=true) or the last
// (earliest=false), and the moment of the change when it never shows it.
func wallInstant(y int, m time.Month, d, minutes int, loc *time.Location, earliest bool) time.Time {
	naive := time.Date(y, m, d, minutes/60, minutes%60, 0, 0, time.UTC)
	guess := time.Date(y, m, d, minutes/60, minutes%60, 0, 0, loc)
	var found []time.Time
	seen := map[int]bool{}
	for _, probe := range []time.Time{guess.Add(-26 * time.Hour), guess, guess.Add(26 * time.Hour)} {
		_, off := probe.Zone()
		if seen[off] {
			continue
		}
		seen[off] = true
		at := naive.Add(-time.Duration(off) * time.Second)
		wall := at.In(loc)
		if wall.Year() == naive.Year() && wall.YearDay() == naive.YearDay() && wall.Hour() == naive.Hour() && wall.Minute() == naive.Minute() {
			found = append(found, at)
		}
	}
	if len(found) == 0 {
		// Skipped by a change of clocks: the window edge is the change itself.
		start, _ := guess.ZoneBounds()
		if start.IsZero() {
			return guess
		}
		return start
	}
	sort.Slice(found, func(i, j int) bool { return found[i].Before(found[j]) })
	if earliest {
		return found[0]
	}
	return found[len(found)-1]
}

// Interval is a span of time: [Start, End). A zero End is open-ended.
type Interval struct {
	Start time.Time
	End   time.Time
}

// Schedule is an environment's maintenance windows. An empty Schedule is always open.
type Schedule []Window

// Always reports whether the schedule has no windows (rotations may run at any time).
func (s Schedule) Always() bool { return len(s) == 0 }

// containing returns the occurrence of any window that contains t, ending last.
func (s Schedule) containing(t time.Time) (Interval, bool) {
	var best Interval
	found := false
	for _, w := range s {
		local := t.In(w.Location)
		for k := -2; k <= 0; k++ {
			day := local.AddDate(0, 0, k)
			iv, ok := w.occurrence(day.Year(), day.Month(), day.Day())
			if ok && !t.Before(iv.Start) && t.Before(iv.End) && (!found || iv.End.After(best.End)) {
				best, found = iv, true
			}
		}
	}
	return best, found
}

// maxSpan bounds how far windows that touch or overlap are joined into one: a schedule
// open around the clock is treated as closing at the first window end past a week.
const maxSpan = 7 * 24 * time.Hour

// Open reports whether t is inside a window (always, for an empty schedule).
func (s Schedule) Open(t time.Time) bool {
	if s.Always() {
		return true
	}
	_, ok := s.containing(t)
	return ok
}

// Current is the open span containing t: from the start of the window t is in to the
// moment no window is open any more (windows that touch or overlap are one span). ok is
// false when t is outside every window. An empty schedule gives [t, open-ended).
func (s Schedule) Current(t time.Time) (Interval, bool) {
	if s.Always() {
		return Interval{Start: t}, true
	}
	iv, ok := s.containing(t)
	if !ok {
		return Interval{}, false
	}
	for iv.End.Sub(iv.Start) < maxSpan {
		next, ok := s.containing(iv.End)
		if !ok || !next.End.After(iv.End) {
			break
		}
		iv.End = next.End
	}
	return iv, true
}

// Next is the first open span at or after t: the current one when t is inside a
// window, else the next window to open.
func (s Schedule) Next(t time.Time) Interval {
	if iv, ok := s.Current(t); ok {
		return iv
	}
	var first time.Time
	for _, w := range s {
		local := t.In(w.Location)
		for k := -1; k <= 8; k++ {
			day := local.AddDate(0, 0, k)
			iv, ok := w.occurrence(day.Year(), day.Month(), day.Day())
			if ok && iv.Start.After(t) && (first.IsZero() || iv.Start.Before(first)) {
				first = iv.Start
			}
		}
	}
	if first.IsZero() {
		// Unreachable for a validated window (each opens at least once a week).
		return Interval{}
	}
	iv, _ := s.Current(first)
	return iv
}

// String lists the windows, or says "any time".
func (s Schedule) String() string {
	if s.Always() {
		return "any time"
	}
	parts := make([]string, len(s))
	for i, w := range s {
		parts[i] = w.String()
	}
	return strings.Join(parts, "; ")
}

var errLocalZone = errors.New("the machine's local zone differs between machines")

// loadLocation resolves an IANA name; "Local" and "" are refused.
func loadLocation(name string) (*time.Location, error) {
	if name == "" || name == "Local" {
		return nil, errLocalZone
	}
	return time.LoadLocation(name)
}
