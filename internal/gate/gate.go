// Package gate defines the step gate of a rollout: something that decides, after a
// step of a rotation has been applied, whether the rotation may go on. Kubernetes
// health is one gate; metric analysis (Prometheus, Datadog, web) is another. Rollout
// strategies only know this interface, so new gates plug in without changing them.
package gate

import (
	"context"
	"fmt"
	"time"
)

// Phase is a gate's verdict, named as Argo Rollouts names analysis phases.
type Phase string

// The verdicts.
const (
	// Successful: the step may proceed.
	Successful Phase = "Successful"
	// Failed: the step must be rolled back.
	Failed Phase = "Failed"
	// Inconclusive: the gate cannot tell (e.g. a metric has no data); the caller
	// decides, by asking a person or by treating it as a failure.
	Inconclusive Phase = "Inconclusive"
	// Error: the gate itself could not evaluate (e.g. a provider kept failing).
	Error Phase = "Error"
)

// Workload names one consumer of the family in a step.
type Workload struct {
	Kind      string
	Namespace string
	Name      string
}

func (w Workload) String() string { return fmt.Sprintf("%s/%s", w.Kind, w.Name) }

// Step is what a gate judges: one applied step of a rotation.
type Step struct {
	Family    string
	Namespace string
	// Version is the Secret version the step moved consumers to.
	Version string
	// Index counts steps from 0; Weight is the share of replicas (percent) on the new
	// version after the step; Final is true for the last step.
	Index  int
	Weight int
	Final  bool
	// Started is when the step was applied.
	Started time.Time
	// Workloads are the consumers re-pointed in this step.
	Workloads []Workload
}

// Verdict is a gate's judgement of a step, with enough detail to report it.
type Verdict struct {
	Gate    string
	Phase   Phase
	Message string
	// Measurements are the values behind the verdict, for the report (e.g. metric
	// name, values, condition). Never Secret values.
	Measurements []Measurement
}

// Measurement is one observed value.
type Measurement struct {
	Name  string
	Value string
	At    time.Time
	Phase Phase
	// Detail says why the value passed or failed, e.g. the condition evaluated.
	Detail string
}

// Gate judges a step. Run blocks until it reaches a verdict or ctx ends (then it
// returns an Error verdict naming the context's error).
type Gate interface {
	Name() string
	Run(ctx context.Context, step Step) Verdict
}

// Validator is implemented by gates that can check their configuration before
// anything changes (a query that does not parse, an unreachable provider).
type Validator interface {
	Validate(ctx context.Context, step Step) error
}
