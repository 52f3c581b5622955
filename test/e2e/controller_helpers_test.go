package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/internal/ownership"
	"github.com/rotor-project/rotor/test/clusterenv"
	"github.com/rotor-project/rotor/test/freeport"
	"github.com/rotor-project/rotor/test/waitfor"
)

var (
	crdOnce sync.Once
	crdErr  error
)

// installCRDs applies deploy/charts/rotor/crds once and waits until they are served.
func installCRDs(t *testing.T) {
	t.Helper()
	crdOnce.Do(func() {
		root, err := clusterenv.RepoRoot()
		if err != nil {
			crdErr = err
			return
		}
		files, _ := filepath.Glob(filepath.Join(root, "deploy", "charts", "rotor", "crds", "*.yaml"))
		dyn, err := dynamic.NewForConfig(clusterenv.RESTConfig(t))
		if err != nil {
			crdErr = err
			return
		}
		gvr := apiextensionsv1.SchemeGroupVersion.WithResource("customresourcedefinitions")
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				crdErr = err
				return
			}
			obj := &unstructured.Unstructured{}
			if err := yaml.Unmarshal(b, &obj.Object); err != nil {
				crdErr = err
				return
			}
			data, _ := obj.MarshalJSON()
			if _, err := dyn.Resource(gvr).Patch(context.Background(), obj.GetName(), types.ApplyPatchType, data,
				metav1.PatchOptions{FieldManager: "rotor-e2e", Force: ptrTo(true)}); err != nil {
				crdErr = fmt.Errorf("applying %s: %w", f, err)
				return
			}
		}
		crdErr = waitfor.PollContext(waitfor.Context(t), func(ctx context.Context) (bool, error) {
			_, err := dyn.Resource(ownership.GVR).Namespace("default").List(ctx, metav1.ListOptions{Limit: 1})
			return err == nil, nil
		})
	})
	if crdErr != nil {
		t.Fatal(crdErr)
	}
}

// controllerProc is a running `rotor controller` process.
type controllerProc struct {
	cmd     *exec.Cmd
	log     *syncBuffer
	metrics string // host:port of /metrics
	probe   string // host:port of /healthz and /readyz
	done    chan struct{}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startController runs the controller for namespace ns (leader election off unless
// args turn it on), waits until its health probe answers, and stops it at cleanup. Its
// addresses lie below the ephemeral range; one that another test took in between makes
// it start again on others.
func startController(t *testing.T, ns string, args ...string) *controllerProc {
	t.Helper()
	installCRDs(t)
	for attempt := 1; ; attempt++ {
		p := &controllerProc{log: &syncBuffer{}, metrics: freeport.Addr(t), probe: freeport.Addr(t), done: make(chan struct{})}
		full := append([]string{"controller", "--kubeconfig", clusterenv.Kubeconfig(t), "--namespaces", ns,
			"--metrics-bind-address", p.metrics, "--health-probe-bind-address", p.probe, "--leader-elect-namespace", ns, "-v", "1"}, args...)
		if !containsPrefix(args, "--leader-elect") {
			full = append(full, "--leader-elect=false")
		}
		p.cmd = exec.Command(rotorBinary(t), full...)
		p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
		if err := p.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { _ = p.cmd.Wait(); close(p.done) }()
		t.Cleanup(func() {
			p.stop()
			if t.Failed() {
				t.Logf("controller (pid %d) log:\n%s", p.cmd.Process.Pid, p.log.String())
			}
		})
		if p.healthy(t) {
			return p
		}
		if !strings.Contains(p.log.String(), freeport.InUse) || attempt == 5 {
			t.Fatalf("the controller exited before it was healthy:\n%s", p.log.String())
		}
	}
}

// healthy waits until the health probe answers (true) or the process exits (false).
func (p *controllerProc) healthy(t *testing.T) bool {
	t.Helper()
	ok := false
	err := waitfor.PollContext(waitfor.Context(t), func(ctx context.Context) (bool, error) {
		select {
		case <-p.done:
			return true, nil
		default:
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.probe+"/healthz", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false, nil
		}
		_ = resp.Body.Close()
		ok = resp.StatusCode == http.StatusOK
		return ok, nil
	})
	if err != nil {
		t.Fatalf("waiting for the controller's health probe: %v\n%s", err, p.log.String())
	}
	return ok
}

func containsPrefix(args []string, prefix string) bool {
	for _, a := range args {
		if strings.HasPrefix(a, prefix) {
			return true
		}
	}
	return false
}

// stop ends the process with SIGTERM and waits for it.
func (p *controllerProc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// kill ends the process with SIGKILL, as a node failure would.
func (p *controllerProc) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// applySecretRotation creates a SecretRotation from YAML and returns its name.
func applySecretRotation(t *testing.T, ns, doc string) string {
	t.Helper()
	installCRDs(t)
	obj := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(doc), &obj.Object); err != nil {
		t.Fatal(err)
	}
	obj.SetNamespace(ns)
	if _, err := srClient(t, ns).Create(context.Background(), obj, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating SecretRotation: %v", err)
	}
	return obj.GetName()
}

func srClient(t *testing.T, ns string) dynamic.ResourceInterface {
	t.Helper()
	dyn, err := dynamic.NewForConfig(clusterenv.RESTConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	return dyn.Resource(ownership.GVR).Namespace(ns)
}

// getRotation reads a SecretRotation.
func getRotation(t *testing.T, ns, name string) *v1alpha1.SecretRotation {
	t.Helper()
	u, err := srClient(t, ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rot := &v1alpha1.SecretRotation{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, rot); err != nil {
		t.Fatal(err)
	}
	return rot
}

// waitRotation waits (by watch) until the SecretRotation satisfies cond.
func waitRotation(t *testing.T, p *controllerProc, ns, name, what string, cond func(*v1alpha1.SecretRotation) bool) *v1alpha1.SecretRotation {
	t.Helper()
	ctx := waitfor.Context(t)
	var last *v1alpha1.SecretRotation
	for ctx.Err() == nil {
		list, err := srClient(t, ns).List(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + name})
		if err != nil {
			t.Fatal(err)
		}
		for i := range list.Items {
			rot := &v1alpha1.SecretRotation{}
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(list.Items[i].Object, rot); err == nil {
				last = rot
				if cond(rot) {
					return rot
				}
			}
		}
		w, err := srClient(t, ns).Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + name, ResourceVersion: list.GetResourceVersion()})
		if err != nil {
			continue
		}
		for ev := range w.ResultChan() {
			u, ok := ev.Object.(*unstructured.Unstructured)
			if !ok {
				continue
			}
			rot := &v1alpha1.SecretRotation{}
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, rot); err != nil {
				continue
			}
			last = rot
			if cond(rot) {
				w.Stop()
				return rot
			}
		}
		w.Stop()
	}
	log := ""
	if p != nil {
		log = p.log.String()
	}
	t.Fatalf("gave up (the test's deadline) waiting for SecretRotation %s to be %s; last status: %+v\ncontroller log:\n%s", name, what, last.Status, log)
	return nil
}

// eventsAppear waits (by watch on the namespace's Events) until cond holds.
func eventsAppear(t *testing.T, ns, what string, cond func() bool) {
	t.Helper()
	clusterenv.WaitFor(t, ns, what, func(context.Context) (bool, error) { return cond(), nil }, clusterenv.Events)
}

// promEventually asks Prometheus until cond holds (nothing to watch there).
func promEventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	waitfor.Poll(t, what, func(context.Context) (bool, error) { return cond(), nil })
}

// eventsOf are the reason: note lines of the events about an object.
func eventsOf(t *testing.T, ns, kind, name string) []string {
	t.Helper()
	list, err := clusterenv.Client(t).EventsV1().Events(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range list.Items {
		if e.Regarding.Kind == kind && e.Regarding.Name == name {
			out = append(out, e.Type+" "+e.Reason+": "+e.Note)
		}
	}
	return out
}

// scrape reads the controller's /metrics.
func (p *controllerProc) scrape(t *testing.T) string {
	t.Helper()
	resp, err := http.Get("http://" + p.metrics + "/metrics")
	if err != nil {
		return ""
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
