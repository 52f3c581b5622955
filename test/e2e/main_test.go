// Package e2e holds rotor's behaviour tests. They run against a real local control
// plane (kube-apiserver, etcd, controller-manager, scheduler, kwok) started by make or
// by TestMain; see test/clusterenv.
package e2e

import (
	"testing"

	"github.com/rotor-project/rotor/test/clusterenv"
)

func TestMain(m *testing.M) { clusterenv.Main(m) }
