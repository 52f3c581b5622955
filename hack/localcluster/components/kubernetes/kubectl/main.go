// Command kubectl is the upstream kubectl of the same Kubernetes version, for the demo
// and for benchmarks that compare rotor with the kubectl way of doing things. rotor
// itself never calls it.
package main

import (
	"k8s.io/component-base/cli"
	"k8s.io/kubectl/pkg/cmd"
	"k8s.io/kubectl/pkg/cmd/util"
)

func main() {
	command := cmd.NewDefaultKubectlCommand()
	if err := cli.RunNoErrOutput(command); err != nil {
		util.CheckErr(err)
	}
}
