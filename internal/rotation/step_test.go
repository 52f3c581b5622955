package rotation

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	kubefake "k8s.io/client-go/kubernetes/fake"
	metadatafake "k8s.io/client-go/metadata/fake"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/internal/family"
	"github.com/rotor-project/rotor/internal/repoint"
	"github.com/rotor-project/rotor/internal/rollout"
)

// memStore keeps rotations in memory with a resourceVersion fence, and counts saves.
type memStore struct {
	rots  map[string]*v1alpha1.SecretRotation
	saves int
}

func (s *memStore) key(ns, name string) string { return ns + "/" + name }

func (s *memStore) Get(_ context.Context, ns, name string) (*v1alpha1.SecretRotation, error) {
	if r, ok := s.rots[s.key(ns, name)]; ok {
		return r.DeepCopy(), nil
	}
	return nil, ErrNotFound
}

func (s *memStore) Create(_ context.Context, rot *v1alpha1.SecretRotation) (*v1alpha1.SecretRotation, error) {
	r := rot.DeepCopy()
	r.ResourceVersion = "1"
	s.rots[s.key(r.Namespace, r.Name)] = r
	return r.DeepCopy(), nil
}

func (s *memStore) Update(_ context.Context, rot *v1alpha1.SecretRotation) (*v1alpha1.SecretRotation, error) {
	cur, ok := s.rots[s.key(rot.Namespace, rot.Name)]
	if !ok || cur.ResourceVersion != rot.ResourceVersion {
		return nil, &ConflictError{Namespace: rot.Namespace, Name: rot.Name}
	}
	s.saves++
	r := rot.DeepCopy()
	r.ResourceVersion = fmt.Sprint(s.saves + 1)
	s.rots[s.key(r.Namespace, r.Name)] = r
	return r.DeepCopy(), nil
}

func (s *memStore) List(context.Context, string, string) ([]*v1alpha1.SecretRotation, error) {
	return nil, nil
}

// onePlan plans web from v1 to v2, with web as a planner reads it (nil: as one that
// keeps nothing it read).
type onePlan struct{ read *unstructured.Unstructured }

func (p onePlan) Plan(context.Context, rollout.Request) (*rollout.Plan, error) {
	return &rollout.Plan{Family: "app", Items: []rollout.Item{{
		Consumer: rollout.Consumer{Target: repoint.Target{Kind: "Deployment", Namespace: "ns", Name: "web"}}, To: v2, Rolls: true, Current: v1,
		Object: p.read}}}, nil
}

// web is Deployment web naming version, rolled out.
func web(version string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "web", "namespace": "ns", "resourceVersion": "7", "generation": int64(1)},
		"spec": map[string]any{"replicas": int64(2),
			"selector": map[string]any{"matchLabels": map[string]any{"app": "web"}},
			"template": map[string]any{"spec": map[string]any{"containers": []any{map[string]any{
				"name": "app", "image": "app:1", "envFrom": []any{map[string]any{"secretRef": map[string]any{"name": version}}}}}}}},
		"status": map[string]any{"observedGeneration": int64(1), "replicas": int64(2), "updatedReplicas": int64(2), "availableReplicas": int64(2), "readyReplicas": int64(2)},
	}}
}

// secretMeta is version name of app, labelled as rotor labels the versions it makes
// (or not).
func secretMeta(name string, labelled bool) *metav1.PartialObjectMetadata {
	m := &metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"}, ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"}}
	if labelled {
		m.Labels = map[string]string{family.LabelFamily: family.LabelValue("app")}
	}
	return m
}

func TestAStepFoldsTheJournalOnlyActionsIntoTheWriteThatFollows(t *testing.T) {
	deadlinePassed := func(r *v1alpha1.SecretRotation) { r.Status.Deadline = at(-time.Second) }
	unplanned := func(r *v1alpha1.SecretRotation) {
		r.Status = v1alpha1.RotationStatus{TargetVersion: v2}
	}
	tests := []struct {
		name      string
		rot       *v1alpha1.SecretRotation
		on        string // the version web names before the step
		unlabeled bool   // the versions lack rotor's labels
		action    ActionType
		phase     v1alpha1.Phase
		after     string // the version web names after it
		saves     int
		requests  []string // to the consumer
		lists     int      // of Secrets
		checklist []string
	}{
		{"a planned rotation is started and re-pointed in one step: two saves, one read and one patch of the consumer",
			rolling(v1alpha1.Pending, func(r *v1alpha1.SecretRotation) { r.Status.Started, r.Status.Deadline = nil, nil }),
			v1, false, ActRepoint, v1alpha1.Progressing, v2, 2, []string{"get", "patch"}, 2, []string{CheckCreated, CheckStarted}},
		{"a rotation without a plan is planned, started and re-pointed in one step, looking at what the plan read and at the versions listed beside it",
			rolling("", unplanned), v1, false, ActRepoint, v1alpha1.Progressing, v2, 2, []string{"patch"}, 1, []string{CheckCreated, CheckStarted}},
		{"a plan's versions without rotor's labels are checked by name",
			rolling("", unplanned), v1, true, ActRepoint, v1alpha1.Progressing, v2, 2, []string{"patch"}, 3, []string{CheckCreated, CheckStarted}},
		{"a failure that rolls back is saved with the restore's intent, and the restore patches what the step read",
			rolling(v1alpha1.Progressing, deadlinePassed), v2, false, ActRestore, v1alpha1.RollingBack, v1, 2, []string{"get", "patch"}, 2, nil},
		{"a consumer the dead run re-pointed, now healthy, is marked re-pointed and healthy and the rotation finished in one save",
			rolling(v1alpha1.Progressing), v2, false, ActFinish, v1alpha1.Succeeded, v2, 1, []string{"get"}, 2, []string{CheckRepointed, CheckHealthy, CheckFinished}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			dyn := dynamicfake.NewSimpleDynamicClient(runtime.NewScheme(), web(tt.on))
			ms := metadatafake.NewTestScheme()
			if err := metav1.AddMetaToScheme(ms); err != nil {
				t.Fatal(err)
			}
			meta := metadatafake.NewSimpleMetadataClient(ms, secretMeta(v1, !tt.unlabeled), secretMeta(v2, !tt.unlabeled))
			store := &memStore{rots: map[string]*v1alpha1.SecretRotation{}}
			e := &Engine{Client: kubefake.NewClientset(), Metadata: meta, Repointer: &repoint.Repointer{Dynamic: dyn},
				Planner: onePlan{read: web(tt.on)}, Store: store, Clock: clk}
			stored, err := store.Create(ctx, tt.rot)
			if err != nil {
				t.Fatal(err)
			}
			res, err := e.Step(ctx, stored)
			if err != nil {
				t.Fatal(err)
			}
			if res.Action.Type != tt.action || res.Rotation.Status.Phase != tt.phase {
				t.Errorf("step took %s and left the rotation %s, want %s and %s", res.Action.Type, res.Rotation.Status.Phase, tt.action, tt.phase)
			}
			if store.saves != tt.saves {
				t.Errorf("the journal was saved %d times, want %d", store.saves, tt.saves)
			}
			var verbs []string
			for _, a := range dyn.Actions() {
				verbs = append(verbs, a.GetVerb())
			}
			if !reflect.DeepEqual(verbs, tt.requests) {
				t.Errorf("requests to the consumer = %v, want %v", verbs, tt.requests)
			}
			lists := 0
			for _, a := range meta.Actions() {
				if a.GetVerb() == "list" {
					lists++
				}
			}
			if lists != tt.lists {
				t.Errorf("Secrets were listed %d times, want %d", lists, tt.lists)
			}
			obj, err := dyn.Resource(schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}).Namespace("ns").Get(ctx, "web", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got := versionsNamed(obj, "app", false); len(got) != 1 || got[0] != tt.after {
				t.Errorf("web names %v after the step, want %s", got, tt.after)
			}
			saved, _ := store.Get(ctx, "ns", "r")
			if saved.Status.Intent != nil {
				t.Errorf("the journal keeps the intent %+v after the write", saved.Status.Intent)
			}
			for _, name := range tt.checklist {
				found := false
				for _, c := range saved.Status.Checklist {
					found = found || c.Name == name
				}
				if !found {
					t.Errorf("the checklist %+v lacks %q", saved.Status.Checklist, name)
				}
			}
		})
	}
}
