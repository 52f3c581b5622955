// Module localcluster builds, starts and stops a real local Kubernetes control plane
// (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, and kwok as the fake
// kubelet) for rotor's tests and demo. It is a module of its own so that
// k8s.io/kubernetes never enters rotor's go.mod; the components themselves are built
// from the nested modules under components/.
module github.com/rotor-project/rotor/hack/localcluster

go 1.26.0

require sigs.k8s.io/yaml v1.6.0

require go.yaml.in/yaml/v2 v2.4.2 // indirect
