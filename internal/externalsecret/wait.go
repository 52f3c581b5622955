package externalsecret

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/utils/clock"
)

// SyncError says ESO could not sync a version, in plain words and with what ESO said.
// The ExternalSecret was deleted: nothing is left.
type SyncError struct {
	Namespace, Name string
	Store, Kind     string
	// Summary says what went wrong in plain words.
	Summary string
	// Status is the Ready condition's message; Events the Warning events ESO recorded.
	Status string
	Events []string
	// Entry is the data entry ESO names (-1: none).
	Entry int
	// TimedOut: the wait ended before ESO said anything conclusive.
	TimedOut bool
}

func (e *SyncError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "ExternalSecret %s in namespace %q could not sync from %s %q: %s", e.Name, e.Namespace, e.Kind, e.Store, e.Summary)
	var said []string
	if e.Status != "" {
		said = append(said, e.Status)
	}
	said = append(said, e.Events...)
	if len(said) > 0 {
		fmt.Fprintf(&b, " (ESO: %s)", strings.Join(said, "; "))
	}
	b.WriteString(". The ExternalSecret was deleted; nothing is left")
	return b.String()
}

// opener opens a watch.
type opener func(ctx context.Context) (watch.Interface, error)

func watchNamed(res dynamic.ResourceInterface, name string) opener {
	return func(ctx context.Context) (watch.Interface, error) {
		return res.Watch(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", name).String()})
	}
}

// until evaluates cond now and after every event of the watches, until it holds, it
// fails, or ctx ends. A watch that closes is opened again.
func until(ctx context.Context, clk clock.Clock, opens []opener, cond func(ctx context.Context) (bool, error)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	changed := make(chan struct{}, 1)
	notify := func() {
		select {
		case changed <- struct{}{}:
		default:
		}
	}
	for _, open := range opens {
		go func() {
			backoff := 100 * time.Millisecond
			for ctx.Err() == nil {
				w, err := open(ctx)
				if err != nil {
					select {
					case <-ctx.Done():
						return
					case <-clk.After(backoff):
					}
					backoff = min(2*backoff, 5*time.Second)
					continue
				}
				for range w.ResultChan() {
					notify()
				}
				w.Stop()
				notify()
			}
		}()
	}
	for {
		ok, err := cond(ctx)
		if err != nil || ok {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
		}
	}
}

// wait watches the ExternalSecret and its events until ESO synced it (Ready=True and
// the Secret written, immutable) or failed to (Ready=False with a Warning event that
// is not about a store still getting ready).
func (c *Creator) wait(ctx context.Context, r Request, es *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	res := c.Dynamic.Resource(GVR).Namespace(es.GetNamespace())
	events := c.Client.CoreV1().Events(es.GetNamespace())
	evSelector := fields.Set{"involvedObject.uid": string(es.GetUID())}.AsSelector().String()
	openEvents := func(ctx context.Context) (watch.Interface, error) {
		return events.Watch(ctx, metav1.ListOptions{FieldSelector: evSelector})
	}
	var last *unstructured.Unstructured
	var fail *SyncError
	said := ""
	err := until(ctx, c.Clock, []opener{watchNamed(res, es.GetName()), openEvents}, func(ctx context.Context) (bool, error) {
		cur, err := res.Get(ctx, es.GetName(), metav1.GetOptions{})
		if err != nil {
			if apierrors.IsNotFound(err) {
				fail = c.syncError(r, es, "the ExternalSecret was deleted while rotor waited for it", "", nil)
				return true, nil
			}
			return false, err
		}
		last = cur
		status, msg, ok := readyCondition(cur)
		if ok && status == "True" && syncedFor(cur) {
			return c.secretWritten(ctx, r, es.GetName())
		}
		if !ok || status != "False" {
			return false, nil
		}
		warnings, err := c.warnings(ctx, es)
		if err != nil {
			return false, err
		}
		if len(warnings) == 0 {
			return false, nil // the event that says why follows the status
		}
		if strings.Contains(warnings[len(warnings)-1], "is not ready") {
			// A store that is still getting ready: ESO retries.
			if c.Progress != nil && said != warnings[len(warnings)-1] {
				said = warnings[len(warnings)-1]
				c.Progress("waiting: " + said)
			}
			return false, nil
		}
		fail = c.syncError(r, es, "", msg, warnings)
		return true, nil
	})
	switch {
	case fail != nil:
		return nil, fail
	case err == nil:
		return last, nil
	case errors.Is(err, context.DeadlineExceeded):
		msg := ""
		if last != nil {
			_, msg, _ = readyCondition(last)
		}
		warnings, _ := c.warnings(context.WithoutCancel(ctx), es)
		e := c.syncError(r, es, "", msg, warnings)
		e.TimedOut = true
		if msg == "" && len(warnings) == 0 {
			e.Summary = "ESO did not report on it within the time given (is the External Secrets Operator running, and does it watch this namespace?)"
		} else {
			e.Summary = "it was not synced within the time given: " + e.Summary
		}
		return nil, e
	}
	return nil, err
}

// syncedFor reports whether the status describes the current spec (ESO sets
// syncedResourceVersion to the generation it synced).
func syncedFor(es *unstructured.Unstructured) bool {
	v, found, _ := unstructured.NestedString(es.Object, "status", "syncedResourceVersion")
	return !found || v != ""
}

// secretWritten checks the Secret ESO wrote: immutable, owned by the ExternalSecret,
// with exactly the requested keys. It never reads values out of the process.
func (c *Creator) secretWritten(ctx context.Context, r Request, name string) (bool, error) {
	s, err := c.Client.CoreV1().Secrets(r.Namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading the synced Secret %s: %w", name, err)
	}
	if s.Immutable == nil || !*s.Immutable {
		return false, fmt.Errorf("ESO wrote Secret %s without making it immutable; rotor leaves it for you to check (kubectl get secret %s -n %s)", name, name, r.Namespace)
	}
	var missing []string
	for _, d := range r.Data {
		if _, ok := s.Data[d.SecretKey]; !ok {
			missing = append(missing, d.SecretKey)
		}
	}
	if len(missing) > 0 {
		return false, fmt.Errorf("ESO wrote Secret %s without the key(s) %s", name, strings.Join(missing, ", "))
	}
	return true, nil
}

// warnings are the messages of the Warning events of the ExternalSecret, oldest first.
func (c *Creator) warnings(ctx context.Context, es *unstructured.Unstructured) ([]string, error) {
	list, err := c.Client.CoreV1().Events(es.GetNamespace()).List(ctx, metav1.ListOptions{
		FieldSelector: fields.Set{"involvedObject.uid": string(es.GetUID()), "type": corev1.EventTypeWarning}.AsSelector().String(),
	})
	if err != nil {
		return nil, fmt.Errorf("reading the events of ExternalSecret %s: %w", es.GetName(), err)
	}
	sort.SliceStable(list.Items, func(i, j int) bool { return eventTime(list.Items[i]).Before(eventTime(list.Items[j])) })
	var out []string
	seen := map[string]bool{}
	for _, e := range list.Items {
		if !seen[e.Message] {
			seen[e.Message] = true
			out = append(out, e.Message)
		}
	}
	return out, nil
}

func eventTime(e corev1.Event) time.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	}
	return e.CreationTimestamp.Time
}

// readyCondition is the ExternalSecret's (or store's) Ready condition.
func readyCondition(obj *unstructured.Unstructured) (status, message string, ok bool) {
	conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "Ready" {
			s, _ := m["status"].(string)
			msg, _ := m["message"].(string)
			return s, msg, true
		}
	}
	return "", "", false
}

var dataIndex = regexp.MustCompile(`\.data\[(\d+)\]`)

// syncError explains a failed sync in plain words: which entry ESO names, and what
// kind of failure its message describes.
func (c *Creator) syncError(r Request, es *unstructured.Unstructured, summary, status string, warnings []string) *SyncError {
	e := &SyncError{Namespace: es.GetNamespace(), Name: es.GetName(), Store: r.Store, Kind: r.StoreKind, Status: status, Events: warnings, Entry: -1, Summary: summary}
	if e.Summary != "" {
		return e
	}
	text := strings.ToLower(strings.Join(warnings, " "))
	if m := dataIndex.FindStringSubmatch(strings.Join(warnings, " ")); m != nil {
		if i, err := strconv.Atoi(m[1]); err == nil && i < len(r.Data) {
			e.Entry = i
		}
	}
	what := "a key"
	if e.Entry >= 0 {
		d := r.Data[e.Entry].RemoteRef
		what = fmt.Sprintf("key %q at version %q", d.Key, d.Version)
		if d.Property != "" {
			what = fmt.Sprintf("property %q of key %q at version %q", d.Property, d.Key, d.Version)
		}
	}
	switch {
	case strings.Contains(text, "does not exist") || strings.Contains(text, "not found") || strings.Contains(text, "no such"):
		e.Summary = fmt.Sprintf("the store has no %s", what)
	case strings.Contains(text, "forbidden") || strings.Contains(text, "denied") || strings.Contains(text, "unauthorized") || strings.Contains(text, "permission"):
		e.Summary = fmt.Sprintf("the store refused access to %s", what)
	case strings.Contains(text, "immutable"):
		e.Summary = "the target Secret exists and is immutable"
	default:
		e.Summary = fmt.Sprintf("ESO could not read %s from the store", what)
	}
	return e
}
