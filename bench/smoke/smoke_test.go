// Package smoke runs every `make bench-*` target at a tiny size on the test cluster, so
// that the benchmarks keep working between the runs that record their figures: each
// must start, measure and print its table. The figures of such a run mean nothing (the
// machine runs the rest of the suite meanwhile); bench/README.md has the real ones.
package smoke

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/rotor-project/rotor/test/clusterenv"
	"github.com/rotor-project/rotor/test/waitfor"
)

func TestMain(m *testing.M) { clusterenv.Main(m) }

// makeTarget runs `make TARGET VAR=VALUE…` in the repository against the test cluster
// (handed over in ROTOR_TEST_KUBECONFIG, as hack/with-cluster.sh does) and returns its
// standard output.
func makeTarget(t *testing.T, target string, vars ...string) string {
	t.Helper()
	root, err := clusterenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(waitfor.Context(t), "make", append([]string{"--no-print-directory", target}, vars...)...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), clusterenv.EnvKubeconfig+"="+clusterenv.Kubeconfig(t))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("make %s: %v\nstdout:\n%s\nstderr:\n%s", target, err, out, stderr.String())
	}
	return string(out)
}

func expectTable(t *testing.T, out string, rows ...string) {
	t.Helper()
	for _, r := range rows {
		if !strings.Contains(out, r) {
			t.Errorf("the table lacks %q:\n%s", r, out)
		}
	}
}

func TestBenchRolloutRunsAtATinySize(t *testing.T) {
	out := makeTarget(t, "bench-rollout", "BENCH_ARGS=--deployments 2 --replicas 1 --rounds 1")
	expectTable(t, out, "| kubectl patch + rollout status script |", "| rotor rollout |", "| rotor rollback: all references re-pointed")
}

func TestBenchRefsRunsAtATinySize(t *testing.T) {
	out := makeTarget(t, "bench-refs", "BENCH_NAMESPACES=1", "BENCH_ARGS=--runs 1")
	expectTable(t, out, "Population: 1 namespaces", "| `rotor refs NAME -A` |", "rotor / raw fetch of the same lists:", "the median of the rounds' ratios")
}

func TestBenchCleanupRunsAtATinySize(t *testing.T) {
	// The cleanup benchmark is a Go test: its figures are its log lines (-v).
	out := makeTarget(t, "bench-cleanup", "BENCH_NAMESPACES=10", "BENCH_ROUNDS=1", "ROTOR_BENCH_SMOKE=1")
	expectTable(t, out, "dry run (plan)", "--yes (plan+delete)", "smoke run (10 namespaces, 1 rounds)", "--- PASS: TestCleanupScalesWithOneScan")
}
