package rotation

import (
	"fmt"
	"time"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/internal/config"
)

// WindowState is the rotation's maintenance window (spec.window) as of the
// observation: is one open, and when does the next one open.
type WindowState struct {
	// Closed: no window is open (never, without spec.window). The zero value is open.
	Closed bool
	// Ends is when the open span ends; Opens when the next one opens (when closed).
	Ends, Opens time.Time
	// Problem is set when spec.window cannot be read.
	Problem string
}

// Schedule reads spec.window into a schedule.
func Schedule(p *v1alpha1.WindowPolicy) (config.Schedule, error) {
	var s config.Schedule
	for i, w := range p.Windows {
		win, err := config.ParseWindow(w.Days, w.Start, w.End, w.TimeZone)
		if err != nil {
			return nil, fmt.Errorf("spec.window.windows[%d]: %w", i, err)
		}
		s = append(s, win)
	}
	return s, nil
}

// windowState is the window at t.
func windowState(rot *v1alpha1.SecretRotation, t time.Time) WindowState {
	p := rot.Spec.Window
	if p == nil || len(p.Windows) == 0 {
		return WindowState{}
	}
	s, err := Schedule(p)
	if err != nil {
		return WindowState{Closed: true, Problem: err.Error()}
	}
	if iv, ok := s.Current(t); ok {
		return WindowState{Ends: iv.End}
	}
	return WindowState{Closed: true, Opens: s.Next(t).Start}
}

func failsAtWindowEnd(rot *v1alpha1.SecretRotation) bool {
	return rot.Spec.Window != nil && rot.Spec.Window.OnEnd == v1alpha1.WindowFail
}

// atStart decides about a planned rotation's first step under spec.window: outside
// every window it waits for the next (nothing changed yet), or ends Failed with
// nothing moved.
func atStart(rot *v1alpha1.SecretRotation, o Observation) (Action, bool) {
	w := o.Window
	switch {
	case w.Problem != "":
		return Action{Type: ActFinish, Phase: v1alpha1.Failed, Reason: w.Problem + "; nothing was changed"}, true
	case !w.Closed:
		return Action{}, false
	case failsAtWindowEnd(rot):
		return Action{Type: ActFinish, Phase: v1alpha1.Failed, Reason: fmt.Sprintf("outside every maintenance window (the next opens %s) and onWindowEnd is fail; nothing was changed", stampText(w.Opens))}, true
	}
	return Action{Type: ActWait, Window: true, RequeueAfter: w.Opens.Sub(o.Now), Reason: "the maintenance window opening " + stampText(w.Opens)}, true
}

// atBoundary decides at a step boundary (the next step is about to begin): inside a
// window, next; outside, pause until the next window opens, or fail (rolling back), as
// spec.window.onEnd says.
func atBoundary(rot *v1alpha1.SecretRotation, o Observation, next Action) Action {
	w := o.Window
	switch {
	case !w.Closed:
		return next
	case w.Problem != "":
		return Action{Type: ActFail, Failure: &v1alpha1.Failure{Object: "window", Reason: w.Problem}}
	case failsAtWindowEnd(rot):
		return Action{Type: ActFail, Failure: &v1alpha1.Failure{Object: "window", Reason: fmt.Sprintf("the maintenance window ended before step %d could begin (onWindowEnd: fail)", next.Step+2)}}
	}
	return Action{Type: ActPause, Step: next.Step, Window: true, Opens: w.Opens,
		Reason: fmt.Sprintf("the maintenance window ended; step %d waits for the next one, opening %s", next.Step+2, stampText(w.Opens))}
}

// windowWait decides for a rotation waiting for its window: resume when one is open.
func windowWait(o Observation) Action {
	if !o.Window.Closed {
		return Action{Type: ActResume, Window: true}
	}
	return Action{Type: ActWait, Window: true, RequeueAfter: o.Window.Opens.Sub(o.Now), Reason: "the maintenance window opening " + stampText(o.Window.Opens)}
}

func stampText(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// Checklist entries about windows.
const (
	CheckWindowWait   = "waiting for the next window"
	CheckWindowReopen = "window reopened"
)
