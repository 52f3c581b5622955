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
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"

	"github.com/rotor-project/rotor/internal/buildinfo"
	"github.com/rotor-project/rotor/internal/kube"
	"github.com/rotor-project/rotor/internal/refs"
)

// factory hands commands what they need from the kubeconfig flags. Clients are made
// lazily, so commands that need no cluster (help, completion scripts, `version
// --client`) work without a kubeconfig.
type factory struct {
	ConfigFlags *genericclioptions.ConfigFlags
	Clock       clock.Clock
	IsTerminal  func(any) bool

	restConfig *rest.Config
	clients    *kube.Clients
}

func newFactory(deps Deps) *factory {
	return &factory{
		ConfigFlags: genericclioptions.NewConfigFlags(true),
		Clock:       deps.Clock,
		IsTerminal:  deps.IsTerminal,
	}
}

// RESTConfig is the client configuration from --kubeconfig, --context and friends,
// with rotor's rate policy (kube.Configure).
func (f *factory) RESTConfig() (*rest.Config, error) {
	if f.restConfig != nil {
		return f.restConfig, nil
	}
	cfg, err := f.ConfigFlags.ToRESTConfig()
	if err != nil {
		return nil, fmt.Errorf("cannot load a kubeconfig: %w (set --kubeconfig or KUBECONFIG, or --context)", err)
	}
	f.restConfig = kube.Configure(cfg, "rotor/"+buildinfo.Version)
	return f.restConfig, nil
}

// Clients are every client of the cluster, built once.
func (f *factory) Clients() (*kube.Clients, error) {
	if f.clients != nil {
		return f.clients, nil
	}
	cfg, err := f.RESTConfig()
	if err != nil {
		return nil, err
	}
	c, err := kube.New(cfg)
	if err != nil {
		return nil, err
	}
	f.clients = c
	return c, nil
}

// Client is a typed clientset.
func (f *factory) Client() (kubernetes.Interface, error) {
	c, err := f.Clients()
	if err != nil {
		return nil, err
	}
	return c.Typed, nil
}

// Metadata is a client for object metadata only: listings that must not carry values.
func (f *factory) Metadata() (metadata.Interface, error) {
	c, err := f.Clients()
	if err != nil {
		return nil, err
	}
	return c.Metadata, nil
}

// Dynamic is a dynamic client (JSON), for kinds rotor re-points through JSON patches.
func (f *factory) Dynamic() (dynamic.Interface, error) {
	c, err := f.Clients()
	if err != nil {
		return nil, err
	}
	return c.Dynamic, nil
}

// Finder is the reference engine over the cluster (refs, rollout, status, cleanup):
// typed lists in protobuf.
func (f *factory) Finder() (*refs.Finder, error) {
	c, err := f.Clients()
	if err != nil {
		return nil, err
	}
	return &refs.Finder{Client: c.Proto, Dynamic: c.Dynamic, Discovery: c.Discovery, Metadata: c.Metadata}, nil
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
