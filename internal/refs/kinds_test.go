package refs

import (
	"context"
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	fakediscovery "k8s.io/client-go/discovery/fake"
	fakedynamic "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// failingDiscovery serves no custom resources, and fails for one group version.
type failingDiscovery struct {
	*fakediscovery.FakeDiscovery
	failing string
}

func (d failingDiscovery) ServerResourcesForGroupVersion(gv string) (*metav1.APIResourceList, error) {
	if gv == d.failing {
		return nil, errors.New("connection reset by peer")
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{}, gv)
}

func TestADiscoveryFailureIsAGapWhileAnUnservedAPIIsSkipped(t *testing.T) {
	c := fake.NewClientset()
	disc := failingDiscovery{FakeDiscovery: c.Discovery().(*fakediscovery.FakeDiscovery), failing: "argoproj.io/v1alpha1"}
	f := &Finder{Client: c, Discovery: disc, Dynamic: fakedynamic.NewSimpleDynamicClient(runtime.NewScheme())}
	res, err := f.Find(context.Background(), Query{Names: []string{"s"}})
	if err != nil {
		t.Fatal(err)
	}
	gaps := map[string]string{}
	for _, nc := range res.NotChecked {
		gaps[nc.Kind] = nc.Reason
	}
	for _, kind := range []string{"Rollout", "AnalysisTemplate", "ClusterAnalysisTemplate", "AnalysisRun"} {
		if !strings.Contains(gaps[kind], "API discovery of argoproj.io/v1alpha1 failed") {
			t.Fatalf("%s: not reported as not checked: %v", kind, gaps)
		}
	}
	for _, kind := range []string{"ExternalSecret", "Gateway"} {
		if _, ok := gaps[kind]; ok {
			t.Fatalf("%s, whose API is not served, was reported as a gap: %v", kind, gaps)
		}
	}
}

func TestAClusterScopedObjectCountsOnlyForTheNamespaceItsReferenceNames(t *testing.T) {
	pv := func(name, ns string) *corev1.PersistentVolume {
		return &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PersistentVolumeSpec{
			PersistentVolumeSource: corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{Driver: "d", VolumeHandle: name,
				NodeStageSecretRef: &corev1.SecretReference{Name: "s", Namespace: ns}}}}}
	}
	noNamespace := pv("anywhere", "")
	c := fake.NewClientset(pv("in-a", "a"), pv("in-b", "b"), noNamespace)
	res, err := (&Finder{Client: c}).Find(context.Background(), Query{Namespace: "a", Names: []string{"s"}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range res.References {
		got = append(got, r.Object.Name+" ns="+r.SecretNamespace)
	}
	if strings.Join(got, ",") != "anywhere ns=,in-a ns=a" {
		t.Fatalf("references = %v", got)
	}
}

// servingDiscovery serves one group version.
type servingDiscovery struct {
	*fakediscovery.FakeDiscovery
	served *metav1.APIResourceList
}

func (d servingDiscovery) ServerResourcesForGroupVersion(gv string) (*metav1.APIResourceList, error) {
	if gv == d.served.GroupVersion {
		return d.served, nil
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{}, gv)
}

func TestACustomKindThatIsServedButCannotBeListedIsAGap(t *testing.T) {
	c := fake.NewClientset()
	disc := servingDiscovery{FakeDiscovery: c.Discovery().(*fakediscovery.FakeDiscovery), served: &metav1.APIResourceList{
		GroupVersion: "argoproj.io/v1alpha1", APIResources: []metav1.APIResource{{Name: "rollouts", Namespaced: true, Kind: "Rollout"}}}}
	dyn := fakedynamic.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{
		{Group: "argoproj.io", Version: "v1alpha1", Resource: "rollouts"}: "RolloutList"})
	dyn.PrependReactor("list", "rollouts", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewInternalError(errors.New("conversion webhook for argoproj.io/v1alpha1, Kind=Rollout failed"))
	})
	res, err := (&Finder{Client: c, Discovery: disc, Dynamic: dyn}).Find(context.Background(), Query{Namespace: "a", Names: []string{"s"}})
	if err != nil {
		t.Fatalf("a custom kind that cannot be listed ended the search: %v", err)
	}
	if len(res.NotChecked) != 1 || res.NotChecked[0].Kind != "Rollout" || !strings.Contains(res.NotChecked[0].Reason, "conversion webhook") {
		t.Fatalf("not checked = %+v", res.NotChecked)
	}
}
