package rotation

import (
	"context"
	"fmt"
	"sync"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/internal/gate"
)

// GateFactory builds a rotation's gates: those of each step, or (post) the analysis
// that keeps evaluating after the last step. It returns none when the rotation has no
// analysis.
type GateFactory func(ctx context.Context, rot *v1alpha1.SecretRotation, post bool) ([]gate.Gate, error)

// HasPostGates reports whether a rotation has gates after its last step: an analysis
// that keeps evaluating (spec.analysis.duration) or a verification Job (spec.verify).
func HasPostGates(rot *v1alpha1.SecretRotation) bool {
	return postAnalysis(rot) || rot.Spec.Verify != nil
}

func postAnalysis(rot *v1alpha1.SecretRotation) bool {
	a := rot.Spec.Analysis
	return a != nil && a.Duration != nil && a.Duration.Duration > 0
}

// Gate names recorded in status.gates.
const (
	GateAnalysis = "analysis"
	GateVerify   = "verify"
)

// postGateName names the gates after the last step.
func postGateName(rot *v1alpha1.SecretRotation) string {
	switch {
	case postAnalysis(rot) && rot.Spec.Verify != nil:
		return GateAnalysis + "+" + GateVerify
	case rot.Spec.Verify != nil:
		return GateVerify
	}
	return GateAnalysis
}

// gateRunner runs gates in the background, one job per rotation at a time: a gate
// measures for as long as its template says (an interval times a count), longer than a
// step should block. Step starts a job and looks at it again on later steps; a driver
// is woken when a job finishes. A process that dies loses its jobs; the next one
// starts the gate of the current step again (the journal says it was running).
type gateRunner struct {
	mu   sync.Mutex
	jobs map[string]*gateJob
	wake chan struct{}
}

type gateJob struct {
	state  GateState
	cancel context.CancelFunc
}

func jobKey(rot *v1alpha1.SecretRotation) string { return rot.Namespace + "/" + rot.Name }

func (r *gateRunner) wakeup() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.wake == nil {
		r.wake = make(chan struct{})
	}
	return r.wake
}

func (r *gateRunner) state(rot *v1alpha1.SecretRotation) *GateState {
	r.mu.Lock()
	defer r.mu.Unlock()
	j := r.jobs[jobKey(rot)]
	if j == nil {
		return nil
	}
	s := j.state
	return &s
}

func (r *gateRunner) cancel(rot *v1alpha1.SecretRotation) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if j := r.jobs[jobKey(rot)]; j != nil {
		j.cancel()
		delete(r.jobs, jobKey(rot))
	}
}

// start runs gates for a step, replacing the rotation's previous job. The first verdict
// other than Successful decides; otherwise all must succeed.
func (r *gateRunner) start(rot *v1alpha1.SecretRotation, st GateState, gates []gate.Gate, step gate.Step) {
	ctx, cancel := context.WithCancel(context.Background())
	job := &gateJob{state: st, cancel: cancel}
	r.mu.Lock()
	if old := r.jobs[jobKey(rot)]; old != nil {
		old.cancel()
	}
	if r.jobs == nil {
		r.jobs = map[string]*gateJob{}
	}
	r.jobs[jobKey(rot)] = job
	r.mu.Unlock()
	go func() {
		v := runGates(ctx, gates, step)
		r.mu.Lock()
		defer r.mu.Unlock()
		if ctx.Err() != nil && v.Phase != gate.Successful {
			return // cancelled: nobody waits for it
		}
		job.state.Done, job.state.Verdict = true, v
		if r.wake != nil {
			close(r.wake)
			r.wake = nil
		}
	}()
}

func runGates(ctx context.Context, gates []gate.Gate, step gate.Step) gate.Verdict {
	if len(gates) == 0 {
		return gate.Verdict{Gate: "none", Phase: gate.Successful}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	verdicts := make(chan gate.Verdict, len(gates))
	for _, g := range gates {
		go func() {
			v := g.Run(ctx, step)
			if v.Gate == "" {
				v.Gate = g.Name()
			}
			verdicts <- v
		}()
	}
	var last gate.Verdict
	for range gates {
		v := <-verdicts
		if v.Phase != gate.Successful {
			return v
		}
		last = v
	}
	return last
}

// startGate builds the rotation's gates for the action's step and starts them.
func (e *Engine) startGate(rot *v1alpha1.SecretRotation, a Action, o Observation) error {
	gates, err := e.Gates(context.Background(), rot, a.Post)
	if err != nil {
		return err
	}
	st := &rot.Status
	step := gate.Step{Family: rot.Spec.Family, Namespace: rot.Namespace, Version: st.TargetVersion, Index: int(a.Step), Weight: 100, Final: true, Started: o.Now}
	if int(a.Step) < len(st.Steps) {
		step.Weight = int(st.Steps[a.Step])
		step.Final = step.Weight == 100
	}
	if a.Post {
		step.Index = len(st.Steps)
	} else if st.StepStarted != nil {
		step.Started = st.StepStarted.Time
	}
	for _, c := range st.Consumers {
		if !c.Skip {
			step.Workloads = append(step.Workloads, gate.Workload{Kind: c.Kind, Namespace: rot.Namespace, Name: c.Name})
		}
	}
	e.gates.start(rot, GateState{Step: a.Step, Post: a.Post}, gates, step)
	if a.Post {
		e.emit(rot, "", "rolled out; the post-rollout gates decide now")
	}
	return nil
}

// verdictText is a verdict for a progress line.
func verdictText(v *gate.Verdict) string {
	return fmt.Sprintf("gate %s: %s %s", v.Gate, v.Phase, v.Message)
}
