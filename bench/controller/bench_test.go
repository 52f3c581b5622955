package controller

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rotor-project/rotor/test/clusterenv"
	"github.com/rotor-project/rotor/test/freeport"
)

func TestMain(m *testing.M) { clusterenv.Main(m) }

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// TestControllerBench runs the benchmark: at a tiny size in `make test` (2 namespaces,
// 2 families, the controller scoped to them on the shared cluster), at the size
// with ROTOR_BENCH=1 (`make bench-controller`: 1,000 namespaces, 50 families, the
// controller watching every namespace). It checks that every family was re-pointed;
// the figures are printed for bench/controller/README.md, never asserted.
func TestControllerBench(t *testing.T) {
	full := os.Getenv("ROTOR_BENCH") == "1"
	cfg := Config{Namespaces: 2, Families: 2, Interval: 200 * time.Millisecond, Scoped: true, Progress: os.Stderr}
	if full {
		cfg.Namespaces = envInt("BENCH_NAMESPACES", 1000)
		cfg.Families = min(envInt("BENCH_FAMILIES", 50), cfg.Namespaces)
		cfg.Scoped = false
		if d, err := time.ParseDuration(os.Getenv("BENCH_INTERVAL")); err == nil && d > 0 {
			cfg.Interval = d
		}
	}
	root, err := clusterenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Rotor, err = clusterenv.BuildRotor(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	cfg.ControllerLog = os.Getenv("BENCH_CONTROLLER_LOG")
	cfg.ControllerArgs = strings.Fields(os.Getenv("BENCH_CONTROLLER_ARGS"))
	cfg.CRDs = filepath.Join(root, "deploy", "charts", "rotor", "crds")
	cfg.Kubeconfig, cfg.Rest = clusterenv.Kubeconfig(t), clusterenv.RESTConfig(t)
	// Below the ephemeral range, where no outgoing connection can take them.
	cfg.MetricsAddr, cfg.ProbeAddr = freeport.Addr(t), freeport.Addr(t)
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Verified || len(res.Latencies) != cfg.Families {
		t.Fatalf("not every family was re-pointed: %+v", res)
	}
	fmt.Printf("| namespaces | objects | families | re-pointed p50 | p95 | max | controller RSS steady | of it anonymous | peak |\n|---|---|---|---|---|---|---|---|---|\n")
	fmt.Printf("| %d | %d | %d | %s | %s | %s | %.0f MB | %.0f MB | %.0f MB |\n", res.Namespaces, res.Objects, res.Families,
		res.Percentile(50).Round(time.Millisecond), res.Percentile(95).Round(time.Millisecond), res.Percentile(100).Round(time.Millisecond),
		float64(res.RSS)/1e6, float64(res.Anon)/1e6, float64(res.Peak)/1e6)
}
