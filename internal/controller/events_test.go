package controller

import (
	"sort"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/internal/rotation"
)

func TestEventsOfTheEngineProgress(t *testing.T) {
	rot := &v1alpha1.SecretRotation{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "app"}}
	rot.Status.Consumers = []v1alpha1.ConsumerStatus{{Kind: "Deployment", APIVersion: "apps/v1", Name: "web", UID: "u1"}}
	cases := []struct {
		name   string
		ev     rotation.Event
		events []string // the recorded events, sorted
	}{
		{
			name: "a consumer's passing rollout state is no event (the status shows it)",
			ev:   rotation.Event{Object: "Deployment/web", Message: "1 of 3 updated replicas are available"},
		},
		{
			name: "a re-point is an event on the SecretRotation and one on the consumer",
			ev:   rotation.Event{Object: "Deployment/web", Message: "re-pointed 1 reference(s) app-1 → app-2"},
			events: []string{
				"Normal Repointed Deployment/web: re-pointed 1 reference(s) app-1 → app-2",
				"Normal Repointed re-pointed 1 reference(s) app-1 → app-2 (SecretRotation app)",
			},
		},
		{
			name:   "a line of the rotation itself is an event on the SecretRotation, whatever its reason",
			ev:     rotation.Event{Message: "the maintenance window is open: going on"},
			events: []string{"Normal Progress the maintenance window is open: going on"},
		},
		{
			name: "a failure on a consumer is a warning on both",
			ev:   rotation.Event{Object: "Deployment/web", Message: "FAILED: CrashLoopBackOff"},
			events: []string{
				"Warning Failed Deployment/web: FAILED: CrashLoopBackOff",
				"Warning Failed FAILED: CrashLoopBackOff (SecretRotation app)",
			},
		},
		{
			name: "progress of a rotation the adapter has not seen is dropped",
			ev:   rotation.Event{Rotation: "other", Message: "re-pointing 1 consumer(s) to app-2"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := events.NewFakeRecorder(10)
			a := newEventAdapter(rec)
			a.remember(rot)
			ev := c.ev
			ev.Namespace = "shop"
			if ev.Rotation == "" {
				ev.Rotation = "app"
			}
			a.progress(ev)
			close(rec.Events)
			var got []string
			for e := range rec.Events {
				got = append(got, e)
			}
			sort.Strings(got)
			if strings.Join(got, "\n") != strings.Join(c.events, "\n") {
				t.Fatalf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(c.events, "\n"))
			}
		})
	}
}
