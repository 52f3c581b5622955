package refs

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	"sigs.k8s.io/yaml"
)

// The testdata were stored by Helm's own storage driver (test/helmfixture, helm.sh/helm/v4
// v4.3.2): revision 3 of release web in a Secret (superseded), revision 4 in a
// ConfigMap (the configmap driver). Their manifest renders a Secret with a canary
// value, and the release's values hold another.
func helmObjects(t *testing.T) []runtime.Object {
	t.Helper()
	var out []runtime.Object
	for _, f := range []string{"testdata/helm/secret-v3.yaml", "testdata/helm/configmap-v4.yaml"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(f, "secret") {
			var s corev1.Secret
			if err := yaml.Unmarshal(b, &s); err != nil {
				t.Fatal(err)
			}
			out = append(out, &s)
		} else {
			var cm corev1.ConfigMap
			if err := yaml.Unmarshal(b, &cm); err != nil {
				t.Fatal(err)
			}
			out = append(out, &cm)
		}
	}
	return out
}

func TestAHelmReleaseRevisionsManifestNamesRollbackTargets(t *testing.T) {
	c := fake.NewClientset(helmObjects(t)...)
	res, err := (&Finder{Client: c, Helm: true}).Find(context.Background(), Query{Namespace: "shop", Names: []string{"app-20250101000000"}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range res.References {
		got = append(got, fmt.Sprintf("%s %s/%s owner=%s/%s rev=%s ns=%s %s %s", r.Role, r.Object.Kind, r.Object.Name,
			r.Owners[0].Kind, r.Owners[0].Name, r.Revision, r.SecretNamespace, r.Path, r.Style))
	}
	want := []string{
		"rollback-target ConfigMap/sh.helm.release.v1.web.v4 owner=Release/web rev=4 ns=shop manifest[Deployment/web].spec.template.spec.containers[name=app].envFrom[0].secretRef envFrom.secretRef",
		"rollback-target ConfigMap/sh.helm.release.v1.web.v4 owner=Release/web rev=4 ns=shop manifest[Deployment/web].spec.template.spec.volumes[name=csi].csi.nodePublishSecretRef volume.csi.nodePublishSecretRef",
		"rollback-target ConfigMap/sh.helm.release.v1.web.v4 owner=Release/web rev=4 ns=shop manifest[Ingress/web].metadata.annotations[nginx.ingress.kubernetes.io/auth-secret] annotation",
		"rollback-target Secret/sh.helm.release.v1.web.v3 owner=Release/web rev=3 ns=shop manifest[Deployment/web].spec.template.spec.containers[name=app].envFrom[0].secretRef envFrom.secretRef",
		"rollback-target Secret/sh.helm.release.v1.web.v3 owner=Release/web rev=3 ns=shop manifest[Deployment/web].spec.template.spec.volumes[name=csi].csi.nodePublishSecretRef volume.csi.nodePublishSecretRef",
		"rollback-target Secret/sh.helm.release.v1.web.v3 owner=Release/web rev=3 ns=shop manifest[Ingress/web].metadata.annotations[nginx.ingress.kubernetes.io/auth-secret] annotation",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Nothing of the release but the references is kept: no rendered value, no values.
	if dump := fmt.Sprintf("%+v", res); strings.Contains(dump, "canary") {
		t.Fatalf("the result holds release content: %s", dump)
	}
}

func TestAReleaseThatCannotBeDecodedMakesTheSearchIncomplete(t *testing.T) {
	objs := helmObjects(t)
	bad := objs[0].(*corev1.Secret)
	bad.Data["release"] = []byte("not base64 at all!")
	c := fake.NewClientset(bad)
	res, err := (&Finder{Client: c, Helm: true}).Find(context.Background(), Query{Namespace: "shop", Names: []string{"app-20250101000000"}})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, nc := range res.NotChecked {
		if nc.Kind == "Helm release" && strings.Contains(nc.Reason, "sh.helm.release.v1.web.v3") {
			found = true
		}
	}
	if !found || len(res.References) != 0 {
		t.Fatalf("not checked = %+v, references = %d", res.NotChecked, len(res.References))
	}
}
