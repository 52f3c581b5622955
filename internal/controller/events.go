package controller

import (
	"fmt"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/internal/rotation"
)

const (
	normal  = corev1.EventTypeNormal
	warning = corev1.EventTypeWarning
	// eventAction is the action of every event rotor records (events.k8s.io/v1).
	eventAction = "Rotate"
)

// eventAdapter turns the engine's progress into Kubernetes Events: on the
// SecretRotation, and for a consumer also on the consumer (the SecretRotation as the
// related object). Events carry what the engine says — versions, objects, verdicts —
// and never a value: the engine never reads one.
type eventAdapter struct {
	rec events.EventRecorder
	mu  sync.Mutex
	// rots are the SecretRotations last seen, so an engine event (which names its
	// rotation) can point at the object and its consumers.
	rots map[types.NamespacedName]*v1alpha1.SecretRotation
}

func newEventAdapter(rec events.EventRecorder) *eventAdapter {
	return &eventAdapter{rec: rec, rots: map[types.NamespacedName]*v1alpha1.SecretRotation{}}
}

func (a *eventAdapter) remember(rot *v1alpha1.SecretRotation) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.rots[types.NamespacedName{Namespace: rot.Namespace, Name: rot.Name}] = rot
}

func (a *eventAdapter) forget(key types.NamespacedName) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.rots, key)
}

func (a *eventAdapter) lookup(ns, name string) *v1alpha1.SecretRotation {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.rots[types.NamespacedName{Namespace: ns, Name: name}]
}

// rotation records an event on the SecretRotation.
func (a *eventAdapter) rotation(rot *v1alpha1.SecretRotation, typ, reason, format string, args ...any) {
	a.rec.Eventf(rot, nil, typ, reason, eventAction, format, args...)
}

// progress receives the engine's progress (rotation.Engine.Progress). A consumer's
// passing rollout states ("1 of 3 updated replicas are available") are not events:
// they change at every poll of every consumer, the status's consumers[].state shows
// the latest, and thousands of them would load the API server that the rotation's
// own writes need (one bench run at 50 rotations recorded 6,322). Steps, re-points,
// health, gate results and rollbacks are events, on the SecretRotation and on the
// consumer.
func (a *eventAdapter) progress(ev rotation.Event) {
	rot := a.lookup(ev.Namespace, ev.Rotation)
	if rot == nil {
		return
	}
	typ, reason := classify(ev)
	if ev.Object == "" {
		a.rec.Eventf(rot, nil, typ, reason, eventAction, "%s", ev.Message)
		return
	}
	if reason == reasonProgress {
		return
	}
	a.rec.Eventf(rot, nil, typ, reason, eventAction, "%s: %s", ev.Object, ev.Message)
	if obj := consumerRef(rot, ev.Object); obj != nil {
		a.rec.Eventf(obj, rot, typ, reason, eventAction, "%s (SecretRotation %s)", ev.Message, rot.Name)
	}
}

// consumerRef is a reference to the object an engine event names ("Kind/name"): a
// consumer of rot, or a green copy.
func consumerRef(rot *v1alpha1.SecretRotation, object string) runtime.Object {
	kind, name, ok := strings.Cut(object, "/")
	if !ok {
		return nil
	}
	ref := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Namespace: rot.Namespace, Name: name}}
	for _, c := range rot.Status.Consumers {
		if c.Kind == kind && c.Name == name {
			ref.APIVersion, ref.Kind, ref.UID = c.APIVersion, c.Kind, types.UID(c.UID)
			return ref
		}
	}
	if kind == "Deployment" {
		ref.APIVersion, ref.Kind = "apps/v1", kind
		return ref
	}
	return nil
}

// progressReasons classify the engine's progress lines by how they start: the engine
// reports in sentences, events need a reason. Unknown lines are Normal "Progress"
// (reasonProgress).
var progressReasons = []struct {
	prefix, typ, reason string
}{
	{"FAILED:", warning, "Failed"},
	{"rolling back", warning, "RollingBack"},
	{"rolled back to", warning, "RolledBack"},
	{"blue back to", warning, "RolledBack"},
	{"re-pointing", normal, "Repointing"},
	{"re-pointed", normal, "Repointed"},
	{"step ", normal, "StepPassed"},
	{"paused", normal, "Paused"},
	{"created green copy", normal, "GreenCreated"},
	{"reusing green copy", normal, "GreenCreated"},
	{"deleting green copy", normal, "GreenDeleted"},
	{"healthy on", normal, "Healthy"},
	{"all consumers healthy", normal, "Healthy"},
	{"waiting for the gates", normal, "Analysing"},
	{"rolled out; the post-rollout gates", normal, "Analysing"},
}

func classify(ev rotation.Event) (typ, reason string) {
	msg := ev.Message
	if strings.HasPrefix(msg, "gate ") {
		switch {
		case strings.Contains(msg, ": Successful"):
			return normal, "GatePassed"
		case strings.Contains(msg, ": Inconclusive"):
			return warning, "GateInconclusive"
		default:
			return warning, "GateFailed"
		}
	}
	if strings.HasSuffix(msg, "healthy; pausing") || strings.Contains(msg, "healthy; pausing ") {
		return normal, "StepHealthy"
	}
	if strings.Contains(msg, "%: green ") {
		return normal, "Scaled"
	}
	for _, p := range progressReasons {
		if strings.HasPrefix(msg, p.prefix) {
			return p.typ, p.reason
		}
	}
	return normal, reasonProgress
}

// reasonProgress is the reason of a line no other reason fits: a passing state.
const reasonProgress = "Progress"

// finalEvent is the event of a rotation that ended.
func finalEvent(rot *v1alpha1.SecretRotation) (typ, reason, note string) {
	st := &rot.Status
	note = st.Message
	if note == "" {
		note = fmt.Sprintf("rotation to %s ended %s", st.TargetVersion, st.Phase)
	}
	switch st.Phase {
	case v1alpha1.Succeeded:
		return normal, "Succeeded", note
	case v1alpha1.RolledBack:
		return warning, "RolledBack", "rolled back: " + note
	case v1alpha1.Aborted:
		return warning, "Aborted", note
	default:
		return warning, string(st.Phase), note
	}
}
