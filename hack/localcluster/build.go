package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// Versions of the components. They are pinned by the go.mod files under components/;
// these constants only name the cache entry and the progress lines.
const (
	kubernetesVersion = "v1.37.2"
	etcdVersion       = "v3.7.3"
	kwokVersion       = "v0.8.0"
)

// binaries names every executable a cache entry must hold.
var binaries = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "kubectl"}

// stageFiles are the kwok default stages the cluster installs as Stage objects, relative
// to the kwok module directory.
var stageFiles = []string{
	"kustomize/stage/node/fast/node-initialize.yaml",
	"kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
	"kustomize/stage/pod/fast/pod-ready.yaml",
	"kustomize/stage/pod/fast/pod-complete.yaml",
	"kustomize/stage/pod/fast/pod-delete.yaml",
}

const stageCRDFile = "kustomize/crd/bases/kwok.x-k8s.io_stages.yaml"

// cacheEntry is one built set of binaries, keyed by component versions, the Go version
// and the content of the component modules' go.mod/go.sum.
type cacheEntry struct {
	Dir string
}

func (c cacheEntry) bin(name string) string   { return filepath.Join(c.Dir, "bin", name) }
func (c cacheEntry) share(name string) string { return filepath.Join(c.Dir, "share", name) }

func (c cacheEntry) complete() bool {
	for _, b := range binaries {
		if fi, err := os.Stat(c.bin(b)); err != nil || fi.Mode()&0o111 == 0 {
			return false
		}
	}
	_, err := os.Stat(c.share("stages.yaml"))
	return err == nil
}

// cacheRoot is where built binaries live: outside the repository, so a fresh clone on
// a machine that built them before starts in seconds.
func cacheRoot() (string, error) {
	if d := os.Getenv("ROTOR_LOCALCLUSTER_CACHE"); d != "" {
		return d, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("cannot find a cache directory (set ROTOR_LOCALCLUSTER_CACHE): %w", err)
	}
	return filepath.Join(d, "rotor", "localcluster"), nil
}

// resolveCache computes the cache entry for the component modules in componentsDir.
func resolveCache(componentsDir string) (cacheEntry, error) {
	root, err := cacheRoot()
	if err != nil {
		return cacheEntry{}, err
	}
	h := sha256.New()
	for _, m := range []string{"kubernetes", "etcd", "kwok"} {
		for _, f := range []string{"go.mod", "go.sum"} {
			b, err := os.ReadFile(filepath.Join(componentsDir, m, f))
			if err != nil {
				return cacheEntry{}, fmt.Errorf("reading component module: %w (run from hack/localcluster or pass --components)", err)
			}
			h.Write(b)
		}
	}
	key := fmt.Sprintf("k8s-%s_etcd-%s_kwok-%s_%s_%s", kubernetesVersion, etcdVersion, kwokVersion,
		runtime.Version(), hex.EncodeToString(h.Sum(nil))[:12])
	return cacheEntry{Dir: filepath.Join(root, key)}, nil
}

// ensureBuilt builds the components into the cache entry unless it is already complete.
// A file lock keeps two concurrent callers from building the same entry twice.
func ensureBuilt(ctx context.Context, componentsDir string, progress io.Writer) (cacheEntry, error) {
	entry, err := resolveCache(componentsDir)
	if err != nil {
		return entry, err
	}
	if entry.complete() {
		return entry, nil
	}
	if err := os.MkdirAll(filepath.Dir(entry.Dir), 0o755); err != nil {
		return entry, err
	}
	lock, err := os.OpenFile(entry.Dir+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return entry, err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return entry, fmt.Errorf("locking the build cache: %w", err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) //nolint:errcheck // released on close anyway
	if entry.complete() {
		return entry, nil // built by someone else while we waited
	}

	fmt.Fprintf(progress, "localcluster: building the control plane into %s\n", entry.Dir)
	fmt.Fprintf(progress, "localcluster: a cold build takes about 12 minutes on 2 cores; later starts reuse the cache\n")
	tmp := entry.Dir + ".tmp"
	_ = os.RemoveAll(tmp)
	if err := os.MkdirAll(filepath.Join(tmp, "bin"), 0o755); err != nil {
		return entry, err
	}
	if err := os.MkdirAll(filepath.Join(tmp, "share"), 0o755); err != nil {
		return entry, err
	}
	ldflags := kubeLDFlags()
	steps := []struct {
		what, module string
		args         []string
	}{
		{"etcd " + etcdVersion, "etcd", []string{"build", "-trimpath", "-ldflags", "-s -w", "-o", filepath.Join(tmp, "bin", "etcd"), "."}},
		{"kwok " + kwokVersion, "kwok", []string{"build", "-trimpath", "-ldflags", "-s -w", "-o", filepath.Join(tmp, "bin", "kwok"), "sigs.k8s.io/kwok/cmd/kwok"}},
		{"kube-apiserver, kube-controller-manager, kube-scheduler, kubectl " + kubernetesVersion, "kubernetes",
			[]string{"build", "-trimpath", "-ldflags", ldflags, "-o", filepath.Join(tmp, "bin") + "/", "./kube-apiserver", "./kube-controller-manager", "./kube-scheduler", "./kubectl"}},
	}
	for _, s := range steps {
		if err := goWithProgress(ctx, filepath.Join(componentsDir, s.module), s.what, s.args, progress); err != nil {
			return entry, err
		}
	}
	if err := collectKwokFiles(ctx, filepath.Join(componentsDir, "kwok"), filepath.Join(tmp, "share")); err != nil {
		return entry, err
	}
	_ = os.RemoveAll(entry.Dir)
	if err := os.Rename(tmp, entry.Dir); err != nil {
		return entry, err
	}
	return entry, nil
}

func kubeLDFlags() string {
	var b strings.Builder
	b.WriteString("-s -w")
	for _, pkg := range []string{"k8s.io/component-base/version", "k8s.io/client-go/pkg/version"} {
		fmt.Fprintf(&b, " -X %s.gitVersion=%s -X %s.gitMajor=1 -X %s.gitMinor=37 -X %s.gitTreeState=clean",
			pkg, kubernetesVersion, pkg, pkg, pkg)
	}
	return b.String()
}

// goWithProgress runs the go command and prints elapsed time every 30 s, because a
// silent terminal during a multi-minute build looks hung.
func goWithProgress(ctx context.Context, dir, what string, args []string, progress io.Writer) error {
	start := time.Now()
	fmt.Fprintf(progress, "localcluster: building %s ...\n", what)
	cmd := goCmd(ctx, dir, args...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting go build for %s: %w", what, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	tick := time.NewTicker(30 * time.Second)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			if err != nil {
				return fmt.Errorf("building %s failed: %w\n%s", what, err, out.String())
			}
			fmt.Fprintf(progress, "localcluster: built %s in %s\n", what, time.Since(start).Round(time.Second))
			return nil
		case <-tick.C:
			fmt.Fprintf(progress, "localcluster:   still building %s (%s elapsed)\n", what, time.Since(start).Round(time.Second))
		}
	}
}

// collectKwokFiles copies kwok's Stage CRD and default stages out of the module cache,
// so the cache entry is self-contained.
func collectKwokFiles(ctx context.Context, kwokModuleDir, shareDir string) error {
	cmd := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/kwok")
	cmd.Dir = kwokModuleDir
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("finding the kwok module directory: %w", err)
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		return errors.New("finding the kwok module directory: go list printed nothing")
	}
	crd, err := os.ReadFile(filepath.Join(dir, stageCRDFile))
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(shareDir, "stage-crd.yaml"), crd, 0o644); err != nil {
		return err
	}
	var stages []string
	for _, f := range stageFiles {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			return err
		}
		stages = append(stages, strings.TrimSpace(string(b)))
	}
	return os.WriteFile(filepath.Join(shareDir, "stages.yaml"), []byte(strings.Join(stages, "\n---\n")+"\n"), 0o644)
}
