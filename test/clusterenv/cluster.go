package clusterenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/rotor-project/rotor/test/waitfor"
)

// Cluster is a running local control plane.
type Cluster struct {
	kubeconfig string
	// dir is its localcluster state directory ("" when the kubeconfig came from
	// outside and names some other cluster).
	dir string
	// tmp is removed by Stop (clusters Start made).
	tmp string

	addonsMu sync.Mutex
	addons   map[string]bool
}

// Options configure Start.
type Options struct {
	// Addons are started with the cluster.
	Addons []string
}

// Start builds the localcluster tool if needed and starts a cluster on ports it
// chooses, stopped by Stop (and by the localcluster supervisor if this process dies).
func Start(ctx context.Context, progress io.Writer, o Options) (*Cluster, error) {
	tool, err := localcluster(progress)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "rotor-cluster-")
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(tmp, "cluster")
	args := []string{"up", "--dir", dir, "--components", componentsDir(), "--owner-pid", strconv.Itoa(os.Getpid())}
	if len(o.Addons) > 0 {
		args = append(args, "--addons", strings.Join(o.Addons, ","))
	}
	up := exec.CommandContext(ctx, tool, args...)
	up.Stderr = progress
	out, err := up.Output()
	if err != nil {
		_ = os.RemoveAll(tmp)
		return nil, fmt.Errorf("localcluster up: %w", err)
	}
	c := &Cluster{kubeconfig: strings.TrimSpace(string(out)), dir: dir, tmp: tmp}
	for _, a := range o.Addons {
		c.markAddon(a)
	}
	return c, nil
}

// Stop stops the cluster and removes its files.
func (c *Cluster) Stop() {
	if c.dir != "" {
		if tool, err := localcluster(io.Discard); err == nil {
			_ = exec.Command(tool, "down", "--dir", c.dir).Run()
		}
	}
	if c.tmp != "" {
		_ = os.RemoveAll(c.tmp)
	}
}

// Private starts a cluster for this test alone and stops it when the test ends: for
// tests that stop and start the API server, or otherwise disturb the control plane.
// Its start (seconds) counts against the test's deadline, not a bound of its own.
func Private(t testing.TB, o Options) *Cluster {
	t.Helper()
	var progress bytes.Buffer
	c, err := Start(waitfor.Context(t), &progress, o)
	if err != nil {
		t.Fatalf("starting a private cluster: %v\n%s", err, progress.String())
	}
	t.Cleanup(c.Stop)
	return c
}

// Dir is the cluster's localcluster state directory (logs under Dir/logs).
func (c *Cluster) Dir() string { return c.dir }

// StopAPIServer stops the cluster's kube-apiserver (etcd and the controllers keep
// running); StartAPIServer starts it again. Only for a Private cluster.
func (c *Cluster) StopAPIServer(t testing.TB) { t.Helper(); c.StopComponent(t, "kube-apiserver") }

// StartAPIServer starts the kube-apiserver again and returns once it is ready.
func (c *Cluster) StartAPIServer(t testing.TB) { t.Helper(); c.StartComponent(t, "kube-apiserver") }

// StopComponent stops one process of a Private cluster (etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler, kwok, or an addon's process).
func (c *Cluster) StopComponent(t testing.TB, name string) {
	t.Helper()
	c.private(t)
	c.tool(t, "stop-component", "--dir", c.dir, name)
}

// StartComponent starts a stopped process again and waits until it is ready.
func (c *Cluster) StartComponent(t testing.TB, name string) {
	t.Helper()
	c.private(t)
	c.tool(t, "start-component", "--dir", c.dir, name)
}

func (c *Cluster) private(t testing.TB) {
	t.Helper()
	if c == shared || c.tmp == "" {
		t.Fatal("stopping a component of the shared cluster would break every other test: start a cluster of the test's own with clusterenv.Private")
	}
}

// RequireAddon starts the named addon on the cluster unless it runs (idempotent, and
// serialised by localcluster across processes).
func (c *Cluster) RequireAddon(t testing.TB, name string) {
	t.Helper()
	c.addonsMu.Lock()
	defer c.addonsMu.Unlock()
	if c.addons[name] {
		return
	}
	if c.dir == "" {
		t.Fatalf("addon %s: the cluster under test (%s=%s) is not one localcluster started, so no addon can be added: set %s to its state directory too, or unset %s to let the tests start a cluster",
			name, EnvKubeconfig, c.kubeconfig, EnvClusterDir, EnvKubeconfig)
	}
	c.tool(t, "addons", "--dir", c.dir, "--components", componentsDir(), "--ensure", name)
	c.markAddon(name)
}

func (c *Cluster) markAddon(name string) {
	if c.addons == nil {
		c.addons = map[string]bool{}
	}
	c.addons[name] = true
}

// tool runs the localcluster tool and fails the test with its output on failure.
func (c *Cluster) tool(t testing.TB, args ...string) {
	t.Helper()
	var out bytes.Buffer
	bin, err := localcluster(&out)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(waitfor.Context(t), bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("localcluster %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	t.Logf("localcluster %s:\n%s", strings.Join(args, " "), strings.TrimSpace(out.String()))
}

var toolBuild struct {
	once sync.Once
	bin  string
	err  error
}

// localcluster is the path of the localcluster tool: the one make built (named in
// EnvLocalcluster), or one built once per test binary.
func localcluster(progress io.Writer) (string, error) {
	if p := os.Getenv(EnvLocalcluster); p != "" {
		return p, nil
	}
	toolBuild.once.Do(func() {
		root, err := RepoRoot()
		if err != nil {
			toolBuild.err = err
			return
		}
		dir, err := os.MkdirTemp("", "rotor-localcluster-")
		if err != nil {
			toolBuild.err = err
			return
		}
		bin := filepath.Join(dir, "localcluster")
		build := exec.Command("go", "build", "-o", bin, ".")
		build.Dir = filepath.Join(root, "hack", "localcluster")
		build.Stderr = progress
		if err := build.Run(); err != nil {
			toolBuild.err = fmt.Errorf("building hack/localcluster: %w", err)
			return
		}
		toolBuild.bin = bin
	})
	return toolBuild.bin, toolBuild.err
}

func componentsDir() string {
	root, err := RepoRoot()
	if err != nil {
		return "components"
	}
	return filepath.Join(root, "hack", "localcluster", "components")
}

// RepoRoot finds the rotor module root above the working directory.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.Contains(string(b), "module github.com/rotor-project/rotor\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("cannot find rotor's go.mod above the working directory")
		}
		dir = parent
	}
}

// BuildRotor builds cmd/rotor into dir as `make build` ships it (without cgo) and
// returns the binary's path, for tests and benches that run rotor as a process.
func BuildRotor(dir string) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "rotor")
	build := exec.Command("go", "build", "-o", bin, "./cmd/rotor")
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building rotor: %w\n%s", err, out)
	}
	return bin, nil
}
