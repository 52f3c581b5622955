package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/rotor-project/rotor/internal/cli"
	"github.com/rotor-project/rotor/test/clusterenv"
	"github.com/rotor-project/rotor/test/waitfor"
)

// result is one finished rotor invocation.
type result struct {
	Code   int
	Stdout string
	Stderr string
}

// steppingClock is a fake clock whose waits complete at once by moving time forward,
// so a test can observe "waits for the next second" without sleeping.
type steppingClock struct {
	*clocktesting.FakeClock
	mu sync.Mutex
}

func newClock(t time.Time) *steppingClock {
	return &steppingClock{FakeClock: clocktesting.NewFakeClock(t)}
}

func (c *steppingClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := c.FakeClock.After(d)
	c.Step(d)
	return ch
}

// run invokes rotor in-process against the test cluster, as the admin user, with the
// given standard input. args exclude the program name.
func run(t *testing.T, clk *steppingClock, stdin string, args ...string) result {
	t.Helper()
	return runAs(t, "rotor", clk, stdin, args...)
}

func runAs(t *testing.T, prog string, clk *steppingClock, stdin string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	full := append([]string{prog, "--kubeconfig", clusterenv.Kubeconfig(t)}, args...)
	deps := cli.Deps{}
	if clk != nil {
		deps.Clock = clk
	}
	code := cli.Run(waitfor.Context(t), full, cli.IOStreams{In: strings.NewReader(stdin), Out: &out, ErrOut: &errOut}, deps)
	return result{Code: code, Stdout: out.String(), Stderr: errOut.String()}
}

// snapshot is a canonical dump of every object a rotor command could touch in a
// namespace, including resourceVersions: equal snapshots mean nothing changed.
func snapshot(t *testing.T, ns string) string {
	t.Helper()
	c := clusterenv.Client(t)
	ctx := context.Background()
	var parts []string
	add := func(kind string, list any, err error) {
		if err != nil {
			t.Fatalf("snapshot %s: %v", kind, err)
		}
		b, err := json.Marshal(list)
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, kind+"="+string(b))
	}
	secrets, err := c.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{})
	if secrets != nil {
		sort.Slice(secrets.Items, func(i, j int) bool { return secrets.Items[i].Name < secrets.Items[j].Name })
		secrets.ResourceVersion = ""
	}
	add("secrets", secrets, err)
	cms, err := c.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{})
	if cms != nil {
		cms.ResourceVersion = ""
	}
	add("configmaps", cms, err)
	deps, err := c.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
	if deps != nil {
		deps.ResourceVersion = ""
	}
	add("deployments", deps, err)
	sas, err := c.CoreV1().ServiceAccounts(ns).List(ctx, metav1.ListOptions{})
	if sas != nil {
		sas.ResourceVersion = ""
	}
	add("serviceaccounts", sas, err)
	return strings.Join(parts, "\n")
}

// assertUnchanged fails when the namespace differs from before.
func assertUnchanged(t *testing.T, ns, before string) {
	t.Helper()
	if after := snapshot(t, ns); after != before {
		t.Fatalf("namespace %s changed:\nbefore: %s\nafter:  %s", ns, before, after)
	}
}
