// Package retention decides which old versions of a Secret family may go: how long a
// version is kept after it stopped being used, which versions are always kept, how long
// a CronJob's old version is held, and what the references found to a version mean for
// it. It is pure: it takes times, names and references, never a client, and its clock is
// whatever time the caller passes in.
package retention

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Day and Week are the units ParseDuration adds to Go's.
const (
	Day  = 24 * time.Hour
	Week = 7 * Day
)

// maxPeriod is the longest retention period ParseDuration accepts (about 146 years),
// whatever its units: a period it accepts prints (FormatDuration) as one it reads back.
const maxPeriod = time.Duration(1 << 62)

// ParseDuration reads a retention period: Go durations ("336h", "90m") plus days and
// weeks ("14d", "2w", "1w3d", "1d12h"). Negative, empty and periods longer than
// maxPeriod are refused.
func ParseDuration(s string) (time.Duration, error) {
	in := strings.TrimSpace(s)
	if in == "" {
		return 0, fmt.Errorf("empty retention period: give a duration such as 14d, 2w or 336h")
	}
	if strings.HasPrefix(in, "-") {
		return 0, fmt.Errorf("retention period %q is negative: give a duration such as 14d, 2w or 336h", s)
	}
	var total time.Duration
	rest := in
	for rest != "" {
		i := 0
		for i < len(rest) && (rest[i] >= '0' && rest[i] <= '9') {
			i++
		}
		if i == 0 {
			return 0, badDuration(s)
		}
		j := i
		for j < len(rest) && (rest[j] < '0' || rest[j] > '9') && rest[j] != '.' {
			j++
		}
		unit := rest[i:j]
		if unit != "d" && unit != "w" {
			// Hand the rest (from here) to Go, which knows h, m, s, ms, us, ns and fractions.
			d, err := time.ParseDuration(rest)
			if err != nil {
				return 0, badDuration(s)
			}
			return add(total, d, s)
		}
		n, err := strconv.ParseInt(rest[:i], 10, 64)
		if err != nil {
			return 0, badDuration(s)
		}
		per := Day
		if unit == "w" {
			per = Week
		}
		if n > int64(maxPeriod/per) {
			return 0, tooLong(s)
		}
		if total, err = add(total, time.Duration(n)*per, s); err != nil {
			return 0, err
		}
		rest = rest[j:]
	}
	return total, nil
}

// add is a+b (both at least 0), or an error past maxPeriod.
func add(a, b time.Duration, s string) (time.Duration, error) {
	if b > maxPeriod-a {
		return 0, tooLong(s)
	}
	return a + b, nil
}

func tooLong(s string) error {
	return fmt.Errorf("retention period %q is too long to count (more than a century); give a period such as 14d, 2w or 52w", s)
}

func badDuration(s string) error {
	return fmt.Errorf("cannot read retention period %q: use a number and a unit, e.g. 14d (days), 2w (weeks), 336h (hours), or combinations like 1w3d", s)
}

// FormatDuration prints d in the largest whole units: "14d", "2w", "36h", "1w3d".
func FormatDuration(d time.Duration) string {
	if d == 0 {
		return "0s"
	}
	if d%Day != 0 {
		return d.String()
	}
	w, days := d/Week, (d%Week)/Day
	var b strings.Builder
	if w > 0 {
		fmt.Fprintf(&b, "%dw", w)
	}
	if days > 0 {
		fmt.Fprintf(&b, "%dd", days)
	}
	return b.String()
}
