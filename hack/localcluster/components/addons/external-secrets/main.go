// Command external-secrets is the External Secrets Operator's core controller, built
// from its Go module by hack/localcluster as the `external-secrets` addon (ESO's own
// module has a replace directive, so `go install` refuses it; this wrapper repeats it).
package main

import "github.com/external-secrets/external-secrets/cmd/controller"

func main() { controller.Execute() }
