package watch

import (
	"context"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/rotor-project/rotor/internal/gate"
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

var apiVersions = map[string]string{
	"Deployment": "apps/v1", "StatefulSet": "apps/v1", "DaemonSet": "apps/v1", "ReplicaSet": "apps/v1",
	"CronJob": "batch/v1", "Job": "batch/v1", "Pod": "v1", "ServiceAccount": "v1",
}

// event records a Warning Event on one consumer, so `kubectl describe` and
// `kubectl get events` show the failure next to the workload.
func (e *Engine) event(ctx context.Context, c gate.Workload, sum *Summary, msg string, now time.Time) error {
	uid := e.uid(ctx, c)
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
			Kind: c.Kind, APIVersion: apiVersions[c.Kind], Namespace: c.Namespace, Name: c.Name, UID: uid,
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

// uid looks the consumer up, so the Event is attached to this object and not to a
// later one of the same name; an unknown kind or a failed lookup leaves it empty.
func (e *Engine) uid(ctx context.Context, c gate.Workload) types.UID {
	var obj metav1.Object
	var err error
	opts := metav1.GetOptions{}
	switch c.Kind {
	case "Deployment":
		obj, err = e.Client.AppsV1().Deployments(c.Namespace).Get(ctx, c.Name, opts)
	case "StatefulSet":
		obj, err = e.Client.AppsV1().StatefulSets(c.Namespace).Get(ctx, c.Name, opts)
	case "DaemonSet":
		obj, err = e.Client.AppsV1().DaemonSets(c.Namespace).Get(ctx, c.Name, opts)
	case "CronJob":
		obj, err = e.Client.BatchV1().CronJobs(c.Namespace).Get(ctx, c.Name, opts)
	case "Job":
		obj, err = e.Client.BatchV1().Jobs(c.Namespace).Get(ctx, c.Name, opts)
	case "Pod":
		obj, err = e.Client.CoreV1().Pods(c.Namespace).Get(ctx, c.Name, opts)
	default:
		return ""
	}
	if err != nil {
		return ""
	}
	return obj.GetUID()
}
