package watch

import (
	"context"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/rotor-project/rotor/internal/gate"
	"github.com/rotor-project/rotor/internal/kinds"
)

// Event reasons, one per failing phase.
const (
	ReasonFailed       = "RotationAnalysisFailed"
	ReasonInconclusive = "RotationAnalysisInconclusive"
	ReasonError        = "RotationAnalysisError"
)

func reasonFor(p gate.Phase) string {
	switch p {
	case gate.Failed:
		return ReasonFailed
	case gate.Inconclusive:
		return ReasonInconclusive
	}
	return ReasonError
}

// event records a Warning Event on one consumer, so `kubectl describe` and
// `kubectl get events` show the failure next to the workload.
func (e *Engine) event(ctx context.Context, c gate.Workload, sum *Summary, msg string, now time.Time) error {
	apiVersion, uid := e.identify(ctx, c)
	if len(msg) > 1024 {
		msg = msg[:1021] + "..."
	}
	ev := &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: strings.ToLower(c.Name) + ".",
			Namespace:    c.Namespace,
			Labels:       map[string]string{"app.kubernetes.io/managed-by": "rotor"},
		},
		InvolvedObject: corev1.ObjectReference{
			Kind: c.Kind, APIVersion: apiVersion, Namespace: c.Namespace, Name: c.Name, UID: uid,
		},
		Reason:              reasonFor(sum.Result.Phase),
		Message:             msg,
		Type:                corev1.EventTypeWarning,
		Source:              corev1.EventSource{Component: "rotor"},
		FirstTimestamp:      metav1.NewTime(now),
		LastTimestamp:       metav1.NewTime(now),
		Count:               1,
		ReportingController: "rotor.dev/watch",
		ReportingInstance:   "rotor",
		Action:              "Analyze",
	}
	_, err := e.Client.CoreV1().Events(c.Namespace).Create(ctx, ev, metav1.CreateOptions{})
	return err
}

// identify returns the consumer's apiVersion (from the kinds registry) and UID, looked
// up so the Event is attached to this object and not to a later one of the same name.
// An unknown kind or a failed lookup leaves what is not known empty.
func (e *Engine) identify(ctx context.Context, c gate.Workload) (string, types.UID) {
	k := kinds.Lookup(c.Kind)
	if k == nil {
		return "", ""
	}
	if e.Dynamic == nil {
		return k.APIVersion(), ""
	}
	obj, err := e.Dynamic.Resource(k.GVR()).Namespace(c.Namespace).Get(ctx, c.Name, metav1.GetOptions{})
	if err != nil {
		return k.APIVersion(), ""
	}
	return obj.GetAPIVersion(), obj.GetUID()
}
