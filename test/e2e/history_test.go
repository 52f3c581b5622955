package e2e

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/rotor-project/rotor/test/clusterenv"
)

// volatile are the fields of a journal that differ from run to run.
var volatile = map[string]bool{
	"uid": true, "resourceVersion": true, "creationTimestamp": true, "started": true, "repointed": true, "healthy": true,
	"finished": true, "deadline": true, "stepStarted": true, "stepHealthy": true, "at": true, "lastTransitionTime": true,
	"since": true, "identity": true, "run": true, "by": true,
}

var rotationName = regexp.MustCompile(`rotor-rotation-[0-9a-f]{10}-[0-9]{17}`)

// normalize replaces what differs between runs with placeholders: times, uids,
// rotation names (numbered in order of appearance).
func normalize(t *testing.T, doc string, placeholders map[string]string) string {
	t.Helper()
	names := map[string]string{}
	for _, n := range rotationName.FindAllString(doc, -1) {
		if _, ok := names[n]; !ok {
			names[n] = fmt.Sprintf("ROTATION-%d", len(names)+1)
		}
	}
	for n, p := range names {
		doc = strings.ReplaceAll(doc, n, p)
	}
	for p, v := range placeholders {
		doc = strings.ReplaceAll(doc, v, p)
	}
	var v any
	if err := json.Unmarshal([]byte(doc), &v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, doc)
	}
	var walk func(any) any
	walk = func(x any) any {
		switch x := x.(type) {
		case map[string]any:
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				if volatile[k] {
					x[k] = strings.ToUpper(k)
					continue
				}
				x[k] = walk(x[k])
			}
		case []any:
			for i := range x {
				x[i] = walk(x[i])
			}
		case string:
			if strings.HasPrefix(x, "Deployment/") || strings.Contains(x, "replicas") {
				return x
			}
		}
		return x
	}
	b, _ := json.MarshalIndent(walk(v), "", "  ")
	return string(b) + "\n"
}

// TestHistoryShowsRotationsFromTheirJournals: a rollout and the rollback that reversed
// it, in the table and as the documented -o json (golden).
func TestHistoryShowsRotationsFromTheirJournals(t *testing.T) {
	ns := clusterenv.Namespace(t)
	v1, v2 := twoVersions(t, ns, "app")
	createDeployment(t, ns, deployment("web", v1, 1))
	if r := run(t, nil, "", "rollout", "app", "-n", ns, "--to", v2, "--yes"); r.Code != 0 {
		t.Fatalf("rollout: %+v", r)
	}
	if r := run(t, nil, "", "rollback", "app", "-n", ns, "--yes"); r.Code != 0 {
		t.Fatalf("rollback: %+v", r)
	}
	table := run(t, nil, "", "history", "app", "-n", ns)
	if table.Code != 0 || strings.Count(table.Stdout, "\n") != 3 || !strings.Contains(table.Stdout, "Rollback") || !strings.Contains(table.Stdout, "reverted by") {
		t.Fatalf("history: %+v", table)
	}
	r := run(t, nil, "", "history", "app", "-n", ns, "-o", "json")
	if r.Code != 0 {
		t.Fatalf("history -o json: %+v", r)
	}
	got := normalize(t, r.Stdout, map[string]string{"NAMESPACE": ns, "VERSION-1": v1, "VERSION-2": v2})
	assertGolden(t, "history-json", got, nil)
}
