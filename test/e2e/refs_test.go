package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"github.com/rotor-project/rotor/internal/refs"
	"github.com/rotor-project/rotor/test/clusterenv"
	"github.com/rotor-project/rotor/test/waitfor"
)

// refsFinder is the engine as the command builds it: protobuf for typed clients.
func refsFinder(t *testing.T) *refs.Finder {
	t.Helper()
	cfg := clusterenv.RESTConfig(t)
	proto := rest.CopyConfig(cfg)
	proto.ContentType = "application/vnd.kubernetes.protobuf"
	proto.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	client, err := kubernetes.NewForConfig(proto)
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	meta, err := metadata.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &refs.Finder{Client: client, Dynamic: dyn, Discovery: disc, Metadata: meta, PageSize: 3}
}

// describeRefs is one line per reference; generated names (ReplicaSets, Pods,
// ControllerRevisions) are shortened to their top owner's name and "-*".
func describeRefs(rs []refs.Reference) []string {
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		top := ""
		if len(r.Owners) > 0 {
			top = r.Owners[len(r.Owners)-1].Name
		}
		short := func(name string) string {
			if top != "" && strings.HasPrefix(name, top+"-") {
				return top + "-*"
			}
			return name
		}
		owners := make([]string, 0, len(r.Owners))
		for _, o := range r.Owners {
			owners = append(owners, o.Kind+"/"+short(o.Name))
		}
		where := ""
		if r.File != "" {
			where = fmt.Sprintf(" %s:%d", filepath.ToSlash(r.File), r.Line)
		}
		dangling := ""
		if r.Dangling {
			dangling = " dangling"
		}
		out = append(out, fmt.Sprintf("%s %s %s rev=%s %s %s optional=%v keys=%v owners=%s%s%s",
			r.Role, r.Object.Kind, short(r.Object.Name), r.Revision, r.Secret, r.Path, r.Optional, r.Keys,
			strings.Join(owners, ","), dangling, where))
	}
	sort.Strings(out)
	return out
}

func diffLines(got, want []string) string {
	in := func(l []string) map[string]bool {
		m := map[string]bool{}
		for _, s := range l {
			m[s] = true
		}
		return m
	}
	g, w := in(got), in(want)
	var b strings.Builder
	for _, s := range want {
		if !g[s] {
			b.WriteString("missing:    " + s + "\n")
		}
	}
	for _, s := range got {
		if !w[s] {
			b.WriteString("unexpected: " + s + "\n")
		}
	}
	if b.Len() == 0 && len(got) != len(want) {
		fmt.Fprintf(&b, "duplicates: got %d lines, want %d\n", len(got), len(want))
	}
	return b.String()
}

func expectedWorkloadRefs(cur, old, gone string) []string {
	lines := []string{
		"live Deployment api rev= {cur} spec.template.spec.containers[name=app].env[name=TOKEN].valueFrom.secretKeyRef optional=false keys=[token] owners=",
		"live ReplicaSet api-* rev=2 {cur} spec.template.spec.containers[name=app].env[name=TOKEN].valueFrom.secretKeyRef optional=false keys=[token] owners=Deployment/api",
		"rollback-target ReplicaSet api-* rev=1 {old} spec.template.spec.containers[name=app].env[name=TOKEN].valueFrom.secretKeyRef optional=false keys=[token] owners=Deployment/api",
		"live Pod api-* rev= {cur} spec.containers[name=app].env[name=TOKEN].valueFrom.secretKeyRef optional=false keys=[token] owners=ReplicaSet/api-*,Deployment/api",
		"live StatefulSet db rev= {cur} spec.template.spec.initContainers[name=init].envFrom[0].secretRef optional=false keys=[] owners=",
		"live StatefulSet db rev= {cur} spec.template.spec.volumes[name=creds].secret optional=false keys=[token] owners=",
		"live ControllerRevision db-* rev=1 {cur} data.spec.template.spec.initContainers[name=init].envFrom[0].secretRef optional=false keys=[] owners=StatefulSet/db",
		"live ControllerRevision db-* rev=1 {cur} data.spec.template.spec.volumes[name=creds].secret optional=false keys=[token] owners=StatefulSet/db",
		"live Pod db-* rev= {cur} spec.initContainers[name=init].envFrom[0].secretRef optional=false keys=[] owners=StatefulSet/db",
		"live Pod db-* rev= {cur} spec.volumes[name=creds].secret optional=false keys=[token] owners=StatefulSet/db",
		"live DaemonSet agent rev= {cur} spec.template.spec.volumes[name=all].projected.sources[0].secret optional=true keys=[] owners=",
		"live ControllerRevision agent-* rev=1 {cur} data.spec.template.spec.volumes[name=all].projected.sources[0].secret optional=true keys=[] owners=DaemonSet/agent",
		"live Pod agent-* rev= {cur} spec.volumes[name=all].projected.sources[0].secret optional=true keys=[] owners=DaemonSet/agent",
		"live ReplicationController legacy rev= {cur} spec.template.spec.containers[name=app].envFrom[0].secretRef optional=true keys=[] owners=",
		"live Pod legacy-* rev= {cur} spec.containers[name=app].envFrom[0].secretRef optional=true keys=[] owners=ReplicationController/legacy",
		"finished Job nightly-* rev= {cur} spec.template.spec.imagePullSecrets[0] optional=false keys=[] owners=CronJob/nightly",
		"finished Pod nightly-* rev= {cur} spec.imagePullSecrets[0] optional=false keys=[] owners=Job/nightly-*,CronJob/nightly",
		"live Rollout canary rev= {cur} spec.template.spec.containers[name=app].env[name=TOKEN].valueFrom.secretKeyRef optional=false keys=[token] owners=",
		"live ExternalSecret from-vault rev= {cur} spec.target.name optional=false keys=[] owners=",
	}
	lines = append(lines, expectedSimpleRefs()...)
	r := strings.NewReplacer("{cur}", cur, "{old}", old, "{gone}", gone)
	for i := range lines {
		lines[i] = r.Replace(lines[i])
	}
	sort.Strings(lines)
	return lines
}

func expectedSimpleRefs() []string {
	return []string{
		"live CronJob nightly rev= {cur} spec.jobTemplate.spec.template.spec.imagePullSecrets[0] optional=false keys=[] owners=",
		"live Pod debug rev= {cur} spec.containers[name=shell].env[name=TOKEN].valueFrom.secretKeyRef optional=false keys=[token] owners=",
		"live Pod debug rev= {gone} spec.containers[name=shell].env[name=OLD].valueFrom.secretKeyRef optional=false keys=[token] owners= dangling",
		"live ServiceAccount robot rev= {cur} secrets[0] optional=false keys=[] owners=",
		"live ServiceAccount robot rev= {cur} imagePullSecrets[0] optional=false keys=[] owners=",
		"live Ingress site rev= {cur} spec.tls[0].secretName optional=false keys=[] owners=",
	}
}

// refsWatched are the kinds of the refs fixtures, whose changes may change what a
// search finds: the custom kinds too (a watch of a kind not served yet retries, and
// wakes the search each time, until its CRD is served).
var refsWatched = append(append([]schema.GroupVersionResource{}, watched...),
	clusterenv.CronJobs, clusterenv.Jobs, clusterenv.ServiceAccounts,
	schema.GroupVersionResource{Group: "networking.k8s.io", Version: "v1", Resource: "ingresses"},
	schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "controllerrevisions"},
	rolloutsGVR, externalSecretGVR)

// findUntil runs the search until it returns want, again after every change in the
// fixture's namespace ns (controllers and kwok settle the fixture within seconds), and
// fails with the difference when the test's deadline comes first.
func findUntil(t *testing.T, f *refs.Finder, q refs.Query, want []string, ns string) *refs.Result {
	t.Helper()
	var res *refs.Result
	var d string
	err := clusterenv.Until(waitfor.Context(t), clusterenv.RESTConfig(t), ns, func(ctx context.Context) (bool, error) {
		var err error
		if res, err = f.Find(ctx, q); err != nil {
			return false, fmt.Errorf("Find: %w", err)
		}
		d = diffLines(describeRefs(res.References), want)
		return d == "", nil
	}, refsWatched...)
	if err != nil {
		t.Fatalf("%v; references differ from the expected set:\n%s", err, d)
	}
	return res
}

func TestRefsFindsEveryStyleExactlyWithOwnersAndRoles(t *testing.T) {
	t.Parallel()
	ns, elsewhere := clusterenv.Namespace(t), clusterenv.Namespace(t)
	fam := refsFamily(t)
	cur, old, gone := fam+"-20250723110000", fam+"-20250715100000", fam+"-20250101000000"
	refsSimpleFixture(t, ns, cur, gone)
	refsWorkloadFixture(t, ns, fam, cur, old)
	refsCustomFixture(t, ns, cur)
	// The same name in another namespace, where no such Secret exists.
	must(t)(clusterenv.Client(t).AppsV1().Deployments(elsewhere).Create(context.Background(), &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "other"},
		Spec: appsv1.DeploymentSpec{Replicas: ptr.To(int32(0)), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "other"}},
			Template: podTemplate("other", corev1.PodSpec{ImagePullSecrets: []corev1.LocalObjectReference{{Name: cur}}})},
	}, metav1.CreateOptions{}))

	f := refsFinder(t)
	want := expectedWorkloadRefs(cur, old, gone)
	t.Run("by names in one namespace", func(t *testing.T) {
		res := findUntil(t, f, refs.Query{Namespace: ns, Names: []string{cur, old, gone}}, want, ns)
		if fmt.Sprint(res.Missing) != fmt.Sprint([]string{gone}) || len(res.NotChecked) != 0 {
			t.Fatalf("missing %v, not checked %v; want [%s] and none", res.Missing, res.NotChecked, gone)
		}
	})
	t.Run("by family in one namespace", func(t *testing.T) {
		findUntil(t, f, refs.Query{Namespace: ns, Family: fam}, want, ns)
	})
	t.Run("in every namespace, the other namespace's reference is dangling", func(t *testing.T) {
		wantAll := append(expectedWorkloadRefs(cur, old, gone),
			"live Deployment other rev= "+cur+" spec.template.spec.imagePullSecrets[0] optional=false keys=[] owners= dangling",
			"live ReplicaSet other-* rev=1 "+cur+" spec.template.spec.imagePullSecrets[0] optional=false keys=[] owners=Deployment/other dangling")
		sort.Strings(wantAll)
		eventually(t, elsewhere, "the ReplicaSet of the other namespace's Deployment", func() bool {
			l, err := clusterenv.Client(t).AppsV1().ReplicaSets(elsewhere).List(context.Background(), metav1.ListOptions{})
			return err == nil && len(l.Items) == 1
		})
		findUntil(t, f, refs.Query{Family: fam}, wantAll, ns)
	})
}

func TestRefsReadsManifestsWithLineNumbers(t *testing.T) {
	t.Parallel()
	f := &refs.Finder{}
	res, err := f.Find(context.Background(), refs.Query{Namespace: "payments",
		Names: []string{"auth-20250723110000", "auth-20250715100000", "auth-20250101000000"}, Paths: []string{"testdata/refs-manifests"}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"live Deployment api rev= auth-20250723110000 spec.template.spec.initContainers[name=init].envFrom[0].secretRef optional=false keys=[] owners= testdata/refs-manifests/apps/api.yaml:17",
		"live Deployment api rev= auth-20250723110000 spec.template.spec.containers[name=app].env[name=TOKEN].valueFrom.secretKeyRef optional=true keys=[token] owners= testdata/refs-manifests/apps/api.yaml:27",
		"live StatefulSet db rev= auth-20250715100000 spec.template.spec.volumes[name=creds].secret optional=false keys=[token] owners= testdata/refs-manifests/apps/api.yaml:48",
		"live StatefulSet db rev= auth-20250723110000 spec.template.spec.volumes[name=all].projected.sources[1].secret optional=true keys=[] owners= testdata/refs-manifests/apps/api.yaml:54",
		"live CronJob nightly rev= auth-20250723110000 spec.jobTemplate.spec.template.spec.imagePullSecrets[0] optional=false keys=[] owners= testdata/refs-manifests/list.json:14",
		"live ServiceAccount robot rev= auth-20250723110000 secrets[0] optional=false keys=[] owners= testdata/refs-manifests/list.json:22",
		"live ServiceAccount robot rev= auth-20250101000000 imagePullSecrets[0] optional=false keys=[] owners= testdata/refs-manifests/list.json:23",
		"live Ingress site rev= auth-20250723110000 spec.tls[0].secretName optional=false keys=[] owners= testdata/refs-manifests/nested/deeper/edge.yml:7",
		"live Rollout canary rev= auth-20250723110000 spec.template.spec.containers[name=app].envFrom[0].secretRef optional=false keys=[] owners= testdata/refs-manifests/nested/deeper/edge.yml:20",
		"live ExternalSecret from-vault rev= auth-20250723110000 spec.target.name optional=false keys=[] owners= testdata/refs-manifests/nested/deeper/edge.yml:27",
	}
	sort.Strings(want)
	if d := diffLines(describeRefs(res.References), want); d != "" {
		t.Fatalf("manifest references differ:\n%s", d)
	}
	if len(res.NotChecked) != 0 || len(res.Missing) != 0 {
		t.Fatalf("not checked %v, missing %v; want none (no cluster, no existence check)", res.NotChecked, res.Missing)
	}
}

func TestRefsTableIsGroupedByRoleAndSaysWhatDoesNotExist(t *testing.T) {
	t.Parallel()
	ns := clusterenv.Namespace(t)
	refsSimpleFixture(t, ns, "auth-20250723110000", "auth-20250101000000")
	before := snapshot(t, ns)
	r := run(t, nil, "", "refs", "auth-20250723110000", "auth-20250101000000", "-n", ns, "--path", "testdata/refs-manifests")
	if r.Code != 0 {
		t.Fatalf("refs: %+v", r)
	}
	assertGolden(t, "refs-table", r.Stdout, map[string]string{"NS": ns})
	assertUnchanged(t, ns, before)

	j := run(t, nil, "", "refs", "auth-20250723110000", "auth-20250101000000", "-n", ns, "-o", "json")
	var doc struct {
		APIVersion, Kind string
		Missing          []string
		NotChecked       []any
		Items            []struct {
			Secret, Role, Path, Style string
			Object                    struct{ Kind, APIVersion, Namespace, Name, UID string }
			Dangling                  bool
		}
	}
	if err := json.Unmarshal([]byte(j.Stdout), &doc); err != nil || j.Code != 0 {
		t.Fatalf("refs -o json: %v %+v", err, j)
	}
	if doc.APIVersion != "rotor.dev/v1alpha1" || doc.Kind != "ReferenceList" || len(doc.Items) != 6 ||
		fmt.Sprint(doc.Missing) != "[auth-20250101000000]" || doc.NotChecked == nil {
		t.Fatalf("unexpected document: %s", j.Stdout)
	}
	for _, it := range doc.Items {
		if it.Object.UID == "" || it.Object.Namespace != ns || it.Object.APIVersion == "" || it.Style == "" {
			t.Fatalf("incomplete item %+v", it)
		}
		if it.Dangling != (it.Secret == "auth-20250101000000") {
			t.Fatalf("dangling wrong on %+v", it)
		}
	}
}

func TestRefsRejectsBadInputWithOneClearMessage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no name and no family", []string{"refs"}, "give at least one Secret NAME or --family FAMILY"},
		{"an invalid Secret name", []string{"refs", "Not_A_Name"}, `"Not_A_Name" is not a valid Secret name`},
		{"an unknown output format", []string{"refs", "x", "-o", "csv"}, `unknown output format "csv"`},
		{"a manifests path that does not exist", []string{"refs", "x", "--path", "/nonexistent/rotor"}, "cannot read manifests at /nonexistent/rotor"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, nil, "", tt.args...)
			if r.Code != 1 || !strings.Contains(r.Stderr, tt.want) || r.Stdout != "" {
				t.Fatalf("want exit 1 and %q on stderr only, got %+v", tt.want, r)
			}
		})
	}
}

func TestRefsReportsAKindItMayNotListAndFails(t *testing.T) {
	t.Parallel()
	ns := clusterenv.Namespace(t)
	refsSimpleFixture(t, ns, "auth-20250723110000", "auth-20250101000000")
	c := clusterenv.Client(t)
	ctx := context.Background()
	// May list everything rotor reads, except CronJobs.
	must(t)(c.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "refs-reader"},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"pods", "replicationcontrollers", "serviceaccounts", "secrets"}, Verbs: []string{"list"}},
			{APIGroups: []string{"apps"}, Resources: []string{"deployments", "replicasets", "statefulsets", "daemonsets", "controllerrevisions"}, Verbs: []string{"list"}},
			{APIGroups: []string{"batch"}, Resources: []string{"jobs"}, Verbs: []string{"list"}},
			{APIGroups: []string{"networking.k8s.io"}, Resources: []string{"ingresses"}, Verbs: []string{"list"}},
			{APIGroups: []string{"argoproj.io"}, Resources: []string{"rollouts"}, Verbs: []string{"list"}},
			{APIGroups: []string{"external-secrets.io"}, Resources: []string{"externalsecrets"}, Verbs: []string{"list"}},
		},
	}, metav1.CreateOptions{}))
	must(t)(c.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "refs-reader"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "refs-reader"},
		Subjects:   []rbacv1.Subject{{Kind: "User", APIGroup: "rbac.authorization.k8s.io", Name: "refs-reader"}},
	}, metav1.CreateOptions{}))
	var r result
	waitFor(t, "the RoleBinding to take effect", func() bool {
		r = run(t, nil, "", "refs", "auth-20250723110000", "-n", ns, "--as", "refs-reader")
		return strings.Contains(r.Stdout, "Ingress")
	})
	if r.Code != 1 || !strings.Contains(r.Stdout, "not checked: CronJob in namespace "+ns+": forbidden") ||
		!strings.Contains(r.Stderr, "the search is incomplete") || strings.Contains(r.Stdout, "CronJob   ") {
		t.Fatalf("want the CronJob kind reported as not checked and exit 1, got %+v", r)
	}
	j := run(t, nil, "", "refs", "auth-20250723110000", "-n", ns, "--as", "refs-reader", "-o", "json")
	if j.Code != 1 || !strings.Contains(j.Stdout, `"reason": "forbidden"`) {
		t.Fatalf("want notChecked in the JSON document and exit 1, got %+v", j)
	}
}
