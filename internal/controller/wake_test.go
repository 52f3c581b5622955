package controller

import (
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/controller/priorityqueue"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/internal/refindex"
)

// recordingQueue is a priority queue that records what is added to it.
type recordingQueue struct {
	workqueue.TypedRateLimitingInterface[reconcile.Request]
	added []added
}

type added struct {
	key      string
	after    time.Duration
	priority int
}

func (q *recordingQueue) AddWithOpts(o priorityqueue.AddOpts, items ...reconcile.Request) {
	for _, it := range items {
		q.added = append(q.added, added{key: it.String(), after: o.After, priority: *o.Priority})
	}
}

func (q *recordingQueue) GetWithPriority() (reconcile.Request, int, bool) {
	return reconcile.Request{}, 0, true
}

func TestChangesWakeRotations(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	rot := func(name string) *v1alpha1.SecretRotation {
		return &v1alpha1.SecretRotation{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: name},
			Spec: v1alpha1.RotationSpec{Family: "app"}}
	}
	cases := []struct {
		name   string
		change refindex.Change
		looked time.Duration // how long ago "rolling" last looked (0: never)
		want   []added
	}{
		{
			name:   "a new version wakes every rotation of its family at once, ahead of the rest",
			change: refindex.Change{Namespace: "shop", Kind: "Secret", Families: []string{"app"}},
			looked: 100 * time.Millisecond,
			want:   []added{{key: "shop/done", priority: priorityVersion}, {key: "shop/rolling", priority: priorityVersion}},
		},
		{
			name:   "a consumer's change wakes the rotation in progress at once when it has not looked yet",
			change: refindex.Change{Namespace: "shop", Kind: "Pod", Families: []string{"app"}},
			want:   []added{{key: "shop/rolling", priority: priorityLook}},
		},
		{
			name:   "a consumer's change wakes a rotation that just looked once the rest of a second has passed",
			change: refindex.Change{Namespace: "shop", Kind: "Deployment", Families: []string{"app"}},
			looked: 300 * time.Millisecond,
			want:   []added{{key: "shop/rolling", after: 700 * time.Millisecond, priority: priorityLook}},
		},
		{
			name:   "a consumer's change wakes a rotation that looked more than a second ago at once",
			change: refindex.Change{Namespace: "shop", Kind: "Pod", Families: []string{"app"}},
			looked: 3 * time.Second,
			want:   []added{{key: "shop/rolling", priority: priorityLook}},
		},
		{
			name:   "a change of another family or namespace wakes nothing",
			change: refindex.Change{Namespace: "other", Kind: "Secret", Families: []string{"app"}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clk := clocktesting.NewFakeClock(t0)
			q := &recordingQueue{}
			var qi queue = q
			r := &Reconciler{clock: clk}
			r.queue.Store(&qi)
			r.tracked.set(rot("rolling"), true)
			r.tracked.set(rot("done"), false)
			if tc.looked > 0 {
				r.looked.Store(types.NamespacedName{Namespace: "shop", Name: "rolling"}, t0.Add(-tc.looked))
			}
			r.onChange(tc.change)
			got := sortAdded(q.added)
			if len(got) != len(tc.want) {
				t.Fatalf("added %+v, want %+v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("added %+v, want %+v", got, tc.want)
				}
			}
		})
	}
}

func sortAdded(a []added) []added {
	out := slices.Clone(a)
	slices.SortFunc(out, func(x, y added) int { return strings.Compare(x.key, y.key) })
	return out
}
