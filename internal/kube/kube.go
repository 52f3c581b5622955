// Package kube builds the Kubernetes API clients every rotor engine uses, from one
// rest.Config and with one rate policy: the kubeconfig's own QPS and burst when it sets
// them, else 100 requests per second with bursts of 200 (client-go's default of 5 would
// make a rotation of 50 consumers, or a reference scan of many kinds, crawl; the API
// server's priority and fairness still protects the server). The CLI and a controller
// build their clients here, so both behave alike.
package kube

import (
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
)

// Default rate policy, used when the kubeconfig sets none.
const (
	DefaultQPS   = 100
	DefaultBurst = 200
)

// Clients are the clients of one cluster.
type Clients struct {
	Config    *rest.Config
	Typed     kubernetes.Interface
	Dynamic   dynamic.Interface
	Metadata  metadata.Interface
	Discovery discovery.DiscoveryInterface
	// Proto is a typed client that reads lists as protobuf (the reference engine's
	// large lists).
	Proto kubernetes.Interface
}

// Configure applies the rate policy and user agent to a copy of cfg.
func Configure(cfg *rest.Config, userAgent string) *rest.Config {
	c := rest.CopyConfig(cfg)
	if c.QPS == 0 {
		c.QPS = DefaultQPS
	}
	if c.Burst == 0 {
		c.Burst = DefaultBurst
	}
	if userAgent != "" {
		c.UserAgent = userAgent
	}
	return c
}

// New builds the clients of cfg (configure it first).
func New(cfg *rest.Config) (*Clients, error) {
	typed, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	meta, err := metadata.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	protoCfg := rest.CopyConfig(cfg)
	protoCfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	protoCfg.ContentType = "application/vnd.kubernetes.protobuf"
	proto, err := kubernetes.NewForConfig(protoCfg)
	if err != nil {
		return nil, err
	}
	return &Clients{Config: cfg, Typed: typed, Dynamic: dyn, Metadata: meta, Discovery: disc, Proto: proto}, nil
}
