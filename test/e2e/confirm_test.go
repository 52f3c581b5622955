package e2e

import (
	"bytes"
	"strings"
	"testing"

	"github.com/rotor-project/rotor/internal/cli"
	"github.com/rotor-project/rotor/test/clusterenv"
	"github.com/rotor-project/rotor/test/waitfor"
)

// runOnTerminal runs rotor as if its standard streams were a terminal, answering its
// questions with answers.
func runOnTerminal(t *testing.T, answers string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	ctx := waitfor.Context(t)
	full := append([]string{"rotor", "--kubeconfig", clusterenv.Kubeconfig(t)}, args...)
	code := cli.Run(ctx, full, cli.IOStreams{In: strings.NewReader(answers), Out: &out, ErrOut: &errOut},
		cli.Deps{IsTerminal: func(any) bool { return true }})
	return result{Code: code, Stdout: out.String(), Stderr: errOut.String()}
}

func TestRolloutOnATerminalAsksFirst(t *testing.T) {
	t.Parallel()
	ns := clusterenv.Namespace(t)
	v1, v2 := twoVersions(t, ns, "app")
	createDeployment(t, ns, deployment("web", v1, 1))

	before := snapshot(t, ns)
	no := runOnTerminal(t, "n\n", "rollout", "app", "-n", ns, "--to", v2)
	if no.Code == 0 || !strings.Contains(no.Stderr, "Apply this rotation? [y/N]") || !strings.Contains(no.Stderr, "declined") {
		t.Fatalf("answering no: %+v", no)
	}
	assertUnchanged(t, ns, before)

	yes := runOnTerminal(t, "y\n", "rollout", "app", "-n", ns, "--to", v2)
	if yes.Code != 0 || templateSecrets(t, ns, "web")[0] != v2 {
		t.Fatalf("answering yes: %+v", yes)
	}
	// --yes does not ask.
	back := runOnTerminal(t, "", "rollback", "app", "-n", ns, "--yes")
	if back.Code != 0 || strings.Contains(back.Stderr, "[y/N]") {
		t.Fatalf("rollback --yes: %+v", back)
	}
}
