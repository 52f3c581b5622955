package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// addonEntry is one built addon in the binary cache.
type addonEntry struct {
	addon *addon
	Dir   string
}

func (e addonEntry) bin(name string) string { return filepath.Join(e.Dir, "bin", name) }
func (e addonEntry) crds() string           { return filepath.Join(e.Dir, "crds") }
func (e addonEntry) complete() bool {
	_, err := os.Stat(filepath.Join(e.Dir, "complete"))
	return err == nil
}

// resolveAddon computes an addon's cache entry: its name, version, the Go version and,
// for a wrapper module, the content of its go.mod and go.sum.
func resolveAddon(componentsDir, name string) (addonEntry, error) {
	a := addons[name]
	if a == nil {
		return addonEntry{}, fmt.Errorf("unknown addon %q: choose from %s", name, strings.Join(addonNames(), ", "))
	}
	root, err := cacheRoot()
	if err != nil {
		return addonEntry{}, err
	}
	key := fmt.Sprintf("%s-%s_%s", a.name, a.version, runtime.Version())
	if a.module != "" {
		h := sha256.New()
		for _, f := range []string{"go.mod", "go.sum", "main.go"} {
			b, err := os.ReadFile(filepath.Join(componentsDir, a.module, f))
			if err != nil {
				return addonEntry{}, fmt.Errorf("reading the %s wrapper module: %w (pass --components)", name, err)
			}
			h.Write(b)
		}
		key += "_" + hex.EncodeToString(h.Sum(nil))[:12]
	}
	return addonEntry{addon: a, Dir: filepath.Join(root, "addons", key)}, nil
}

// ensureAddonBuilt builds an addon into the cache unless it is there already; a file
// lock keeps concurrent callers from building it twice.
func ensureAddonBuilt(ctx context.Context, componentsDir, name string, progress io.Writer) (addonEntry, error) {
	e, err := resolveAddon(componentsDir, name)
	if err != nil || e.complete() {
		return e, err
	}
	if err := os.MkdirAll(filepath.Dir(e.Dir), 0o755); err != nil {
		return e, err
	}
	lock, err := os.OpenFile(e.Dir+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return e, err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return e, fmt.Errorf("locking the addon cache: %w", err)
	}
	if e.complete() {
		return e, nil // built by someone else while we waited
	}
	start := time.Now()
	fmt.Fprintf(progress, "localcluster: building addon %s %s into %s (minutes the first time; cached after)\n", name, e.addon.version, e.Dir)
	tmp := e.Dir + ".tmp"
	_ = os.RemoveAll(tmp)
	for _, d := range []string{"bin", "crds", "src"} {
		if err := os.MkdirAll(filepath.Join(tmp, d), 0o755); err != nil {
			return e, err
		}
	}
	b := addonBuild{componentsDir: componentsDir, out: tmp, progress: progress}
	if err := e.addon.build(ctx, b); err != nil {
		return e, fmt.Errorf("building addon %s: %w", name, err)
	}
	_ = os.RemoveAll(filepath.Join(tmp, "src"))
	if err := os.WriteFile(filepath.Join(tmp, "complete"), []byte(time.Now().UTC().Format(time.RFC3339)+"\n"), 0o644); err != nil {
		return e, err
	}
	_ = os.RemoveAll(e.Dir)
	if err := os.Rename(tmp, e.Dir); err != nil {
		return e, err
	}
	fmt.Fprintf(progress, "localcluster: addon %s built in %s\n", name, time.Since(start).Round(time.Second))
	return e, nil
}

// addonBuild is the work area of one addon build.
type addonBuild struct {
	componentsDir string
	out           string // bin/, crds/ and src/ (scratch, removed after)
	progress      io.Writer
}

// goBuild builds pkg in the module directory dir into out/bin/binary.
func (b addonBuild) goBuild(ctx context.Context, dir, what, binary, pkg string) error {
	return goWithProgress(ctx, dir, what, []string{"build", "-trimpath", "-ldflags", "-s -w", "-o", filepath.Join(b.out, "bin", binary), pkg}, b.progress)
}

// copyCRDs copies the files matching pattern (relative to dir) into out/crds.
func (b addonBuild) copyCRDs(dir, pattern string) error {
	files, err := filepath.Glob(filepath.Join(dir, pattern))
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return fmt.Errorf("no CRD manifests match %s in %s", pattern, dir)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(b.out, "crds", filepath.Base(f)), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// fluxController builds one Flux controller the way gitops-in-tests.md found to work:
// its module directory copied somewhere writable, the ./api replace dropped (that
// module is not in the zip) in favour of the published api module, and for
// source-controller github.com/fluxcd/pkg/artifact stepped back to v0.18.1 (the proxy
// refuses the zips of v0.18.2 and v0.18.3).
func (b addonBuild) fluxController(ctx context.Context, ctrl, version string) error {
	mod := "github.com/fluxcd/" + ctrl
	dir, err := goModDownload(ctx, mod, version)
	if err != nil {
		return err
	}
	src := filepath.Join(b.out, "src", ctrl)
	if err := copyTree(dir, src); err != nil {
		return err
	}
	edits := [][]string{
		{"mod", "edit", "-dropreplace", mod + "/api"},
		{"mod", "download", mod + "/api"},
	}
	if ctrl == "source-controller" {
		edits = append(edits,
			[]string{"mod", "edit", "-replace", "github.com/fluxcd/pkg/artifact=github.com/fluxcd/pkg/artifact@v0.18.1"},
			[]string{"mod", "download", "github.com/fluxcd/pkg/artifact"})
	}
	for _, args := range edits {
		if out, err := goCmd(ctx, src, args...).CombinedOutput(); err != nil {
			return fmt.Errorf("go %s in %s: %w\n%s", strings.Join(args, " "), src, err, out)
		}
	}
	if err := b.goBuild(ctx, src, ctrl+" "+version, ctrl, "."); err != nil {
		return err
	}
	return b.copyCRDs(src, "config/crd/bases/*.yaml")
}

// goCmd is the go command in dir, outside any workspace.
func goCmd(ctx context.Context, dir string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off")
	return cmd
}

// goModDownload fetches a module version through the module proxy and returns its
// (read-only) directory in the module cache.
func goModDownload(ctx context.Context, mod, version string) (string, error) {
	tmp, err := os.MkdirTemp("", "localcluster-download-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	cmd := goCmd(ctx, tmp, "mod", "download", "-json", mod+"@"+version)
	out, err := cmd.Output()
	var info struct{ Dir, Error string }
	_ = json.Unmarshal(out, &info)
	if err != nil || info.Dir == "" {
		return "", fmt.Errorf("go mod download %s@%s: %w %s", mod, version, err, info.Error)
	}
	return info.Dir, nil
}

// goListModuleDir finds the directory of a dependency of the module in dir.
func goListModuleDir(ctx context.Context, dir, mod string) (string, error) {
	out, err := goCmd(ctx, dir, "list", "-m", "-f", "{{.Dir}}", mod).Output()
	d := strings.TrimSpace(string(out))
	if err != nil || d == "" {
		return "", fmt.Errorf("finding the directory of %s: %w", mod, err)
	}
	return d, nil
}

// copyTree copies a directory tree, making everything writable by its owner (module
// cache directories are read-only).
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
}
