package externalsecret

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rotor-project/rotor/internal/family"
)

func ref(secretKey, key, version string) Ref {
	return Ref{SecretKey: secretKey, RemoteRef: RemoteRef{Key: key, Version: version}}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		req  Request
		want []Problem // nil: valid
	}{
		{"a pinned key of a store is valid", Request{Family: "app", Store: "vault", Data: []Ref{ref("token", "app/token", "3")}}, nil},
		{"a key without a version is refused, saying why", Request{Family: "app", Store: "vault", Data: []Ref{ref("token", "app/token", "")}},
			[]Problem{{Entry: 0, Field: FieldVersion, Reason: `key "app/token" has ` + ErrNoVersion}}},
		{"no store is refused", Request{Family: "app", Data: []Ref{ref("token", "app/token", "3")}},
			[]Problem{{Entry: -1, Field: FieldStore, Reason: "no store: name the SecretStore (or ClusterSecretStore) ESO reads the values from"}}},
		{"an unknown store kind is refused", Request{Family: "app", Store: "s", StoreKind: "Vault", Data: []Ref{ref("token", "k", "1")}},
			[]Problem{{Entry: -1, Field: FieldStoreKind, Reason: `"Vault" is not a store kind: use SecretStore or ClusterSecretStore`}}},
		{"no keys are refused", Request{Family: "app", Store: "s"},
			[]Problem{{Entry: -1, Field: FieldData, Reason: "no remote keys: name at least one key of the store, with its version"}}},
		{"two keys with one Secret key are refused", Request{Family: "app", Store: "s", Data: []Ref{ref("", "a/token", "1"), ref("", "b/token", "1")}},
			[]Problem{{Entry: 1, Field: FieldSecretKey, Reason: `"token" is also the key of entry 0: each remote key needs a Secret key of its own`}}},
		{"a Secret key that is not one is refused", Request{Family: "app", Store: "s", Data: []Ref{ref("a b", "k", "1")}},
			[]Problem{{Entry: 0, Field: FieldSecretKey, Reason: `"a b" is not a valid Secret key (letters, digits, '-', '_' and '.'): name one`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.req.Validate()
			if tt.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var p Problems
			if !errors.As(err, &p) || !reflect.DeepEqual([]Problem(p), tt.want) {
				t.Fatalf("Validate = %#v\nwant %#v", err, tt.want)
			}
		})
	}
}

func TestDefaultSecretKeys(t *testing.T) {
	for _, tt := range []struct {
		r    RemoteRef
		want string
	}{
		{RemoteRef{Key: "prod/auth/api-token"}, "api-token"},
		{RemoteRef{Key: "api-token"}, "api-token"},
		{RemoteRef{Key: "arn:aws:secretsmanager:eu-west-1:1:secret:db"}, "db"},
		{RemoteRef{Key: "prod/db", Property: "password"}, "password"},
	} {
		if got := DefaultSecretKey(tt.r); got != tt.want {
			t.Errorf("DefaultSecretKey(%+v) = %q, want %q", tt.r, got, tt.want)
		}
	}
}

func TestTheExternalSecretOfAVersionPinsEverything(t *testing.T) {
	v := family.NewVersion("auth-api-secrets", time.Date(2025, 7, 23, 11, 0, 0, 0, time.UTC))
	r := Request{Namespace: "payments", Family: "auth-api-secrets", Store: "aws", StoreKind: KindClusterSecretStore, CreatedBy: "alice", RotorVersion: "v1",
		Data: []Ref{ref("token", "prod/token", "AWSCURRENT-1"), {SecretKey: "password", RemoteRef: RemoteRef{Key: "prod/db", Version: "7", Property: "password"}}}}
	es := Object(r, v)
	str := func(path ...string) string { s, _, _ := unstructured.NestedString(es.Object, path...); return s }
	if es.GetName() != v.Name() || es.GetNamespace() != "payments" || str("spec", "target", "name") != v.Name() {
		t.Fatalf("names: %s/%s target %s", es.GetNamespace(), es.GetName(), str("spec", "target", "name"))
	}
	if str("spec", "refreshInterval") != "0" || str("spec", "target", "creationPolicy") != "Owner" {
		t.Fatalf("refreshInterval %q, creationPolicy %q", str("spec", "refreshInterval"), str("spec", "target", "creationPolicy"))
	}
	if imm, _, _ := unstructured.NestedBool(es.Object, "spec", "target", "immutable"); !imm {
		t.Fatal("the target is not immutable")
	}
	if str("spec", "secretStoreRef", "kind") != KindClusterSecretStore || str("spec", "secretStoreRef", "name") != "aws" {
		t.Fatalf("store ref %v", es.Object["spec"].(map[string]any)["secretStoreRef"])
	}
	data, _, _ := unstructured.NestedSlice(es.Object, "spec", "data")
	if len(data) != 2 {
		t.Fatalf("data %v", data)
	}
	for _, d := range data {
		rr := d.(map[string]any)["remoteRef"].(map[string]any)
		if rr["version"] == "" || rr["version"] == nil {
			t.Fatalf("an unpinned remote ref: %v", rr)
		}
	}
	labels, _, _ := unstructured.NestedStringMap(es.Object, "spec", "target", "template", "metadata", "labels")
	if !reflect.DeepEqual(labels, family.Labels(v)) {
		t.Fatalf("the Secret's labels %v, want rotor's version labels %v", labels, family.Labels(v))
	}
	ann, _, _ := unstructured.NestedStringMap(es.Object, "spec", "target", "template", "metadata", "annotations")
	if ann[family.AnnotationFamily] != "auth-api-secrets" || ann[family.AnnotationCreatedBy] != "alice" {
		t.Fatalf("the Secret's annotations %v", ann)
	}
}

func TestParseFile(t *testing.T) {
	refs, err := ParseFile([]byte("- secretKey: token\n  remoteRef: {key: app/token, version: \"2\"}\n- remoteRef: {key: app/db, version: v5, property: password}\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []Ref{ref("token", "app/token", "2"), {RemoteRef: RemoteRef{Key: "app/db", Version: "v5", Property: "password"}}}
	if !reflect.DeepEqual(refs, want) {
		t.Fatalf("%+v", refs)
	}
	if _, err := ParseFile([]byte("- secretKey: token\n  remoteRef: {key: k, revision: 1}\n")); err == nil || !strings.Contains(err.Error(), "revision") {
		t.Fatalf("a misspelt field: %v", err)
	}
}

func TestSyncErrorsSayWhatWentWrongInPlainWords(t *testing.T) {
	r := Request{Namespace: "ns", Family: "app", Store: "fake", StoreKind: KindSecretStore, Data: []Ref{ref("a", "app/a", "v1"), ref("b", "app/token", "v9")}}
	es := &unstructured.Unstructured{}
	es.SetName("app-20250723110000")
	es.SetNamespace("ns")
	c := &Creator{}
	e := c.syncError(r, es, "", "could not get secret data from provider",
		[]string{"error retrieving secret at .data[1], key: app/token, err: Secret does not exist"})
	if e.Entry != 1 || e.Summary != `the store has no key "app/token" at version "v9"` {
		t.Fatalf("%+v", e)
	}
	msg := e.Error()
	for _, want := range []string{`ExternalSecret app-20250723110000 in namespace "ns" could not sync from SecretStore "fake"`, "Secret does not exist", "could not get secret data from provider", "nothing is left"} {
		if !strings.Contains(msg, want) {
			t.Fatalf("%q lacks %q", msg, want)
		}
	}
}
