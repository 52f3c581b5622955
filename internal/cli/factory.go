package cli

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"syscall"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"

	"github.com/rotor-project/rotor/internal/buildinfo"
	"github.com/rotor-project/rotor/internal/refs"
)

// factory hands commands what they need from the kubeconfig flags. Clients are made
// lazily, so commands that need no cluster (help, completion scripts, `version
// --client`) work without a kubeconfig.
type factory struct {
	ConfigFlags *genericclioptions.ConfigFlags
	Clock       clock.Clock
	IsTerminal  func(any) bool
	Getenv      func(string) string

	restConfig *rest.Config
	client     kubernetes.Interface
	metadata   metadata.Interface
	dynamic    dynamic.Interface
}

func newFactory(deps Deps) *factory {
	if deps.Getenv == nil {
		deps.Getenv = os.Getenv
	}
	return &factory{
		ConfigFlags: genericclioptions.NewConfigFlags(true),
		Clock:       deps.Clock,
		IsTerminal:  deps.IsTerminal,
		Getenv:      deps.Getenv,
	}
}

// RESTConfig is the client configuration from --kubeconfig, --context and friends.
func (f *factory) RESTConfig() (*rest.Config, error) {
	if f.restConfig != nil {
		return f.restConfig, nil
	}
	cfg, err := f.ConfigFlags.ToRESTConfig()
	if err != nil {
		return nil, fmt.Errorf("cannot load a kubeconfig: %w (set --kubeconfig or KUBECONFIG, or --context)", err)
	}
	cfg.UserAgent = "rotor/" + buildinfo.Version
	// A rotation is a burst: a patch and a watch or two per consumer, in parallel.
	// client-go's default of 5 requests/s would make 50 consumers take 20 s; the API
	// server's priority and fairness still protects it.
	if cfg.QPS == 0 {
		cfg.QPS, cfg.Burst = 100, 200
	}
	f.restConfig = cfg
	return cfg, nil
}

// Client is a typed clientset.
func (f *factory) Client() (kubernetes.Interface, error) {
	if f.client != nil {
		return f.client, nil
	}
	cfg, err := f.RESTConfig()
	if err != nil {
		return nil, err
	}
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	f.client = c
	return c, nil
}

// Metadata is a client for object metadata only: listings that must not carry values.
func (f *factory) Metadata() (metadata.Interface, error) {
	if f.metadata != nil {
		return f.metadata, nil
	}
	cfg, err := f.RESTConfig()
	if err != nil {
		return nil, err
	}
	c, err := metadata.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	f.metadata = c
	return c, nil
}

// Dynamic is a dynamic client (JSON), for kinds rotor re-points through JSON patches.
func (f *factory) Dynamic() (dynamic.Interface, error) {
	if f.dynamic != nil {
		return f.dynamic, nil
	}
	cfg, err := f.RESTConfig()
	if err != nil {
		return nil, err
	}
	c, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	f.dynamic = c
	return c, nil
}

// Finder is the reference engine over the cluster (refs, rollout, status, cleanup):
// typed lists in protobuf, with a client-side rate limit for a burst of paged lists.
func (f *factory) Finder() (*refs.Finder, error) {
	base, err := f.RESTConfig()
	if err != nil {
		return nil, err
	}
	jsonCfg := rest.CopyConfig(base)
	jsonCfg.QPS, jsonCfg.Burst = 50, 100
	protoCfg := rest.CopyConfig(jsonCfg)
	protoCfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	protoCfg.ContentType = "application/vnd.kubernetes.protobuf"
	client, err := kubernetes.NewForConfig(protoCfg)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(jsonCfg)
	if err != nil {
		return nil, err
	}
	disc, err := discovery.NewDiscoveryClientForConfig(jsonCfg)
	if err != nil {
		return nil, err
	}
	meta, err := metadata.NewForConfig(jsonCfg)
	if err != nil {
		return nil, err
	}
	return &refs.Finder{Client: client, Dynamic: dyn, Discovery: disc, Metadata: meta}, nil
}

// Namespace is -n, or the kubeconfig context's namespace, or "default".
func (f *factory) Namespace() (string, error) {
	ns, _, err := f.ConfigFlags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return "", fmt.Errorf("cannot determine the namespace: %w", err)
	}
	return ns, nil
}

// KubeconfigUser is the user name of the kubeconfig entry in use: the fallback for
// created-by when the API server cannot say who the caller is.
func (f *factory) KubeconfigUser() string {
	if f.ConfigFlags.Impersonate != nil && *f.ConfigFlags.Impersonate != "" {
		return *f.ConfigFlags.Impersonate
	}
	raw, err := f.ConfigFlags.ToRawKubeConfigLoader().RawConfig()
	if err != nil {
		return ""
	}
	if f.ConfigFlags.AuthInfoName != nil && *f.ConfigFlags.AuthInfoName != "" {
		return *f.ConfigFlags.AuthInfoName
	}
	name := raw.CurrentContext
	if f.ConfigFlags.Context != nil && *f.ConfigFlags.Context != "" {
		name = *f.ConfigFlags.Context
	}
	if c, ok := raw.Contexts[name]; ok {
		return c.AuthInfo
	}
	return ""
}

func isForbidden(err error) bool { return apierrors.IsForbidden(err) }

func isUnreachable(err error) bool {
	var uerr *url.Error
	var nerr net.Error
	return errors.Is(err, syscall.ECONNREFUSED) || (errors.As(err, &uerr) && errors.As(err, &nerr)) || errors.Is(err, os.ErrDeadlineExceeded)
}
