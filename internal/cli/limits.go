package cli

import (
	"time"

	"github.com/rotor-project/rotor/internal/retention"
)

// Bounds of the duration flags: a negative duration is never meant, and one beyond
// these is a typo (a missing unit, an extra digit) more often than a plan.
const (
	maxTimeout          = 7 * retention.Day    // --timeout: the deadline of a whole rotation
	maxPause            = 24 * time.Hour       // --pause: watching one blue-green step
	maxAnalysisDuration = 7 * retention.Day    // --analysis-duration
	maxWatch            = 30 * retention.Day   // watch --for
	maxRetain           = 3660 * retention.Day // cleanup --retain: about ten years
)

// checkDuration refuses d outside [min, max] for the named flag; positive demands more
// than zero.
func checkDuration(flag string, d, lo, hi time.Duration, positive bool) error {
	switch {
	case d < 0:
		return usageErrorf("%s %s is negative: give a duration such as 30s, 5m or 2h", flag, d)
	case positive && d == 0:
		return usageErrorf("%s must be longer than 0, e.g. 5m", flag)
	case d < lo:
		return usageErrorf("%s %s is too short: at least %s", flag, d, lo)
	case d > hi:
		return usageErrorf("%s %s is longer than %s, which is surely a mistake (a missing unit or an extra digit?); give at most %s", flag, retention.FormatDuration(d), retention.FormatDuration(hi), retention.FormatDuration(hi))
	}
	return nil
}
