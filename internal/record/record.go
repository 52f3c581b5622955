// Package record keeps rotation records: one ConfigMap per rollout or rollback of a
// family in a namespace, saying which version consumers moved to, where each came
// from, when, and how it ended. Records answer "which version does production run",
// "when was this version replaced" (cleanup's retention clock) and "where does a
// resumed watch continue". They hold Secret names only, never values.
package record

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	"github.com/rotor-project/rotor/internal/family"
)

// Labels and data key of record ConfigMaps.
const (
	LabelKind  = "rotor.dev/record"
	KindValue  = "rotation"
	dataKey    = "record.json"
	namePrefix = "rotor-rotation-"
)

// Phase is how a rotation stands.
type Phase string

// Rotation phases.
const (
	Progressing Phase = "Progressing"
	Succeeded   Phase = "Succeeded"
	RolledBack  Phase = "RolledBack"
	Failed      Phase = "Failed"
)

// Action is what a record describes.
type Action string

// Actions.
const (
	Rollout  Action = "rollout"
	Rollback Action = "rollback"
)

// Consumer is one re-pointed object and the version it came from.
type Consumer struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
	// From is the version the consumer named before; To the one after.
	From string `json:"from"`
	To   string `json:"to"`
	// Drift names the tool managing the consumer (Argo CD, Flux, Helm) when it was
	// re-pointed live anyway (--allow-drift): its owner will revert it.
	Drift string `json:"drift,omitempty"`
}

// Watch is the state of a post-rollout watch, so a restarted watch continues the
// same window.
type Watch struct {
	Started  time.Time `json:"started"`
	Duration string    `json:"duration"`
	// Analysis identifies the analysis definition (a digest), so a restart with other
	// arguments starts a new window.
	Analysis string `json:"analysis,omitempty"`
	Phase    string `json:"phase,omitempty"`
}

// Record is one rotation.
type Record struct {
	// Name is the ConfigMap's name; set by Store.
	Name      string     `json:"-"`
	Family    string     `json:"family"`
	Namespace string     `json:"namespace"`
	Action    Action     `json:"action"`
	To        string     `json:"to"`
	Strategy  string     `json:"strategy,omitempty"`
	Phase     Phase      `json:"phase"`
	Message   string     `json:"message,omitempty"`
	Started   time.Time  `json:"started"`
	Finished  *time.Time `json:"finished,omitempty"`
	By        string     `json:"by,omitempty"`
	Consumers []Consumer `json:"consumers"`
	Watch     *Watch     `json:"watch,omitempty"`

	resourceVersion string
}

// Replaced returns the versions this rotation moved consumers away from.
func (r *Record) Replaced() []string {
	seen := map[string]bool{}
	var out []string
	for _, c := range r.Consumers {
		if c.From != "" && c.From != r.To && !seen[c.From] {
			seen[c.From] = true
			out = append(out, c.From)
		}
	}
	sort.Strings(out)
	return out
}

// Store reads and writes records in the cluster.
type Store struct {
	Client kubernetes.Interface
}

func recordName(fam string, started time.Time) string {
	sum := sha256.Sum256([]byte(fam))
	return namePrefix + hex.EncodeToString(sum[:])[:10] + "-" + started.UTC().Format("20060102150405") + fmt.Sprintf("%03d", started.Nanosecond()/1e6)
}

// Create stores a new record; it sets r.Name.
func (s *Store) Create(ctx context.Context, r *Record) error {
	if r.Started.IsZero() {
		return fmt.Errorf("record: Started is required")
	}
	cm, err := toConfigMap(r)
	if err != nil {
		return err
	}
	cm.Name = recordName(r.Family, r.Started)
	created, err := s.Client.CoreV1().ConfigMaps(r.Namespace).Create(ctx, cm, metav1.CreateOptions{FieldManager: "rotor"})
	if err != nil {
		return fmt.Errorf("recording the rotation in namespace %q: %w", r.Namespace, err)
	}
	r.Name, r.resourceVersion = created.Name, created.ResourceVersion
	return nil
}

// Update applies mutate to the stored record, re-reading and retrying on conflict.
func (s *Store) Update(ctx context.Context, r *Record, mutate func(*Record)) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cm, err := s.Client.CoreV1().ConfigMaps(r.Namespace).Get(ctx, r.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		cur, err := fromConfigMap(cm)
		if err != nil {
			return err
		}
		mutate(cur)
		next, err := toConfigMap(cur)
		if err != nil {
			return err
		}
		cm.Data = next.Data
		updated, err := s.Client.CoreV1().ConfigMaps(r.Namespace).Update(ctx, cm, metav1.UpdateOptions{FieldManager: "rotor"})
		if err != nil {
			return err
		}
		*r = *cur
		r.Name, r.resourceVersion = updated.Name, updated.ResourceVersion
		return nil
	})
}

// List returns the records of fam in namespace ("" for all), oldest first.
func (s *Store) List(ctx context.Context, namespace, fam string) ([]*Record, error) {
	sel := labels.Set{LabelKind: KindValue, family.LabelFamily: family.LabelValue(fam)}.AsSelector().String()
	list, err := s.Client.CoreV1().ConfigMaps(namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		if apierrors.IsForbidden(err) {
			return nil, fmt.Errorf("cannot read rotation records (configmaps) in namespace %q: %w", namespace, err)
		}
		return nil, err
	}
	var out []*Record
	for i := range list.Items {
		r, err := fromConfigMap(&list.Items[i])
		if err != nil {
			return nil, err
		}
		if r.Family == fam {
			out = append(out, r)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Started.Before(out[j].Started) })
	return out, nil
}

// Latest returns the newest record of fam in namespace, or nil.
func (s *Store) Latest(ctx context.Context, namespace, fam string) (*Record, error) {
	all, err := s.List(ctx, namespace, fam)
	if err != nil || len(all) == 0 {
		return nil, err
	}
	return all[len(all)-1], nil
}

// ReplacedAt returns, per version name, when a finished rotation last moved consumers
// away from it: the start of its retention clock.
func ReplacedAt(records []*Record) map[string]time.Time {
	out := map[string]time.Time{}
	for _, r := range records {
		if r.Phase != Succeeded || r.Finished == nil {
			continue
		}
		for _, v := range r.Replaced() {
			if t, ok := out[v]; !ok || r.Finished.After(t) {
				out[v] = *r.Finished
			}
		}
	}
	return out
}

func toConfigMap(r *Record) (*corev1.ConfigMap, error) {
	if r.Consumers == nil {
		r.Consumers = []Consumer{}
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, err
	}
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: r.Namespace,
			Labels: map[string]string{
				LabelKind:             KindValue,
				family.LabelFamily:    family.LabelValue(r.Family),
				family.LabelManagedBy: family.ManagedByValue,
			},
			Annotations: map[string]string{family.AnnotationFamily: r.Family},
		},
		Data: map[string]string{dataKey: string(b)},
	}, nil
}

func fromConfigMap(cm *corev1.ConfigMap) (*Record, error) {
	var r Record
	if err := json.Unmarshal([]byte(cm.Data[dataKey]), &r); err != nil {
		return nil, fmt.Errorf("reading rotation record %s/%s: %w", cm.Namespace, cm.Name, err)
	}
	r.Name, r.resourceVersion = cm.Name, cm.ResourceVersion
	return &r, nil
}
