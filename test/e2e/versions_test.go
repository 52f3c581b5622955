package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rotor-project/rotor/test/clusterenv"
)

// versionsFixture creates three versions with rotor, one by hand without labels, the
// unversioned Secret, and decoys that are not versions of the family.
func versionsFixture(t *testing.T, ns string) {
	t.Helper()
	clk := newClock(t0)
	for i, key := range []string{"token", "token", "token,extra"} {
		args := []string{"create", "auth", "-n", ns}
		for _, k := range strings.Split(key, ",") {
			args = append(args, "--from-literal", k+"=v")
		}
		if r := run(t, clk, "", args...); r.Code != 0 {
			t.Fatalf("create %d: %+v", i, r)
		}
		clk.Step(24 * time.Hour)
	}
	c := clusterenv.Client(t)
	for _, name := range []string{
		"auth-20250101000000", // by hand: still a version
		"auth",                // unversioned
		"auth-foo", "authx-20250723110000", "auth-20251399999999", "auth-20250723110000-old", "xauth-20250723110000",
	} {
		if _, err := c.CoreV1().Secrets(ns).Create(context.Background(), &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: name}, Data: map[string][]byte{"password": []byte("p")},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestVersionsListsNewestFirstWithStates(t *testing.T) {
	t.Parallel()
	ns := clusterenv.Namespace(t)
	versionsFixture(t, ns)
	now := newClock(t0.Add(72 * time.Hour))
	r := run(t, now, "", "versions", "auth", "-n", ns)
	if r.Code != 0 {
		t.Fatalf("versions: %+v", r)
	}
	// The unversioned Secret's age and creation time are real; check its row apart.
	lines := strings.Split(strings.TrimRight(r.Stdout, "\n"), "\n")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "auth ") || !strings.Contains(last, "unversioned") {
		t.Fatalf("the unversioned Secret is not listed last: %q", last)
	}
	assertGolden(t, "versions-table", strings.Join(lines[:len(lines)-1], "\n")+"\n", nil)

	wide := run(t, now, "", "versions", "auth", "-n", ns, "-o", "wide")
	if !strings.Contains(wide.Stdout, "TYPE") || !strings.Contains(wide.Stdout, "Opaque") {
		t.Fatalf("wide output lacks TYPE: %s", wide.Stdout)
	}
	names := run(t, now, "", "versions", "auth", "-n", ns, "-o", "name")
	assertGolden(t, "versions-name", names.Stdout, nil)
}

func TestVersionsJSONIsAStableDocument(t *testing.T) {
	t.Parallel()
	ns := clusterenv.Namespace(t)
	versionsFixture(t, ns)
	r := run(t, nil, "", "versions", "auth", "-n", ns, "-o", "json")
	if r.Code != 0 {
		t.Fatalf("versions: %+v", r)
	}
	var doc struct {
		APIVersion, Kind, Family string
		Items                    []map[string]any
	}
	if err := json.Unmarshal([]byte(r.Stdout), &doc); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, r.Stdout)
	}
	if doc.APIVersion != "rotor.dev/v1alpha1" || doc.Kind != "VersionList" || doc.Family != "auth" || len(doc.Items) != 5 {
		t.Fatalf("document = %+v", doc)
	}
	// Creation timestamps are real; blank them for the golden comparison.
	for _, it := range doc.Items {
		it["creationTimestamp"] = "<TIME>"
		if it["state"] == "unversioned" {
			it["created"] = "<TIME>"
		}
	}
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc.Items); err != nil {
		t.Fatal(err)
	}
	assertGolden(t, "versions-json-items", b.String(), map[string]string{"<NS>": ns})
}

func TestVersionsAllNamespaces(t *testing.T) {
	t.Parallel()
	a := clusterenv.Namespace(t)
	b := clusterenv.Namespace(t)
	clk := newClock(t0)
	for _, ns := range []string{a, b} {
		if r := run(t, clk, "", "create", "shared", "-n", ns, "--from-literal", "k=v"); r.Code != 0 {
			t.Fatalf("create: %+v", r)
		}
	}
	r := run(t, newClock(t0.Add(time.Hour)), "", "versions", "shared", "-A")
	if r.Code != 0 {
		t.Fatalf("versions -A: %+v", r)
	}
	if !strings.HasPrefix(r.Stdout, "NAMESPACE") || !strings.Contains(r.Stdout, a) || !strings.Contains(r.Stdout, b) {
		t.Fatalf("-A output:\n%s", r.Stdout)
	}
	// Each namespace has its own latest.
	if strings.Count(r.Stdout, "latest") != 2 {
		t.Fatalf("want one latest per namespace:\n%s", r.Stdout)
	}
}

func TestShellCompletionOffersFamiliesFromTheCluster(t *testing.T) {
	t.Parallel()
	ns := clusterenv.Namespace(t)
	versionsFixture(t, ns)
	r := run(t, nil, "", "__complete", "versions", "-n", ns, "")
	if r.Code != 0 {
		t.Fatalf("completion: %+v", r)
	}
	lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
	// Every name FAMILY-<timestamp> makes a family (the decoys authx and xauth are
	// families of their own), then cobra's directive line.
	if strings.Join(lines[:len(lines)-1], ",") != "auth,authx,xauth" || !strings.HasPrefix(lines[len(lines)-1], ":") {
		t.Fatalf("completion offered %q", lines)
	}
}
