// Package engine assembles rotor's engine from one set of clients: the planner, the
// rotation engine and its driver, the journal, the family lock, the cleaner and the
// status reader. The CLI and a controller build it the same way, from kube.Clients and
// Options; nothing here reads flags, prints or exits.
package engine

import (
	"context"
	"time"

	"k8s.io/utils/clock"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/internal/apiretry"
	"github.com/rotor-project/rotor/internal/cleanup"
	"github.com/rotor-project/rotor/internal/journal"
	"github.com/rotor-project/rotor/internal/kube"
	"github.com/rotor-project/rotor/internal/lock"
	"github.com/rotor-project/rotor/internal/refs"
	"github.com/rotor-project/rotor/internal/repoint"
	"github.com/rotor-project/rotor/internal/rollout"
	"github.com/rotor-project/rotor/internal/rotation"
	"github.com/rotor-project/rotor/internal/versions"
)

// Options configure the engine.
type Options struct {
	Clock clock.Clock
	// By is who runs it (as the API server authenticated them), for the journal.
	By string
	// Holder identifies the process (user, host, pid) in locks and the journal.
	Holder string
	// DriverKind is cli, controller or gitops.
	DriverKind string
	// LeaseDuration is how long a family lock outlives a run that died (0: default).
	LeaseDuration time.Duration
	// Progress receives the engine's progress events; may be nil.
	Progress func(rotation.Event)
	// Gates builds a rotation's gates; nil: health only.
	Gates rotation.GateFactory
	// OnRetry, if set, is told of each transient API failure that is retried.
	OnRetry func(err error, attempt int, wait time.Duration)
}

// Engine is the assembled engine.
type Engine struct {
	Clients   *kube.Clients
	Finder    *refs.Finder
	Consumers rollout.ConsumerFinder
	Planner   *rollout.Planner
	Repointer *repoint.Repointer
	Journal   *journal.Store
	Rotations *rotation.Engine
	Driver    *rotation.Driver
	Locker    *lock.Locker
	Cleaner   *cleanup.Cleaner
	Status    *rollout.StatusReader
	Versions  *versions.Lister
	Clock     clock.Clock
	By        string
}

// New assembles the engine.
func New(c *kube.Clients, o Options) (*Engine, error) {
	if err := lock.ValidateDuration(o.LeaseDuration); err != nil {
		return nil, err
	}
	clk := o.Clock
	if clk == nil {
		clk = clock.RealClock{}
	}
	retry := apiretry.Policy{Clock: clk, OnRetry: o.OnRetry}
	finder := &refs.Finder{Client: c.Proto, Dynamic: c.Dynamic, Discovery: c.Discovery, Metadata: c.Metadata}
	consumers := rollout.RefsFinder{Finder: finder}
	rp := &repoint.Repointer{Dynamic: c.Dynamic}
	lister := &versions.Lister{Client: c.Typed, Metadata: c.Metadata}
	store := &journal.Store{Client: c.Typed, Clock: clk, Retry: retry}
	kind := o.DriverKind
	if kind == "" {
		kind = "cli"
	}
	locker := &lock.Locker{Client: c.Typed, Clock: clk, Duration: o.LeaseDuration, Holder: o.Holder}
	planner := &rollout.Planner{Client: c.Typed, Dynamic: c.Dynamic, Finder: consumers, Repointer: rp, Latest: LatestOf(lister)}
	rot := &rotation.Engine{
		Client: c.Typed, Metadata: c.Metadata, Repointer: rp, Planner: planner, Store: store, Gates: o.Gates,
		Clock: clk, Retry: retry, Progress: o.Progress,
		Driver: v1alpha1.Driver{Kind: kind, Identity: locker.Identity()},
	}
	return &Engine{
		Clients: c, Finder: finder, Consumers: consumers, Planner: planner, Repointer: rp, Journal: store,
		Rotations: rot,
		Driver:    &rotation.Driver{Engine: rot, Changes: Watcher(c.Typed, clk), By: o.By},
		Locker:    locker,
		Cleaner:   &cleanup.Cleaner{Client: c.Typed, Metadata: c.Metadata, Dynamic: c.Dynamic, Finder: finder, Clock: clk, Journal: store},
		Status:    &rollout.StatusReader{Client: c.Typed, Finder: consumers},
		Versions:  lister,
		Clock:     clk,
		By:        o.By,
	}, nil
}

// LatestOf resolves "latest": the newest version of a family in a namespace ("" when
// there is none).
func LatestOf(l *versions.Lister) func(ctx context.Context, namespace, fam string) (string, error) {
	return func(ctx context.Context, namespace, fam string) (string, error) {
		infos, err := l.List(ctx, namespace, fam)
		if err != nil {
			return "", err
		}
		for _, i := range infos {
			if i.State == versions.StateLatest {
				return i.Name, nil
			}
		}
		return "", nil
	}
}
