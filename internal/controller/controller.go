// Package controller runs rotor in the cluster: a controller-runtime manager whose
// reconciler drives each SecretRotation with the same engine the CLI uses
// (rotation.Engine, one step per call), keeping the journal in the resource's status.
// With `target: latest`, a new version of the family — made by `rotor create`, External
// Secrets or anything else — starts a rotation; setting the target to a version rolls
// back; `paused` stops at the next step boundary.
//
// What the controller knows of the cluster comes from one shared reference index
// (refindex): which objects name which versions, which versions exist. It wakes the
// rotations a change concerns, plans from it without listing namespaces, and feeds the
// metrics. Progress becomes Kubernetes Events on the SecretRotation and on each
// consumer; versions, ages, expiry, phases and the mixed state become Prometheus metrics.
//
// Leader election (a Lease) keeps one replica driving; the journal's resourceVersion
// fences a replica that lost it, and the next leader continues from the journal. The
// package never prints, reads flags or exits: internal/cli turns flags into Options.
package controller

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/internal/analysis"
)

// Options configure the controller.
type Options struct {
	// Config is the API server's client configuration (rate limits included).
	Config *rest.Config
	// Namespaces limits what the controller watches and drives; empty is all.
	Namespaces []string
	// Selector limits the SecretRotations it drives (nil: all).
	Selector labels.Selector
	// LeaderElection turns on the Lease LeaderElectionID in LeaderElectionNamespace.
	LeaderElection          bool
	LeaderElectionID        string
	LeaderElectionNamespace string
	// LeaseDuration, RenewDeadline and RetryPeriod tune leader election (0: defaults
	// 15 s, 10 s, 2 s).
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	// HealthProbeAddr serves /healthz and /readyz ("0" or "": off); MetricsAddr serves
	// /metrics ("0": off).
	HealthProbeAddr string
	MetricsAddr     string
	// PprofAddr serves Go's profiler under /debug/pprof/ ("" or "0": off).
	PprofAddr string
	// Concurrency is how many rotations are stepped at once.
	Concurrency int
	// Identity names this process in the journal (status.driver) and the Lease.
	Identity string
	// Clock is the engine's clock (nil: real).
	Clock clock.Clock
	// Logger receives structured logs.
	Logger logr.Logger
	// Analysis configures metric gates (provider credentials).
	Analysis analysis.Options
	// Resync is the longest a waiting rotation goes without a look (default 1 min);
	// changes in the cluster wake it sooner.
	Resync time.Duration
	// RotateAfter, when set, gives a family's rotation period from configuration
	// (rotor.yaml); the rotor.dev/rotate-after annotation applies otherwise.
	RotateAfter func(namespace, family string) (time.Duration, bool)
	// Ready, if set, is closed once the manager's caches and the index are synced.
	Ready chan<- struct{}
}

// Validate says what is wrong with o.
func (o *Options) Validate() error {
	switch {
	case o.Config == nil:
		return errors.New("no cluster configuration")
	case o.Concurrency < 1:
		return fmt.Errorf("concurrency must be at least 1, not %d", o.Concurrency)
	case o.LeaderElection && o.LeaderElectionNamespace == "":
		return errors.New("leader election needs a namespace for its Lease")
	}
	return nil
}

// Scheme is the controller's scheme: the built-in kinds and rotor.dev/v1alpha1.
func Scheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		return nil, err
	}
	if err := v1alpha1.AddToScheme(s); err != nil {
		return nil, err
	}
	return s, nil
}

// Run runs the controller until ctx ends (or leadership is lost).
func Run(ctx context.Context, o Options) error {
	if err := o.Validate(); err != nil {
		return err
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	if o.Resync <= 0 {
		o.Resync = time.Minute
	}
	scheme, err := Scheme()
	if err != nil {
		return err
	}
	mgrOpts := manager.Options{
		Scheme:                        scheme,
		Logger:                        o.Logger,
		LeaderElection:                o.LeaderElection,
		LeaderElectionID:              o.LeaderElectionID,
		LeaderElectionNamespace:       o.LeaderElectionNamespace,
		LeaderElectionReleaseOnCancel: true,
		HealthProbeBindAddress:        o.HealthProbeAddr,
		Metrics:                       metricsserver.Options{BindAddress: o.MetricsAddr},
		PprofBindAddress:              o.PprofAddr,
		Cache: cache.Options{
			// Only SecretRotations go through this cache; everything else the
			// controller reads is in the reference index.
			DefaultTransform: cache.TransformStripManagedFields(),
			ByObject:         map[client.Object]cache.ByObject{&v1alpha1.SecretRotation{}: {Label: o.Selector}},
		},
	}
	if len(o.Namespaces) > 0 {
		mgrOpts.Cache.DefaultNamespaces = map[string]cache.Config{}
		for _, ns := range o.Namespaces {
			mgrOpts.Cache.DefaultNamespaces[ns] = cache.Config{}
		}
	}
	for _, d := range []struct {
		v   time.Duration
		dst **time.Duration
	}{{o.LeaseDuration, &mgrOpts.LeaseDuration}, {o.RenewDeadline, &mgrOpts.RenewDeadline}, {o.RetryPeriod, &mgrOpts.RetryPeriod}} {
		if d.v > 0 {
			v := d.v
			*d.dst = &v
		}
	}
	mgr, err := ctrl.NewManager(o.Config, mgrOpts)
	if err != nil {
		return fmt.Errorf("starting the controller manager: %w", err)
	}
	parts, err := assemble(mgr, o)
	if err != nil {
		return err
	}
	if err := mgr.Add(parts.index); err != nil {
		return err
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("index", func(*http.Request) error {
		if !parts.index.Synced() {
			return errors.New("the reference index is still reading the cluster")
		}
		return nil
	}); err != nil {
		return err
	}
	metrics.Registry.MustRegister(parts.metrics.collectors()...)
	defer metrics.Registry.Unregister(parts.metrics.versions)
	defer metrics.Registry.Unregister(parts.metrics.phases)
	if err := parts.reconciler.setup(mgr); err != nil {
		return err
	}
	if o.Ready != nil {
		go func() {
			if mgr.GetCache().WaitForCacheSync(ctx) && parts.index.WaitForSync(ctx) == nil {
				close(o.Ready)
			}
		}()
	}
	return mgr.Start(ctx)
}
