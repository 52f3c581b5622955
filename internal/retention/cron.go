package retention

import (
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	// CronJob time zones are IANA names; embed the database so a machine without
	// /usr/share/zoneinfo still resolves them.
	_ "time/tzdata"
)

// CronHold says how long a CronJob that was re-pointed away from a version holds it.
type CronHold struct {
	// Interval is the longest gap between the schedule's activations after the re-point.
	Interval time.Duration
	// Until is when the hold ends: two full intervals after the re-point, or the
	// retention period after it when that is longer.
	Until time.Time
}

// gapsConsidered is how many consecutive activation gaps decide the interval; enough
// to see a short and a long month of a monthly schedule.
const gapsConsidered = 3

// HoldForCronJob computes the hold of a CronJob with the given schedule and time zone
// (spec.schedule, spec.timeZone; "" means the controller-manager's zone, taken as UTC)
// re-pointed at repointedAt. The schedule is parsed as Kubernetes parses it: five
// fields or a descriptor such as @monthly, optionally prefixed with CRON_TZ= or TZ=.
//
// Two full intervals mean the job has run at least twice on its new version before the
// old one goes: a monthly job holds its old version about two months.
func HoldForCronJob(schedule, timeZone string, repointedAt time.Time, retain time.Duration) (CronHold, error) {
	spec := strings.TrimSpace(schedule)
	if timeZone != "" {
		if strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ=") {
			return CronHold{}, fmt.Errorf("schedule %q names a time zone and spec.timeZone is %q too: Kubernetes refuses both; fix the CronJob", schedule, timeZone)
		}
		if _, err := time.LoadLocation(timeZone); err != nil {
			return CronHold{}, fmt.Errorf("unknown time zone %q of the CronJob: %w", timeZone, err)
		}
		spec = "CRON_TZ=" + timeZone + " " + spec
	}
	sched, err := cron.ParseStandard(spec)
	if err != nil {
		return CronHold{}, fmt.Errorf("cannot parse CronJob schedule %q: %w", schedule, err)
	}
	var longest time.Duration
	prev := sched.Next(repointedAt)
	if prev.IsZero() {
		return CronHold{}, fmt.Errorf("CronJob schedule %q never fires", schedule)
	}
	for i := 0; i < gapsConsidered; i++ {
		next := sched.Next(prev)
		if next.IsZero() {
			break
		}
		if gap := next.Sub(prev); gap > longest {
			longest = gap
		}
		prev = next
	}
	h := CronHold{Interval: longest, Until: repointedAt.Add(2 * longest)}
	if byRetain := repointedAt.Add(retain); byRetain.After(h.Until) {
		h.Until = byRetain
	}
	return h, nil
}
