package controller

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/internal/due"
	"github.com/rotor-project/rotor/internal/refindex"
)

// metricSet holds the controller's metrics. Version metrics are computed from the
// reference index at each scrape, so they name exactly the versions that exist now
// (bounded cardinality, nothing to delete); rotation metrics come from the reconciler.
type metricSet struct {
	versions *versionCollector
	phases   *phaseCollector
	total    *prometheus.CounterVec
	repoint  prometheus.Histogram
}

func newMetricSet(idx *refindex.Index, clk clock.Clock, rotateAfter func(ns, fam string) (time.Duration, bool)) *metricSet {
	return &metricSet{
		versions: &versionCollector{index: idx, clock: clk, rotateAfter: rotateAfter},
		phases:   &phaseCollector{phases: map[types.NamespacedName]v1alpha1.Phase{}},
		total: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rotor_rotations_total",
			Help: "Rotations that ended, by result (succeeded, rolled_back, failed, aborted).",
		}, []string{"namespace", "family", "result"}),
		repoint: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "rotor_repoint_duration_seconds",
			Help:    "Time from a rotation's start to every consumer re-pointed.",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300},
		}),
	}
}

func (m *metricSet) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.versions, m.phases, m.total, m.repoint}
}

// results name a final phase in rotor_rotations_total.
var results = map[v1alpha1.Phase]string{
	v1alpha1.Succeeded:  "succeeded",
	v1alpha1.RolledBack: "rolled_back",
	v1alpha1.Failed:     "failed",
	v1alpha1.Aborted:    "aborted",
}

var (
	descCreated = prometheus.NewDesc("rotor_secret_version_created_timestamp_seconds",
		"When a version of a Secret family was created (from its name), as a Unix timestamp.", []string{"namespace", "family", "version"}, nil)
	descExpires = prometheus.NewDesc("rotor_secret_version_expiration_timestamp_seconds",
		"When a version's value expires (its rotor.dev/expires-at annotation), as a Unix timestamp.", []string{"namespace", "family", "version"}, nil)
	descAge = prometheus.NewDesc("rotor_family_current_version_age_seconds",
		"Age of the version a family's consumers use (the newest version in use; the newest version when none is).", []string{"namespace", "family"}, nil)
	descRotateAfter = prometheus.NewDesc("rotor_family_rotate_after_seconds",
		"How long a family's version may be in use before a rotation is due (rotor.dev/rotate-after).", []string{"namespace", "family"}, nil)
	descDue = prometheus.NewDesc("rotor_family_rotation_due",
		"1 when a family's current version is older than its rotate-after period, else 0.", []string{"namespace", "family"}, nil)
	descConsumers = prometheus.NewDesc("rotor_consumers",
		"Live objects using a version now: running Pods, ServiceAccounts and Ingresses. Several versions of one family at once is the mixed state of a rollout.", []string{"namespace", "family", "version"}, nil)
	descPhase = prometheus.NewDesc("rotor_rotation_phase",
		"1 for the phase a SecretRotation's current rotation is in, 0 for the others.", []string{"namespace", "name", "phase"}, nil)
)

// versionCollector computes the version metrics from the index.
type versionCollector struct {
	index       *refindex.Index
	clock       clock.Clock
	rotateAfter func(ns, fam string) (time.Duration, bool)
}

// Describe implements prometheus.Collector.
func (c *versionCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descCreated, descExpires, descAge, descRotateAfter, descDue, descConsumers} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *versionCollector) Collect(ch chan<- prometheus.Metric) {
	if !c.index.Synced() {
		return
	}
	counts := c.index.ConsumerCounts()
	fams := map[[2]string][]due.Version{}
	c.index.EachVersion(func(v *refindex.VersionEntry) {
		ns, fam, name := v.Namespace, v.Version.Family, v.Name
		ch <- prometheus.MustNewConstMetric(descCreated, prometheus.GaugeValue, unix(v.Version.Time), ns, fam, name)
		if !v.ExpiresAt.IsZero() {
			ch <- prometheus.MustNewConstMetric(descExpires, prometheus.GaugeValue, unix(v.ExpiresAt), ns, fam, name)
		}
		n := counts[refindex.VersionKey{Namespace: ns, Family: fam, Version: name}]
		ch <- prometheus.MustNewConstMetric(descConsumers, prometheus.GaugeValue, float64(n), ns, fam, name)
		k := [2]string{ns, fam}
		fams[k] = append(fams[k], due.Version{Name: name, Created: v.Version.Time, InUse: n > 0, RotateAfter: v.RotateAfter})
	})
	now := c.clock.Now()
	for k, vs := range fams {
		var configured time.Duration
		ok := false
		if c.rotateAfter != nil {
			configured, ok = c.rotateAfter(k[0], k[1])
		}
		s := due.Of(vs, now, configured, ok)
		ch <- prometheus.MustNewConstMetric(descAge, prometheus.GaugeValue, s.Age.Seconds(), k[0], k[1])
		if s.RotateAfter > 0 {
			ch <- prometheus.MustNewConstMetric(descRotateAfter, prometheus.GaugeValue, s.RotateAfter.Seconds(), k[0], k[1])
			d := 0.0
			if s.Due {
				d = 1
			}
			ch <- prometheus.MustNewConstMetric(descDue, prometheus.GaugeValue, d, k[0], k[1])
		}
	}
}

func unix(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// phaseCollector reports the phase of each SecretRotation this replica drives.
type phaseCollector struct {
	mu     sync.Mutex
	phases map[types.NamespacedName]v1alpha1.Phase
}

var allPhases = []v1alpha1.Phase{v1alpha1.Pending, v1alpha1.Progressing, v1alpha1.Paused, v1alpha1.Analysing,
	v1alpha1.Succeeded, v1alpha1.Failed, v1alpha1.RollingBack, v1alpha1.RolledBack, v1alpha1.Aborted}

func (c *phaseCollector) set(key types.NamespacedName, p v1alpha1.Phase) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p == "" {
		p = v1alpha1.Pending
	}
	c.phases[key] = p
}

func (c *phaseCollector) remove(key types.NamespacedName) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.phases, key)
}

// Describe implements prometheus.Collector.
func (c *phaseCollector) Describe(ch chan<- *prometheus.Desc) { ch <- descPhase }

// Collect implements prometheus.Collector.
func (c *phaseCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, p := range c.phases {
		for _, q := range allPhases {
			v := 0.0
			if p == q {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(descPhase, prometheus.GaugeValue, v, k.Namespace, k.Name, string(q))
		}
	}
}
