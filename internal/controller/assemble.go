package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/internal/analysis"
	"github.com/rotor-project/rotor/internal/engine"
	"github.com/rotor-project/rotor/internal/gate"
	"github.com/rotor-project/rotor/internal/journal"
	"github.com/rotor-project/rotor/internal/kube"
	"github.com/rotor-project/rotor/internal/refindex"
	"github.com/rotor-project/rotor/internal/rotation"
)

// parts are the controller's pieces, assembled once.
type parts struct {
	index      *indexRunnable
	reconciler *Reconciler
	metrics    *metricSet
}

// assemble builds the engine the CLI uses, with the controller's store (the
// SecretRotation status), consumer finder and versions (the reference index).
func assemble(mgr manager.Manager, o Options) (*parts, error) {
	c, err := kube.New(o.Config)
	if err != nil {
		return nil, err
	}
	idx, err := refindex.New(refindex.Options{Client: c.Proto, Metadata: c.Metadata, Dynamic: c.Dynamic, Discovery: c.Discovery, Namespaces: o.Namespaces})
	if err != nil {
		return nil, err
	}
	events := newEventAdapter(mgr.GetEventRecorder("rotor-controller"))
	aopts := o.Analysis
	if aopts.Clock == nil {
		aopts.Clock = o.Clock
	}
	if aopts.SecretData == nil {
		aopts.SecretData = func(ctx context.Context, ns, name string) (map[string][]byte, error) {
			s, err := c.Typed.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return nil, err
			}
			return s.Data, nil
		}
	}
	// The CLI's engine, with the controller's store (the SecretRotation status) and the
	// index as the source of consumers and versions.
	e, err := engine.New(c, engine.Options{Clock: o.Clock, Holder: o.Identity, DriverKind: "controller",
		Progress: events.progress, Gates: analysisGates(c.Dynamic, aopts)})
	if err != nil {
		return nil, err
	}
	e.Planner.Finder, e.Planner.Latest = idx, idx.Latest
	eng := e.Rotations
	eng.Driver = v1alpha1.Driver{Kind: "controller", Identity: o.Identity}
	m := newMetricSet(idx, o.Clock, o.RotateAfter)
	r := &Reconciler{
		client: mgr.GetClient(), fresh: mgr.GetAPIReader(), engine: eng, index: idx,
		events: events, metrics: m, clock: o.Clock, identity: o.Identity, resync: o.Resync, concurrency: o.Concurrency,
	}
	r.store = savingStore{Store: &journal.StatusStore{Client: mgr.GetClient(), Reader: mgr.GetAPIReader(), Retry: e.Rotations.Retry}, saved: &r.saved}
	eng.Store = r.store
	return &parts{index: &indexRunnable{Index: idx}, reconciler: r, metrics: m}, nil
}

// indexRunnable runs the index on every replica, leader or not, so a replica that takes
// over has it ready, and the version metrics are served by all.
type indexRunnable struct{ *refindex.Index }

// Start implements manager.Runnable.
func (i *indexRunnable) Start(ctx context.Context) error {
	i.Index.Start(ctx)
	<-ctx.Done()
	return nil
}

// NeedLeaderElection implements manager.LeaderElectionRunnable.
func (i *indexRunnable) NeedLeaderElection() bool { return false }

var (
	analysisTemplatesGVR        = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "analysistemplates"}
	clusterAnalysisTemplatesGVR = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "clusteranalysistemplates"}
)

// analysisGates builds a rotation's analysis gate from spec.analysis: the inline
// template, or the Argo Rollouts AnalysisTemplate / ClusterAnalysisTemplate it names,
// read when the gate starts (so an edited template applies to the next step). The
// rotation's family, version and namespace are arguments besides spec.analysis.args.
func analysisGates(dyn dynamic.Interface, opts analysis.Options) rotation.GateFactory {
	return func(ctx context.Context, rot *v1alpha1.SecretRotation, post bool) ([]gate.Gate, error) {
		a := rot.Spec.Analysis
		if a == nil {
			return nil, nil
		}
		if post && (a.Duration == nil || a.Duration.Duration <= 0) {
			return nil, nil
		}
		raw, err := templateOf(ctx, dyn, rot)
		if err != nil {
			return nil, err
		}
		user := map[string]string{}
		for _, arg := range a.Args {
			user[arg.Name] = arg.Value
		}
		args, err := analysis.MergeArgs(user, analysis.Facts{Family: rot.Spec.Family, Version: rot.Status.TargetVersion, Namespace: rot.Namespace})
		if err != nil {
			return nil, err
		}
		tmpl, err := analysis.Parse(raw, args)
		if err != nil {
			return nil, fmt.Errorf("spec.analysis: %w", err)
		}
		g, err := analysis.NewGate(tmpl, opts)
		if err != nil {
			return nil, err
		}
		if post {
			return []gate.Gate{g.WithDuration(a.Duration.Duration)}, nil
		}
		return []gate.Gate{g}, nil
	}
}

// templateOf is the analysis definition of rot as JSON.
func templateOf(ctx context.Context, dyn dynamic.Interface, rot *v1alpha1.SecretRotation) ([]byte, error) {
	a := rot.Spec.Analysis
	if a.Inline != nil && len(a.Inline.Raw) > 0 {
		return a.Inline.Raw, nil
	}
	ref := a.TemplateRef
	if ref == nil {
		return nil, errors.New("spec.analysis has neither inline nor templateRef")
	}
	var res dynamic.ResourceInterface
	switch ref.Kind {
	case "AnalysisTemplate":
		res = dyn.Resource(analysisTemplatesGVR).Namespace(rot.Namespace)
	case "ClusterAnalysisTemplate":
		res = dyn.Resource(clusterAnalysisTemplatesGVR)
	default:
		return nil, fmt.Errorf("spec.analysis.templateRef.kind %q is neither AnalysisTemplate nor ClusterAnalysisTemplate", ref.Kind)
	}
	obj, err := res.Get(ctx, ref.Name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("reading %s %s named by spec.analysis.templateRef: %w", ref.Kind, ref.Name, err)
	}
	return json.Marshal(map[string]any{"kind": ref.Kind, "spec": obj.Object["spec"]})
}

// transition records what a step changed: metrics, and the event of a rotation that
// ended.
func (r *Reconciler) transition(prev, cur *v1alpha1.SecretRotation) {
	key := types.NamespacedName{Namespace: cur.Namespace, Name: cur.Name}
	st := &cur.Status
	r.metrics.phases.set(key, st.Phase)
	if prev.Status.Repointed == nil && st.Repointed != nil {
		// Status times have whole seconds; this process's clock is finer when it saw
		// the rotation begin.
		if t, ok := r.begun.LoadAndDelete(key); ok {
			r.metrics.repoint.Observe(r.clock.Since(t.(time.Time)).Seconds())
		} else if st.Started != nil {
			r.metrics.repoint.Observe(st.Repointed.Sub(st.Started.Time).Seconds())
		}
	}
	if !prev.Status.Phase.Final() && st.Phase.Final() {
		if res, ok := results[st.Phase]; ok {
			r.metrics.total.WithLabelValues(cur.Namespace, cur.Spec.Family, res).Inc()
		}
		typ, reason, note := finalEvent(cur)
		r.events.rotation(cur, typ, reason, "%s", note)
	}
}
