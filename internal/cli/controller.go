package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/rotor-project/rotor/internal/analysis"
	"github.com/rotor-project/rotor/internal/controller"
)

// ControllerOptions are the inputs of `rotor controller`.
type ControllerOptions struct {
	LeaderElect          bool
	LeaderElectNamespace string
	LeaderElectID        string
	LeaseDuration        time.Duration
	RenewDeadline        time.Duration
	RetryPeriod          time.Duration
	HealthProbeAddr      string
	MetricsAddr          string
	PprofAddr            string
	Namespaces           []string
	Selector             string
	QPS                  float32
	Burst                int
	Concurrency          int
	LogFormat            string
	Verbosity            int

	selector labels.Selector
	config   *rest.Config
	streams  IOStreams
	f        *factory
}

// NewCmdController builds `rotor controller`.
func NewCmdController(f *factory, name string, streams IOStreams) *cobra.Command {
	o := &ControllerOptions{streams: streams, f: f}
	cmd := &cobra.Command{
		Use:   "controller [--namespaces NS,...] [--leader-elect=false] [--metrics-bind-address :8080]",
		Short: "Run the SecretRotation controller (in the cluster, or against a kubeconfig)",
		Long: `Run rotor as a controller: every SecretRotation (rotor.dev/v1alpha1) is driven by
the same engine as rollout, one step at a time, with its journal in the resource's status.
With spec.target: latest, a new version of the family starts a rotation; set spec.target to
a version to roll back; spec.paused stops at the next step.

Leader election on a Lease is on by default, so two replicas are safe. The CRDs are in the
Helm chart (deploy/charts/rotor/crds); apply them first. Metrics are served on
--metrics-bind-address (/metrics), probes on --health-probe-bind-address (/healthz, /readyz).`,
		Example: examples(name, `
{{.}} controller --kubeconfig ~/.kube/config --leader-elect-namespace rotor-system
{{.}} controller --namespaces payments,billing --leader-elect=false --metrics-bind-address 127.0.0.1:8080`),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Complete(); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&o.LeaderElect, "leader-elect", true, "Elect a leader on a Lease so only one replica drives rotations")
	fl.StringVar(&o.LeaderElectNamespace, "leader-elect-namespace", "", "Namespace of the leader election Lease (default: the pod's or the kubeconfig's namespace)")
	fl.StringVar(&o.LeaderElectID, "leader-elect-id", "rotor-controller", "Name of the leader election Lease")
	fl.DurationVar(&o.LeaseDuration, "leader-elect-lease-duration", 15*time.Second, "How long a leader's Lease lasts without renewal before another replica takes over")
	fl.DurationVar(&o.RenewDeadline, "leader-elect-renew-deadline", 10*time.Second, "How long the leader tries to renew before it gives up leading")
	fl.DurationVar(&o.RetryPeriod, "leader-elect-retry-period", 2*time.Second, "How often replicas try to take or renew the Lease")
	fl.StringVar(&o.HealthProbeAddr, "health-probe-bind-address", ":8081", "Address of /healthz and /readyz (0 to turn off)")
	fl.StringVar(&o.MetricsAddr, "metrics-bind-address", ":8080", "Address of /metrics (0 to turn off)")
	fl.StringVar(&o.PprofAddr, "pprof-bind-address", "", "Address of Go's profiler (/debug/pprof/; default off): for a CPU or memory profile of a slow or large controller")
	fl.StringSliceVar(&o.Namespaces, "namespaces", nil, "Watch and drive only these namespaces (comma-separated; default: every namespace)")
	fl.StringVarP(&o.Selector, "selector", "l", "", "Drive only the SecretRotations matching this label selector")
	fl.Float32Var(&o.QPS, "qps", 0, "Client-side limit of requests per second to the API server (default: none; the API server's priority and fairness applies, as to controller-runtime's controllers)")
	fl.IntVar(&o.Burst, "burst", 0, "Burst of requests to the API server above --qps (default: twice --qps)")
	fl.IntVar(&o.Concurrency, "concurrency", 8, "How many rotations are stepped at once")
	fl.StringVar(&o.LogFormat, "log-format", "text", "Log format: text or json")
	fl.IntVarP(&o.Verbosity, "v", "v", 0, "Log verbosity (0: changes and errors; 1 and up: more detail)")
	return cmd
}

// Complete loads the client configuration and the Lease's namespace.
func (o *ControllerOptions) Complete() error {
	cfg, err := o.f.RESTConfig()
	if err != nil {
		return err
	}
	cfg = rest.CopyConfig(cfg)
	// No client-side limit unless asked (controller-runtime's default): the API
	// server's priority and fairness protects it, and the workers and the engine's
	// reads bound what is in flight. A limit of 100 requests per second kept 50
	// rotations at once waiting on it for half a minute (bench/controller/README.md).
	cfg.QPS, cfg.Burst = -1, 0
	if o.QPS > 0 {
		cfg.QPS, cfg.Burst = o.QPS, int(2*o.QPS)
	}
	if o.Burst > 0 {
		cfg.Burst = o.Burst
	}
	o.config = cfg
	if o.LeaderElectNamespace == "" {
		if o.LeaderElectNamespace, err = o.f.Namespace(); err != nil {
			return err
		}
	}
	if o.Selector != "" {
		if o.selector, err = labels.Parse(o.Selector); err != nil {
			return usageErrorf("--selector %q is not a label selector: %v (e.g. team=payments)", o.Selector, err)
		}
	}
	return nil
}

// Validate checks the flags.
func (o *ControllerOptions) Validate() error {
	for _, ns := range o.Namespaces {
		if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
			return usageErrorf("--namespaces: %q is not a namespace name: %s", ns, strings.Join(errs, "; "))
		}
	}
	switch {
	case o.Concurrency < 1:
		return usageErrorf("--concurrency must be at least 1, not %d", o.Concurrency)
	case o.LogFormat != "text" && o.LogFormat != "json":
		return usageErrorf("--log-format must be text or json, not %q", o.LogFormat)
	case o.LeaderElect && o.RenewDeadline >= o.LeaseDuration:
		return usageErrorf("--leader-elect-renew-deadline (%s) must be shorter than --leader-elect-lease-duration (%s)", o.RenewDeadline, o.LeaseDuration)
	case o.LeaderElect && o.RetryPeriod >= o.RenewDeadline:
		return usageErrorf("--leader-elect-retry-period (%s) must be shorter than --leader-elect-renew-deadline (%s)", o.RetryPeriod, o.RenewDeadline)
	}
	return nil
}

// Run runs the controller until interrupted.
func (o *ControllerOptions) Run(ctx context.Context) error {
	level := slog.Level(-o.Verbosity)
	hopts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(o.streams.ErrOut, hopts)
	if o.LogFormat == "json" {
		h = slog.NewJSONHandler(o.streams.ErrOut, hopts)
	}
	log := logr.FromSlogHandler(h)
	// controller-runtime and client-go log through process-wide loggers.
	ctrl.SetLogger(log)
	klog.SetLogger(log)
	ctx = logr.NewContext(ctx, log)
	identity, err := processIdentity()
	if err != nil {
		return err
	}
	log.Info("starting the rotor controller", "identity", identity, "namespaces", o.Namespaces, "leaderElection", o.LeaderElect)
	err = controller.Run(ctx, controller.Options{
		Config:                  o.config,
		Namespaces:              o.Namespaces,
		Selector:                o.selector,
		LeaderElection:          o.LeaderElect,
		LeaderElectionID:        o.LeaderElectID,
		LeaderElectionNamespace: o.LeaderElectNamespace,
		LeaseDuration:           o.LeaseDuration,
		RenewDeadline:           o.RenewDeadline,
		RetryPeriod:             o.RetryPeriod,
		HealthProbeAddr:         o.HealthProbeAddr,
		MetricsAddr:             o.MetricsAddr,
		PprofAddr:               o.PprofAddr,
		Concurrency:             o.Concurrency,
		Identity:                identity,
		Clock:                   o.f.Clock,
		Logger:                  log,
		Analysis:                analysis.Options{Getenv: os.Getenv},
	})
	if err != nil {
		return fmt.Errorf("the controller stopped: %w", err)
	}
	return nil
}

// processIdentity names this process: host, pid and a random part.
func processIdentity() (string, error) {
	host, err := os.Hostname()
	if err != nil {
		host = "unknown-host"
	}
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:])), nil
}
