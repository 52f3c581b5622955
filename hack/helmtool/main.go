// Command helmtool is Helm itself (helm.sh/helm/v4 from the Go module proxy), built as a
// module of its own so Helm's dependencies stay out of rotor's go.mod and no binary is
// downloaded. `make chart-test` runs `helm lint` and `helm template` through it; the e2e
// tests render the chart's RBAC with it.
//
//	go run . lint ../../deploy/charts/rotor
//	go run . template rotor ../../deploy/charts/rotor --namespace rotor-system
package main

import (
	"errors"
	"fmt"
	"os"

	helmcmd "helm.sh/helm/v4/pkg/cmd"
	"helm.sh/helm/v4/pkg/kube"
)

func main() {
	kube.ManagedFieldsManager = "helm"
	cmd, err := helmcmd.NewRootCmd(os.Stdout, os.Args[1:], helmcmd.SetupLogging)
	if err != nil {
		fmt.Fprintln(os.Stderr, "helmtool:", err)
		os.Exit(1)
	}
	if err := cmd.Execute(); err != nil {
		var cerr helmcmd.CommandError
		if errors.As(err, &cerr) {
			os.Exit(cerr.ExitCode)
		}
		os.Exit(1)
	}
}
