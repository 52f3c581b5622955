package main

import (
	"reflect"
	"strings"
	"testing"
)

func TestPickedPortsAreFreeDistinctAndBelowTheEphemeralRange(t *testing.T) {
	taken := map[int]bool{}
	for i := 0; i < 20; i++ {
		ps, err := pickPorts(portNames, map[string]bool{"etcd-peer": true}, taken)
		if err != nil {
			t.Fatal(err)
		}
		if len(ps) != len(portNames) {
			t.Fatalf("got %v for %v", ps, portNames)
		}
		for name, p := range ps {
			if p < minPort || p > highestPort() || p >= 32768 {
				t.Fatalf("%s got port %d, outside [%d, %d]", name, p, minPort, highestPort())
			}
			if taken[p] {
				t.Fatalf("port %d given twice", p)
			}
			taken[p] = true
		}
	}
}

func TestAnExplicitPortBaseMustStayBelowTheEphemeralRange(t *testing.T) {
	for _, base := range []int{80, 32764, 40000} {
		if _, err := portsFromBase(base); err == nil || !strings.Contains(err.Error(), "choose a base from 1024 to 32763") {
			t.Errorf("--port-base %d: err = %v", base, err)
		}
	}
}

func TestAddonListsAreParsedAndUnknownNamesRefused(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string
		err      string
	}{
		{"commas and spaces both separate", "flux, argo-rollouts external-secrets", []string{"flux", "argo-rollouts", "external-secrets"}, ""},
		{"a repeated name counts once", "flux,flux", []string{"flux"}, ""},
		{"nothing is no addon", "", nil, ""},
		{"an unknown name is refused with the choices", "argo", nil, `unknown addon "argo": choose from argo-rollouts, external-secrets, flux`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseAddons(tt.in)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestMultiDocumentYAMLIsSplitAtItsSeparatorLines(t *testing.T) {
	in := "a: 1\n---\nb: 2\n--- # comment\nc: '---'\n---\n"
	got := splitYAML(in)
	want := []string{"a: 1\n", "b: 2\n", "c: '---'\n", ""}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}
