package config

import "time"

// SoakEnd is when a rotation that finished at finished has been healthy for soak.
func SoakEnd(finished time.Time, soak time.Duration) time.Time { return finished.Add(soak) }

// Soaked reports whether, at now, a rotation that finished at finished has soaked for
// soak, and if not, how long is left.
func Soaked(finished time.Time, soak time.Duration, now time.Time) (bool, time.Duration) {
	end := SoakEnd(finished, soak)
	if !now.Before(end) {
		return true, 0
	}
	return false, end.Sub(now)
}

// EarliestStart is the first open span in which a rotation gated by a soak that ends at
// soakEnd may start: at or after both now and soakEnd, inside a window of s.
func EarliestStart(now, soakEnd time.Time, s Schedule) Interval {
	from := now
	if soakEnd.After(from) {
		from = soakEnd
	}
	return s.Next(from)
}

// WindowAction is what a rotation does at a step boundary.
type WindowAction string

// The window actions.
const (
	// Proceed: a window is open; take the next step.
	Proceed WindowAction = "proceed"
	// WaitForWindow: the window ended; wait for Window (the next one) to open.
	WaitForWindow WindowAction = "wait"
	// FailOutsideWindow: the window ended and the policy is to fail.
	FailOutsideWindow WindowAction = "fail"
)

// WindowDecision is the answer at a step boundary.
type WindowDecision struct {
	Action WindowAction
	// Window is the open span now (Proceed) or the next one (WaitForWindow,
	// FailOutsideWindow). Its End is zero when the environment has no windows.
	Window Interval
}

// AtStepBoundary decides, at now, whether a rotation under p may take its next step: a
// rotation that ran past its window's end stops at a step boundary and waits for the
// next window, or fails, as onWindowEnd says.
func (p Policy) AtStepBoundary(now time.Time) WindowDecision {
	s := p.Windows.Value
	if iv, ok := s.Current(now); ok {
		return WindowDecision{Action: Proceed, Window: iv}
	}
	action := WaitForWindow
	if p.OnWindowEnd.Value == FailAtWindowEnd {
		action = FailOutsideWindow
	}
	return WindowDecision{Action: action, Window: s.Next(now)}
}
