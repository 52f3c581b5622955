// Package watch keeps a metric analysis running for a window after a rotation (hours:
// errors after a rotation are sporadic) and acts when it fails: a Kubernetes Event on
// every consumer, a notification, and a rollback when asked. The window's start is
// recorded on the family's latest rotation record, so a watch restarted with the same
// arguments continues the same window instead of starting over. The engine never
// prints: heartbeats go through the analysis gate's OnMeasurement hook, and Run
// returns a Summary for the caller to report.
package watch

import (
	"context"
	"errors"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/internal/analysis"
	"github.com/rotor-project/rotor/internal/gate"
	"github.com/rotor-project/rotor/internal/notify"
)

// Journal is where rotations are recorded (journal.Store).
type Journal interface {
	List(ctx context.Context, namespace, family string) ([]*v1alpha1.SecretRotation, error)
	Get(ctx context.Context, namespace, name string) (*v1alpha1.SecretRotation, error)
	Update(ctx context.Context, rot *v1alpha1.SecretRotation) (*v1alpha1.SecretRotation, error)
}

// Watch phases stored in status.watch.phase. Running means a watch owns the window
// (or was interrupted and may resume it); the others are how it ended.
const (
	PhaseRunning = "Running"
)

// Engine runs watches.
type Engine struct {
	Client kubernetes.Interface
	// Dynamic looks up the UID of each consumer an Event goes to, whatever its kind.
	Dynamic dynamic.Interface
	Records Journal
	Clock   clock.Clock
	// FindConsumers finds the family's consumers when no rotation record names them.
	// Nil: without a record there is no one to send Events to.
	FindConsumers func(ctx context.Context, namespace, family string) ([]gate.Workload, error)
	// Notify sends the failure message; nil sends nothing.
	Notify func(ctx context.Context, m notify.Message) error
	// Rollback reverses the watched rotation (nil without one) if it is still the
	// current one; called on Failed or Inconclusive when Request.RollbackOnFailure is
	// set.
	Rollback func(ctx context.Context, watched *v1alpha1.SecretRotation) error
}

// Request is one watch.
type Request struct {
	Family, Namespace string
	Gate              *analysis.Gate
	Duration          time.Duration
	// RollbackOnFailure asks for Engine.Rollback when the analysis fails.
	RollbackOnFailure bool
	// Identity distinguishes arguments: a recorded window is resumed only when its
	// analysis identity and duration are the same (analysis.Template.Digest covers the
	// metrics with their arguments filled in).
	Identity string
	// OnStart, if set, is told the window before the first measurement.
	OnStart func(w analysis.Window, resumed bool)
}

// Summary is how a watch ended.
type Summary struct {
	Family, Namespace string
	// Version is the version the latest rotation moved consumers to ("" without one).
	Version string
	Window  analysis.Window
	Resumed bool
	// Recorded is false when no rotation record exists: the window is then not
	// resumable.
	Recorded bool
	Result   analysis.Result
	// Consumers are the objects the failure Events went to; EventErrors what failed.
	Consumers   []gate.Workload
	Events      int
	EventErrors []string
	Notified    bool
	NotifyError string
	RolledBack  bool
	// RollbackError is set when a rollback was attempted and failed.
	RollbackError string
}

// Failed reports whether the watch ended other than Successful.
func (s *Summary) Failed() bool { return s.Result.Phase != gate.Successful }

// Run watches until the window ends, a metric fails, or ctx ends. An interrupted watch
// returns ctx's error and leaves the recorded window open, to be resumed.
func (e *Engine) Run(ctx context.Context, req Request) (*Summary, error) {
	if req.Gate == nil || req.Duration <= 0 {
		return nil, errors.New("watch: a gate and a positive duration are required")
	}
	clk := e.Clock
	if clk == nil {
		clk = clock.RealClock{}
	}
	sum := &Summary{Family: req.Family, Namespace: req.Namespace}
	rec, err := latest(ctx, e.Records, req.Namespace, req.Family)
	if err != nil {
		return nil, fmt.Errorf("reading the rotation journal of %q: %w", req.Family, err)
	}
	now := clk.Now()
	sum.Window = analysis.Window{Start: now, End: now.Add(req.Duration)}
	if rec != nil {
		sum.Recorded, sum.Version = true, rec.Status.TargetVersion
		if w := rec.Status.Watch; w != nil && w.Phase == PhaseRunning && w.Analysis == req.Identity && w.Duration == req.Duration.String() && now.Before(w.Started.Add(req.Duration)) {
			sum.Window = analysis.Window{Start: w.Started.Time, End: w.Started.Add(req.Duration)}
			sum.Resumed = true
		} else {
			start := now
			if err := update(ctx, e.Records, rec, func(r *v1alpha1.SecretRotation) {
				r.Status.Watch = &v1alpha1.WatchStatus{Started: metav1.NewTime(start), Duration: req.Duration.String(), Analysis: req.Identity, Phase: PhaseRunning}
			}); err != nil {
				return nil, fmt.Errorf("recording the watch window on %s: %w", rec.Name, err)
			}
		}
	}
	if req.OnStart != nil {
		req.OnStart(sum.Window, sum.Resumed)
	}
	step := gate.Step{Family: req.Family, Namespace: req.Namespace, Version: sum.Version, Final: true, Started: sum.Window.Start}
	sum.Result = req.Gate.Evaluate(ctx, step, sum.Window)
	if sum.Result.Interrupted {
		return sum, ctx.Err()
	}
	if rec != nil {
		phase := string(sum.Result.Phase)
		if err := update(ctx, e.Records, rec, func(r *v1alpha1.SecretRotation) {
			if r.Status.Watch != nil && r.Status.Watch.Analysis == req.Identity {
				r.Status.Watch.Phase = phase
			}
		}); err != nil {
			sum.EventErrors = append(sum.EventErrors, fmt.Sprintf("recording the watch's end on %s: %v", rec.Name, err))
		}
	}
	if !sum.Failed() {
		return sum, nil
	}
	e.act(ctx, req, rec, sum, clk)
	return sum, nil
}

func (e *Engine) act(ctx context.Context, req Request, rec *v1alpha1.SecretRotation, sum *Summary, clk clock.Clock) {
	var consumers []gate.Workload
	switch {
	case rec != nil:
		for _, c := range rec.Status.Consumers {
			consumers = append(consumers, gate.Workload{Kind: c.Kind, Namespace: req.Namespace, Name: c.Name})
		}
	case e.FindConsumers != nil:
		found, err := e.FindConsumers(ctx, req.Namespace, req.Family)
		if err != nil {
			sum.EventErrors = append(sum.EventErrors, fmt.Sprintf("finding consumers: %v", err))
		}
		consumers = found
	}
	sum.Consumers = consumers
	msg := failureText(sum)
	for _, c := range consumers {
		if err := e.event(ctx, c, sum, msg, clk.Now()); err != nil {
			sum.EventErrors = append(sum.EventErrors, fmt.Sprintf("%s: %v", c, err))
			continue
		}
		sum.Events++
	}
	if e.Notify != nil {
		err := e.Notify(ctx, notify.Message{Text: msg, Family: req.Family, Namespace: req.Namespace, Version: sum.Version, Phase: string(sum.Result.Phase)})
		if err != nil {
			sum.NotifyError = err.Error()
		} else {
			sum.Notified = true
		}
	}
	if req.RollbackOnFailure && e.Rollback != nil && (sum.Result.Phase == gate.Failed || sum.Result.Phase == gate.Inconclusive) {
		if err := e.Rollback(ctx, rec); err != nil {
			sum.RollbackError = err.Error()
		} else {
			sum.RolledBack = true
		}
	}
}

// failureText is the one-paragraph report used for Events and notifications.
func failureText(sum *Summary) string {
	v := sum.Version
	if v == "" {
		v = "(no rotation record)"
	}
	return fmt.Sprintf("rotor watch: analysis of %s in %s %s (version %s, window started %s): %s",
		sum.Family, sum.Namespace, sum.Result.Phase, v, sum.Window.Start.UTC().Format(time.RFC3339), sum.Result.Message)
}

// latest is the newest rotation of fam in namespace, or nil.
func latest(ctx context.Context, j Journal, namespace, fam string) (*v1alpha1.SecretRotation, error) {
	all, err := j.List(ctx, namespace, fam)
	if err != nil || len(all) == 0 {
		return nil, err
	}
	return all[len(all)-1], nil
}

// update applies mutate to the stored rotation, re-reading on conflict.
func update(ctx context.Context, j Journal, rot *v1alpha1.SecretRotation, mutate func(*v1alpha1.SecretRotation)) error {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		var cur *v1alpha1.SecretRotation
		if cur, err = j.Get(ctx, rot.Namespace, rot.Name); err != nil {
			return err
		}
		mutate(cur)
		var saved *v1alpha1.SecretRotation
		if saved, err = j.Update(ctx, cur); err == nil {
			*rot = *saved
			return nil
		}
		if ctx.Err() != nil {
			return err
		}
	}
	return err
}
