// Package clusterenv gives tests a real local control plane (see hack/localcluster).
// Under `make test` one cluster is shared by every package: make starts it and names
// its kubeconfig in ROTOR_TEST_KUBECONFIG. A package run alone with `go test` starts
// its own cluster from TestMain and stops it at the end, also when a test fails (and,
// through the localcluster supervisor, when the test binary is killed).
package clusterenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// EnvKubeconfig names the kubeconfig of a running cluster the tests should use.
const EnvKubeconfig = "ROTOR_TEST_KUBECONFIG"

var kubeconfig string

// Main runs the package's tests against a cluster and exits. Use it from TestMain.
func Main(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if kc := os.Getenv(EnvKubeconfig); kc != "" {
		kubeconfig = kc
		return m.Run()
	}
	stop, kc, err := Start(os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "clusterenv: cannot start the local control plane:", err)
		return 1
	}
	defer stop()
	kubeconfig = kc
	return m.Run()
}

// Start builds the localcluster tool, starts a cluster on free loopback ports and
// returns a function that stops it, and its kubeconfig path.
func Start(progress *os.File) (stop func(), kubeconfigPath string, err error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, "", err
	}
	dir, err := os.MkdirTemp("", "rotor-e2e-")
	if err != nil {
		return nil, "", err
	}
	lcDir := filepath.Join(root, "hack", "localcluster")
	tool := filepath.Join(dir, "localcluster")
	build := exec.Command("go", "build", "-o", tool, ".")
	build.Dir = lcDir
	build.Stderr = progress
	if err := build.Run(); err != nil {
		return nil, "", fmt.Errorf("building hack/localcluster: %w", err)
	}
	base, err := freePortBase()
	if err != nil {
		return nil, "", err
	}
	clusterDir := filepath.Join(dir, "cluster")
	up := exec.Command(tool, "up", "--dir", clusterDir, "--components", filepath.Join(lcDir, "components"),
		"--port-base", strconv.Itoa(base), "--owner-pid", strconv.Itoa(os.Getpid()))
	up.Stderr = progress
	out, err := up.Output()
	if err != nil {
		return nil, "", fmt.Errorf("localcluster up: %w", err)
	}
	stop = func() {
		down := exec.Command(tool, "down", "--dir", clusterDir)
		down.Stderr = progress
		_ = down.Run()
		_ = os.RemoveAll(dir)
	}
	return stop, strings.TrimSpace(string(out)), nil
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

// freePortBase picks a base for six consecutive free loopback ports.
func freePortBase() (int, error) {
	for attempt := 0; attempt < 50; attempt++ {
		var b [2]byte
		_, _ = rand.Read(b[:])
		base := 32000 + (int(b[0])<<8|int(b[1]))%2800*10
		free := true
		for p := base; p < base+6; p++ {
			l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
			if err != nil {
				free = false
				break
			}
			_ = l.Close()
		}
		if free {
			return base, nil
		}
	}
	return 0, errors.New("no six consecutive free ports found")
}

// Kubeconfig is the path of the admin kubeconfig of the cluster under test.
func Kubeconfig(t testing.TB) string {
	t.Helper()
	if kubeconfig == "" {
		t.Fatal("no cluster: call clusterenv.Main from TestMain")
	}
	return kubeconfig
}

// RESTConfig is the admin client configuration.
func RESTConfig(t testing.TB) *rest.Config {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", Kubeconfig(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 200, 400
	return cfg
}

// Client is an admin clientset.
func Client(t testing.TB) kubernetes.Interface {
	t.Helper()
	c, err := kubernetes.NewForConfig(RESTConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var unsafeChars = regexp.MustCompile(`[^a-z0-9-]+`)

// Namespace creates a namespace of the test's own and deletes it when the test ends.
func Namespace(t testing.TB) string {
	t.Helper()
	c := Client(t)
	var b [3]byte
	_, _ = rand.Read(b[:])
	base := strings.Trim(unsafeChars.ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	if len(base) > 40 {
		base = base[:40]
	}
	name := strings.Trim(base, "-") + "-" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating namespace %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = c.CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{})
	})
	// The controller-manager fills a new namespace with its default ServiceAccount and
	// the kube-root-ca.crt ConfigMap. Wait for both, so a test that compares the
	// namespace before and after never sees them arrive in between.
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		_, saErr := c.CoreV1().ServiceAccounts(name).Get(ctx, "default", metav1.GetOptions{})
		_, cmErr := c.CoreV1().ConfigMaps(name).Get(ctx, "kube-root-ca.crt", metav1.GetOptions{})
		return saErr == nil && cmErr == nil, nil
	})
	if err != nil {
		t.Fatalf("namespace %s: the controller-manager did not create its default ServiceAccount and kube-root-ca.crt: %v", name, err)
	}
	return name
}
