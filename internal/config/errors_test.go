package config

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

const header = "apiVersion: rotor.dev/v1alpha1\nkind: Config\n"

func TestEveryProblemIsReportedAtItsPosition(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want []string
	}{
		{"an unknown key names the known ones", header + "environments:\n- name: stg\n  namespaces: [stg]\n  strtegy: {type: rolling}\n",
			[]string{`c.yaml:6:3: environments[0]: unknown field "strtegy": the fields here are analysis, contexts, fleetRollback, name, namespaces, onWindowEnd, requires, retention, soak, strategy, verify, versioned, watch, windows`}},
		{"a bad duration", header + "environments:\n- name: stg\n  namespaces: [stg]\n  soak: 24 hours\n",
			[]string{`c.yaml:6:9: environments[stg].soak: "24 hours" is not a duration`}},
		{"a negative duration", header + "environments:\n- name: stg\n  namespaces: [stg]\n  watch: -1h\n",
			[]string{`c.yaml:6:10: environments[stg].watch: "-1h" is not a duration`}},
		{"an unknown strategy", header + "environments:\n- name: stg\n  namespaces: [stg]\n  strategy: {type: canary}\n",
			[]string{`c.yaml:6:20: environments[stg].strategy.type: unknown strategy "canary": use rolling or bluegreen`}},
		{"steps on a rolling strategy", header + "environments:\n- name: stg\n  namespaces: [stg]\n  strategy: {type: rolling, steps: [50, 100]}\n",
			[]string{`c.yaml:6:29: environments[stg].strategy.steps: steps applies to the bluegreen strategy only, and this one is rolling`}},
		{"steps that do not end at 100", header + "environments:\n- name: stg\n  namespaces: [stg]\n  strategy: {type: bluegreen, steps: [10, 50]}\n",
			[]string{`c.yaml:6:31: environments[stg].strategy.steps: the last step must be 100`}},
		{"steps that fall", header + "environments:\n- name: stg\n  namespaces: [stg]\n  strategy: {type: bluegreen, steps: [50, 10, 100]}\n",
			[]string{`c.yaml:6:43: environments[stg].strategy.steps[1]: 10 does not rise above the step before it (50)`}},
		{"an unknown time zone", header + "environments:\n- name: stg\n  namespaces: [stg]\n  windows:\n  - {start: \"02:00\", end: \"05:00\", timeZone: Europe/Bärlin}\n",
			[]string{`c.yaml:7:46: environments[stg].windows[0].timeZone: unknown time zone "Europe/Bärlin"`}},
		{"the machine's local zone is refused", header + "environments:\n- name: stg\n  namespaces: [stg]\n  windows:\n  - {start: \"02:00\", end: \"05:00\", timeZone: Local}\n",
			[]string{`c.yaml:7:46: environments[stg].windows[0].timeZone: unknown time zone "Local"`}},
		{"a window without a time zone", header + "environments:\n- name: stg\n  namespaces: [stg]\n  windows:\n  - {start: \"02:00\", end: \"05:00\"}\n",
			[]string{`c.yaml:7:5: environments[stg].windows[0]: timeZone is missing`}},
		{"a bad day and a bad time", header + "environments:\n- name: stg\n  namespaces: [stg]\n  windows:\n  - {days: [Tue, Tuesday, Dienstag], start: \"2am\", end: \"05:00\", timeZone: UTC}\n",
			[]string{`c.yaml:7:18: environments[stg].windows[0].days[1]: Tuesday is listed twice`, `c.yaml:7:27: environments[stg].windows[0].days[2]: "Dienstag" is not a day`, `c.yaml:7:45: environments[stg].windows[0].start: "2am" is not a time of day`}},
		{"a window of no length", header + "environments:\n- name: stg\n  namespaces: [stg]\n  windows:\n  - {start: \"00:00\", end: \"24:00\", timeZone: UTC}\n  - {start: \"02:00\", end: \"02:00\", timeZone: UTC}\n",
			[]string{`c.yaml:8:5: environments[stg].windows[1]: start and end are the same time`}},
		{"requires an unknown environment", header + "environments:\n- name: prd\n  namespaces: [prd]\n  requires: [stagging]\n",
			[]string{`c.yaml:6:14: environments[prd].requires: unknown environment "stagging": the environments are "prd"`}},
		{"a requires cycle", header + "environments:\n- name: a\n  namespaces: [a]\n  requires: [c]\n- name: b\n  namespaces: [b]\n  requires: [a]\n- name: c\n  namespaces: [c]\n  requires: [b]\n",
			[]string{`c.yaml:9:14: environments[b].requires: a cycle: a requires c requires b requires a`}},
		{"an environment requiring itself", header + "environments:\n- name: a\n  namespaces: [a]\n  requires: [a]\n",
			[]string{`c.yaml:6:14: environments[a].requires: a requires itself`}},
		{"duplicate environment names", header + "environments:\n- name: a\n  namespaces: [a]\n- name: a\n  namespaces: [b]\n",
			[]string{`c.yaml:6:3: environments: "a" is defined twice (first at line 4)`}},
		{"duplicate family names", header + "environments:\n- name: a\n  namespaces: [a]\nfamilies:\n- name: f\n- name: f\n",
			[]string{`c.yaml:8:3: families: "f" is defined twice (first at line 7)`}},
		{"two environments on one namespace", header + "environments:\n- name: a\n  namespaces: [shared]\n- name: b\n  namespaces: [shared]\n",
			[]string{`c.yaml:6:3: environments[b]: namespace shared in the current context is already environment a`}},
		{"a key given twice", header + "environments:\n- name: a\n  namespaces: [a]\n  soak: 1h\n  soak: 2h\n",
			[]string{`c.yaml:7:3: environments[0]: soak is given twice (first at line 6)`}},
		{"strategy in an unversioned environment", header + "environments:\n- name: dev\n  namespaces: [dev]\n  versioned: false\n  strategy: {type: bluegreen}\n",
			[]string{`c.yaml:7:3: environments[dev].strategy: strategy applies to versioned environments; dev is versioned: false`}},
		{"a family override of strategy in an unversioned environment", header + "environments:\n- name: dev\n  namespaces: [dev]\n  versioned: false\nfamilies:\n- name: f\n  overrides:\n  - {environment: dev, strategy: {type: bluegreen}}\n",
			[]string{`c.yaml:10:41: family f, override for dev: strategy applies to versioned environments; dev is versioned: false`}},
		{"a family override making a rolling environment's steps", header + "environments:\n- name: a\n  namespaces: [a]\nfamilies:\n- name: f\n  overrides:\n  - {strategy: {steps: [100]}}\n",
			[]string{`c.yaml:9:24: family f, override for every environment: strategy.steps applies to the bluegreen strategy only, and the strategy of family f in environment a is rolling (default)`}},
		{"an override of an unknown environment", header + "environments:\n- name: a\n  namespaces: [a]\nfamilies:\n- name: f\n  overrides:\n  - {environment: b, soak: 1h}\n",
			[]string{`c.yaml:9:5: families[f].overrides: unknown environment "b"`}},
		{"a missing apiVersion, kind and environments", "families: []\n",
			[]string{`c.yaml:1:1: apiVersion is missing`, `c.yaml:1:1: kind is missing`, `c.yaml:1:1: environments are missing`}},
		{"a wrong apiVersion", "apiVersion: rotor.dev/v1\nkind: Config\nenvironments: [{name: a, namespaces: [a]}]\n",
			[]string{`c.yaml:1:13: apiVersion: "rotor.dev/v1" is not supported: this rotor reads rotor.dev/v1alpha1`}},
		{"a wrong type", header + "environments:\n- name: a\n  namespaces: a\n",
			[]string{`c.yaml:5:15: environments[a].namespaces: must be a list, not "a"`}},
		{"a bad family name and key", header + "environments: [{name: a, namespaces: [a]}]\nfamilies:\n- name: Auth_Secrets\n  requiredKeys: [\"api token\"]\n",
			[]string{`c.yaml:5:9: families[0].name: "Auth_Secrets" is not a valid family name`, `c.yaml:6:18: families[Auth_Secrets].requiredKeys[0]: "api token" is not a valid Secret key`}},
		{"an empty value", header + "environments:\n- name: a\n  namespaces: [a]\n  soak:\n",
			[]string{`c.yaml:6:8: environments[a].soak: must be a duration such as 24h, 30m or 14d, not empty`}},
		{"a second document", header + "environments: [{name: a, namespaces: [a]}]\n---\nkind: Config\n",
			[]string{`c.yaml:4:1: a second document`}},
		{"not YAML", header + "environments: [\n",
			[]string{`c.yaml:3:1: not valid YAML`}},
		{"an empty file", "",
			[]string{`c.yaml:1:1: the file is empty`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("c.yaml", []byte(tt.doc))
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("want Errors, got %v", err)
			}
			if len(errs) != len(tt.want) {
				t.Fatalf("got %d problems, want %d:\n%v", len(errs), len(tt.want), err)
			}
			for i, w := range tt.want {
				if !strings.HasPrefix(errs[i].Error(), w) {
					t.Errorf("problem %d:\n got %s\nwant %s…", i, errs[i].Error(), w)
				}
			}
		})
	}
}

func TestAnchorsAliasesAndMergeKeysAreRead(t *testing.T) {
	doc := header + `x-windows: &nights
- {start: "22:00", end: "02:00", timeZone: UTC}
environments:
- &base
  name: a
  namespaces: [a]
  windows: *nights
  soak: 1h
- <<: *base
  name: b
  namespaces: [b]
`
	_, err := Parse("c.yaml", []byte(doc))
	if err == nil || !strings.Contains(err.Error(), `unknown field "x-windows"`) {
		t.Fatalf("extension keys are unknown fields too, got %v", err)
	}
	doc = strings.Replace(doc, "x-windows: &nights\n- {start: \"22:00\", end: \"02:00\", timeZone: UTC}\n", "", 1)
	doc = strings.Replace(doc, "windows: *nights", "windows: &nights [{start: \"22:00\", end: \"02:00\", timeZone: UTC}]", 1)
	c, err := Parse("c.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := c.Environment("b")
	if b.Policy.Soak.Value.Hours() != 1 || len(b.Policy.Windows.Value) != 1 || b.Namespaces[0] != "b" {
		t.Fatalf("b did not take a's settings through the merge key: %+v", b)
	}
}

func TestAnAliasBombIsRefusedQuickly(t *testing.T) {
	var b strings.Builder
	b.WriteString(header + "a0: &a0 {soak: 1h}\n")
	for i := 1; i < 12; i++ {
		p := fmt.Sprintf("*a%d", i-1)
		fmt.Fprintf(&b, "a%d: &a%d {<<: [%s]}\n", i, i, strings.TrimSuffix(strings.Repeat(p+", ", 10), ", "))
	}
	b.WriteString("environments:\n- {<<: *a11, name: a, namespaces: [a]}\n")
	_, err := Parse("c.yaml", []byte(b.String()))
	if err == nil || !strings.Contains(err.Error(), "c.yaml:") || !strings.Contains(err.Error(), "expands to more than") {
		t.Fatalf("got %v", err)
	}
}

func TestAnOversizedFileIsRefusedBeforeParsing(t *testing.T) {
	_, err := readBounded(strings.NewReader(strings.Repeat("#", maxFileSize+1)), maxFileSize)
	if err == nil || !strings.Contains(err.Error(), "larger than 1024 KiB") {
		t.Fatalf("got %v", err)
	}
	if data, err := readBounded(strings.NewReader("a: b"), maxFileSize); err != nil || string(data) != "a: b" {
		t.Fatalf("a small file must be read whole: %q %v", data, err)
	}
}

func FuzzConfigParse(f *testing.F) {
	for _, doc := range []string{
		header + "environments: [{name: a, namespaces: [a], soak: 1d, windows: [{days: [Mon], start: \"22:00\", end: \"02:00\", timeZone: Europe/Berlin}]}]\n",
		header + "environments:\n- &e {name: a, namespaces: [a], requires: [b]}\n- <<: *e\n  name: b\n  namespaces: [b]\n",
		header + "environments: [{name: a, namespaces: [a], strategy: {type: bluegreen, steps: [10, 100], pause: 1m}}]\nfamilies: [{name: f, overrides: [{environment: a, retention: {keep: 1}}]}]\n",
		"a: &a [*a]\n",
		"\"\\u0000\": [",
	} {
		f.Add([]byte(doc))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("c.yaml", data)
		if err != nil {
			var errs Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("a failure must be positioned Errors, got %T %v", err, err)
			}
			return
		}
		// A valid file has a policy for every environment and family.
		for _, e := range c.Environments {
			if _, err := c.Policy(e.Name, ""); err != nil {
				t.Fatal(err)
			}
			for _, f := range c.Families {
				if _, err := c.Policy(e.Name, f.Name); err != nil {
					t.Fatal(err)
				}
			}
		}
	})
}

func TestAnAliasCycleIsRefusedWithItsLine(t *testing.T) {
	_, err := Parse("c.yaml", []byte(header+"x: &x\n  y: [*x]\nenvironments:\n- {name: a, namespaces: [a]}\n"))
	if err == nil || !strings.Contains(err.Error(), "c.yaml:") || !strings.Contains(err.Error(), "(a cycle)") {
		t.Fatalf("got %v", err)
	}
}
