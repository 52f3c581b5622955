// Package controller measures rotor's controller over the bench population
// (bench/population): its resident memory once it has indexed the cluster and driven
// a SecretRotation in every rotated namespace, and the time from a new version's
// creation to every consumer of the family re-pointed, over many families. `make
// bench-controller` runs it at the issue's size (1,000 namespaces, 50 families) and
// bench/controller/README.md records the figures; `make test` runs it at a tiny size.
package controller

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/bench/pagecache"
	"github.com/rotor-project/rotor/bench/population"
	"github.com/rotor-project/rotor/internal/family"
	"github.com/rotor-project/rotor/internal/kinds"
	"github.com/rotor-project/rotor/internal/ownership"
	"github.com/rotor-project/rotor/internal/secretref"
)

// Config is one run.
type Config struct {
	Kubeconfig string
	Rest       *rest.Config
	// Rotor is the rotor binary; CRDs is the folder of the CRDs to apply.
	Rotor, CRDs string
	// Namespaces is the population's size; Families how many of its namespaces get a
	// SecretRotation and a new version (one family per namespace).
	Namespaces, Families int
	// Interval staggers the new versions.
	Interval time.Duration
	// MetricsAddr and ProbeAddr are the controller's listen addresses.
	MetricsAddr, ProbeAddr string
	// Scoped limits the controller to the population's namespaces (a shared cluster,
	// whose other tests run controllers of their own); otherwise it watches them all.
	Scoped   bool
	Progress io.Writer
	// ControllerArgs are more flags for the controller (e.g. --qps, --concurrency).
	ControllerArgs []string
	// ControllerLog, if set, is a file that receives the controller's log at -v 1.
	ControllerLog string
}

// Result is what a run measured.
type Result struct {
	Namespaces, Families, Objects int
	// RSS is the controller's resident set once steady (the largest of samples over
	// a few seconds after the rotations ended); Peak its high-water mark. Anon is the
	// anonymous part of RSS (the largest sample): the heap and stacks, without the
	// pages of its own binary, whose count depends on how the kernel cached the file
	// (the same binary measured 45 or 77 MB resident at start on this machine).
	RSS, Peak, Anon int64
	// Latencies are, per family, from the new version's creation to the
	// SecretRotation's journal saying every consumer was re-pointed; Verified says
	// every consumer's spec was then checked to name the new version.
	Latencies []time.Duration
	Verified  bool
}

// Percentile is the p-th percentile (nearest rank) of the latencies.
func (r Result) Percentile(p float64) time.Duration {
	if len(r.Latencies) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), r.Latencies...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(p/100*float64(len(s))+0.999999) - 1
	return s[max(0, min(i, len(s)-1))]
}

var srGVR = ownership.GVR

// Run creates the population (or reuses it), starts the controller, measures, and
// puts the rotated namespaces back on the population's version.
func Run(ctx context.Context, cfg Config) (Result, error) {
	res := Result{Namespaces: cfg.Namespaces, Families: cfg.Families}
	c, err := kubernetes.NewForConfig(cfg.Rest)
	if err != nil {
		return res, err
	}
	dyn, err := dynamic.NewForConfig(cfg.Rest)
	if err != nil {
		return res, err
	}
	spec := population.Issue3(cfg.Namespaces)
	if err := population.Create(ctx, c, spec, cfg.Progress); err != nil {
		return res, err
	}
	if err := population.WaitSettled(ctx, c, spec, cfg.Progress); err != nil {
		return res, err
	}
	meta, err := metadata.NewForConfig(cfg.Rest)
	if err != nil {
		return res, err
	}
	if res.Objects, err = countObjects(ctx, meta); err != nil {
		return res, err
	}
	if err := applyCRDs(ctx, dyn, cfg.CRDs); err != nil {
		return res, err
	}
	rotated := make([]string, cfg.Families)
	for i := range rotated {
		rotated[i] = spec.Namespace(i)
		sr := &unstructured.Unstructured{Object: map[string]any{"apiVersion": v1alpha1.APIVersion, "kind": v1alpha1.Kind,
			"metadata": map[string]any{"name": "bench", "namespace": rotated[i]},
			"spec":     map[string]any{"family": spec.Family, "target": "latest"}}}
		data, _ := sr.MarshalJSON()
		if _, err := dyn.Resource(srGVR).Namespace(rotated[i]).Patch(ctx, "bench", types.ApplyPatchType, data, metav1.PatchOptions{FieldManager: "rotor-bench", Force: ptr.To(true)}); err != nil {
			return res, err
		}
	}
	var scope []string
	if cfg.Scoped {
		for i := range cfg.Namespaces {
			scope = append(scope, spec.Namespace(i))
		}
	}
	proc, err := startController(cfg, scope)
	if err != nil {
		return res, err
	}
	defer restore(context.WithoutCancel(ctx), c, dyn, spec, rotated, cfg.Progress, proc.stop)
	fmt.Fprintln(cfg.Progress, "bench-controller: waiting for the controller to index the cluster and settle every SecretRotation")
	for _, ns := range rotated {
		if err := waitRotation(ctx, dyn, ns, func(r *v1alpha1.SecretRotation) bool {
			return r.Status.Phase == v1alpha1.Succeeded && r.Status.TargetVersion == spec.Current()
		}); err != nil {
			return res, fmt.Errorf("the first rotation in %s: %w\n%s", ns, err, proc.log())
		}
	}

	fmt.Fprintf(cfg.Progress, "bench-controller: %d new versions, one every %s\n", len(rotated), cfg.Interval)
	base := time.Now().UTC().Truncate(time.Second).Add(time.Second)
	lat := make([]time.Duration, len(rotated))
	errs := make([]error, len(rotated))
	var wg sync.WaitGroup
	for i, ns := range rotated {
		if i > 0 {
			select {
			case <-ctx.Done():
				return res, ctx.Err()
			case <-time.After(cfg.Interval):
			}
		}
		v := family.NewVersion(spec.Family, base.Add(time.Duration(i)*time.Second)).Name()
		wg.Go(func() {
			lat[i], errs[i] = measure(ctx, c, dyn, ns, v)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return res, fmt.Errorf("%w\n%s", err, proc.log())
	}
	res.Latencies = lat
	if res.Verified, err = verify(ctx, c, rotated, spec.Family); err != nil {
		return res, err
	}
	res.RSS, res.Peak, res.Anon, err = proc.steadyRSS(ctx, 5, time.Second)
	return res, err
}

// measure creates version v in ns and waits, by watch, until every Deployment,
// StatefulSet and CronJob of the namespace references it (in reference fields).
func measure(ctx context.Context, c kubernetes.Interface, dyn dynamic.Interface, ns, v string) (time.Duration, error) {
	ver, _ := family.Parse(v)
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: v, Namespace: ns, Labels: family.Labels(ver)},
		Immutable: ptr.To(true), Data: map[string][]byte{"token": []byte("bench-not-a-secret")}}
	start := time.Now()
	if _, err := c.CoreV1().Secrets(ns).Create(ctx, s, metav1.CreateOptions{}); err != nil {
		return 0, err
	}
	var wg sync.WaitGroup
	errs := make([]error, len(consumerKinds))
	for i, k := range consumerKinds {
		wg.Go(func() { errs[i] = waitAllReference(ctx, dyn, kinds.Lookup(k), ns, v) })
	}
	wg.Wait()
	return time.Since(start), errors.Join(errs...)
}

// consumerKinds are the population's consumers.
var consumerKinds = []string{"Deployment", "StatefulSet", "CronJob"}

// waitAllReference waits until every object of kind k in ns references version v and
// no other version of its family.
func waitAllReference(ctx context.Context, dyn dynamic.Interface, k *kinds.Kind, ns, v string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	ver, _ := family.Parse(v)
	res := dyn.Resource(k.GVR()).Namespace(ns)
	on := func(u *unstructured.Unstructured) bool {
		ok := true
		k.Walk(secretref.MapNode(u.Object), func(r secretref.Ref) bool {
			if strings.HasPrefix(r.Path, "metadata") || strings.Contains(r.Path, ".metadata.") {
				return true // annotations record history, they are not what runs
			}
			if o, isVer := family.ParseIn(ver.Family, r.Name); isVer && o != ver {
				ok = false
			}
			return ok
		})
		return ok
	}
	for ctx.Err() == nil {
		list, err := res.List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		pending := map[string]bool{}
		for i := range list.Items {
			if !on(&list.Items[i]) {
				pending[list.Items[i].GetName()] = true
			}
		}
		if len(pending) == 0 {
			return nil
		}
		w, err := res.Watch(ctx, metav1.ListOptions{ResourceVersion: list.GetResourceVersion()})
		if err != nil {
			continue
		}
		for ev := range w.ResultChan() {
			if u, ok := ev.Object.(*unstructured.Unstructured); ok && on(u) {
				delete(pending, u.GetName())
				if len(pending) == 0 {
					w.Stop()
					return nil
				}
			}
		}
		w.Stop()
	}
	return ctx.Err()
}

// waitRotation waits, by watch, until the namespace's SecretRotation satisfies cond.
func waitRotation(ctx context.Context, dyn dynamic.Interface, ns string, cond func(*v1alpha1.SecretRotation) bool) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	res := dyn.Resource(srGVR).Namespace(ns)
	for ctx.Err() == nil {
		list, err := res.List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		for i := range list.Items {
			if r, err := decode(&list.Items[i]); err == nil && cond(r) {
				return nil
			}
		}
		w, err := res.Watch(ctx, metav1.ListOptions{ResourceVersion: list.GetResourceVersion()})
		if err != nil {
			continue
		}
		for ev := range w.ResultChan() {
			if u, ok := ev.Object.(*unstructured.Unstructured); ok {
				if r, err := decode(u); err == nil && cond(r) {
					w.Stop()
					return nil
				}
			}
		}
		w.Stop()
	}
	return ctx.Err()
}

func decode(u *unstructured.Unstructured) (*v1alpha1.SecretRotation, error) {
	r := &v1alpha1.SecretRotation{}
	return r, runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, r)
}

// verify checks that no Deployment of the rotated namespaces references a population
// version any more (in reference fields: the look-alike text of the population stays).
func verify(ctx context.Context, c kubernetes.Interface, namespaces []string, fam string) (bool, error) {
	for _, ns := range namespaces {
		deps, err := c.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for i := range deps.Items {
			d := &deps.Items[i]
			var stale []string
			_ = kinds.Lookup("Deployment").VisitTyped(d, func(r secretref.Ref) bool {
				if v, ok := family.ParseIn(fam, r.Name); ok && v.Time.Year() <= 2025 {
					stale = append(stale, r.Name)
				}
				return true
			})
			if len(stale) > 0 {
				return false, fmt.Errorf("deployment %s/%s still references %v", ns, d.Name, stale)
			}
		}
	}
	return true, nil
}

// restore puts the rotated namespaces back on the population's version and removes
// what the run added, so later benchmarks see the population as it was.
func restore(ctx context.Context, c kubernetes.Interface, dyn dynamic.Interface, spec population.Spec, namespaces []string, progress io.Writer, stop func()) {
	defer stop()
	fmt.Fprintln(progress, "bench-controller: putting the population back")
	for _, ns := range namespaces {
		patch := fmt.Appendf(nil, `{"spec":{"target":%q}}`, spec.Current())
		if _, err := dyn.Resource(srGVR).Namespace(ns).Patch(ctx, "bench", types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
			fmt.Fprintln(progress, "bench-controller:", err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	for _, ns := range namespaces {
		_ = waitRotation(ctx, dyn, ns, func(r *v1alpha1.SecretRotation) bool {
			return r.Status.TargetVersion == spec.Current() && r.Status.Phase.Final()
		})
		_ = dyn.Resource(srGVR).Namespace(ns).Delete(ctx, "bench", metav1.DeleteOptions{})
		list, err := c.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			continue
		}
		for _, s := range list.Items {
			if _, ok := family.ParseIn(spec.Family, s.Name); ok && s.Name != spec.Current() && s.Name != spec.Previous() {
				_ = c.CoreV1().Secrets(ns).Delete(ctx, s.Name, metav1.DeleteOptions{})
			}
		}
	}
}

// countObjects counts the objects of the kinds the population is made of, for the
// record.
func countObjects(ctx context.Context, meta metadata.Interface) (int, error) {
	n := 0
	for _, gvr := range []schema.GroupVersionResource{
		{Version: "v1", Resource: "pods"}, {Version: "v1", Resource: "secrets"}, {Version: "v1", Resource: "serviceaccounts"},
		{Version: "v1", Resource: "configmaps"}, {Group: "apps", Version: "v1", Resource: "deployments"},
		{Group: "apps", Version: "v1", Resource: "replicasets"}, {Group: "apps", Version: "v1", Resource: "statefulsets"},
		{Group: "apps", Version: "v1", Resource: "controllerrevisions"}, {Group: "batch", Version: "v1", Resource: "jobs"},
		{Group: "batch", Version: "v1", Resource: "cronjobs"},
	} {
		l, err := meta.Resource(gvr).List(ctx, metav1.ListOptions{ResourceVersion: "0"})
		if err != nil {
			return 0, err
		}
		n += len(l.Items)
	}
	return n, nil
}

var schemaCRD = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// applyCRDs server-side applies every CRD in dir and waits until SecretRotations are
// served.
func applyCRDs(ctx context.Context, dyn dynamic.Interface, dir string) error {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		return fmt.Errorf("no CRDs in %s", dir)
	}
	crds := dyn.Resource(schemaCRD)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		obj := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(b, &obj.Object); err != nil {
			return err
		}
		data, _ := obj.MarshalJSON()
		if _, err := crds.Patch(ctx, obj.GetName(), types.ApplyPatchType, data, metav1.PatchOptions{FieldManager: "rotor-bench", Force: ptr.To(true)}); err != nil {
			return err
		}
	}
	// Bounded by ctx only: a busy machine serves a new CRD late, never wrongly.
	return wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		_, err := dyn.Resource(srGVR).List(ctx, metav1.ListOptions{Limit: 1})
		return err == nil, nil
	})
}

// proc is the controller process.
type proc struct {
	cmd  *exec.Cmd
	out  *lockedBuffer
	done chan struct{}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (p *proc) log() string {
	p.out.mu.Lock()
	defer p.out.mu.Unlock()
	s := p.out.b.String()
	if len(s) > 4000 {
		s = s[len(s)-4000:]
	}
	return s
}

func startController(cfg Config, namespaces []string) (*proc, error) {
	p := &proc{out: &lockedBuffer{}, done: make(chan struct{})}
	args := []string{"controller", "--kubeconfig", cfg.Kubeconfig, "--leader-elect=false",
		"--metrics-bind-address", cfg.MetricsAddr, "--health-probe-bind-address", cfg.ProbeAddr}
	if len(namespaces) > 0 {
		args = append(args, "--namespaces", strings.Join(namespaces, ","))
	}
	args = append(args, cfg.ControllerArgs...)
	var out io.Writer = p.out
	if cfg.ControllerLog != "" {
		// Every step's action and duration (-v 1), for finding where time goes.
		f, err := os.Create(cfg.ControllerLog)
		if err != nil {
			return nil, err
		}
		args = append(args, "-v", "1")
		out = io.MultiWriter(p.out, f)
	}
	// Its resident pages as a normal start finds the binary, not as the build that has
	// just written it left them (bench/pagecache).
	if err := pagecache.Evict(cfg.Rotor); err != nil {
		return nil, err
	}
	p.cmd = exec.Command(cfg.Rotor, args...)
	p.cmd.Stdout, p.cmd.Stderr = out, out
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	return p, nil
}

func (p *proc) stop() {
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// steadyRSS samples the process's resident set n times, every, and returns the
// largest sample, the high-water mark and the largest anonymous sample (KiB from
// /proc, in bytes).
func (p *proc) steadyRSS(ctx context.Context, n int, every time.Duration) (rss, peak, anon int64, err error) {
	for i := 0; i < n; i++ {
		if i > 0 {
			select {
			case <-ctx.Done():
				return 0, 0, 0, ctx.Err()
			case <-time.After(every):
			}
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
		if err != nil {
			return 0, 0, 0, err
		}
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) < 2 {
				continue
			}
			kib, _ := strconv.ParseInt(f[1], 10, 64)
			switch f[0] {
			case "VmRSS:":
				rss = max(rss, kib*1024)
			case "VmHWM:":
				peak = kib * 1024
			case "RssAnon:":
				anon = max(anon, kib*1024)
			}
		}
	}
	return rss, peak, anon, nil
}
