package config

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// ParseWindow reads one maintenance window as the rotation document (api/v1alpha1
// MaintenanceWindow) writes it: the days it starts on (Mon…Sun, empty for every day),
// wall-clock start and end HH:MM, and an IANA time zone. It applies the rules rotor.yaml
// does.
func ParseWindow(days []string, start, end, timeZone string) (Window, error) {
	w := Window{}
	for _, s := range days {
		wd, ok := weekdays[strings.ToLower(s)]
		if i := weekdayIndex(s); !ok && i >= 0 {
			wd, ok = time.Weekday(i), true
		}
		if !ok {
			return Window{}, fmt.Errorf("%q is not a day: use Mon, Tue, Wed, Thu, Fri, Sat or Sun", s)
		}
		for _, x := range w.Days {
			if x == wd {
				return Window{}, fmt.Errorf("%s is listed twice", s)
			}
		}
		w.Days = append(w.Days, wd)
	}
	sort.Slice(w.Days, func(i, j int) bool { return w.Days[i] < w.Days[j] })
	var ok bool
	if w.Start, ok = clockMinutes(start); !ok || w.Start > 23*60+59 {
		return Window{}, fmt.Errorf("start %q is not a time of day: use HH:MM from 00:00 to 23:59", start)
	}
	if w.End, ok = clockMinutes(end); !ok {
		return Window{}, fmt.Errorf("end %q is not a time of day: use HH:MM from 00:00 to 24:00", end)
	}
	if w.Start == w.End {
		return Window{}, errors.New("start and end are the same time: a window needs a length")
	}
	loc, err := loadLocation(timeZone)
	if err != nil {
		return Window{}, fmt.Errorf("unknown time zone %q: use an IANA name such as Europe/Berlin or UTC", timeZone)
	}
	w.TimeZone, w.Location = timeZone, loc
	return w, nil
}

// DayNames are the window's days as three-letter names (empty: every day).
func (w Window) DayNames() []string {
	out := make([]string, len(w.Days))
	for i, d := range w.Days {
		out[i] = d.String()[:3]
	}
	return out
}

// StartText and EndText are the window's edges as HH:MM.
func (w Window) StartText() string { return formatMinutes(w.Start) }

// EndText is the window's end as HH:MM (24:00 for midnight at its end).
func (w Window) EndText() string { return formatMinutes(w.End) }
