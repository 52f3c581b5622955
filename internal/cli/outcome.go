package cli

import (
	"fmt"
	"io"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rotor-project/rotor/api/v1alpha1"
)

// printOutcome writes the result of a rotation: what changed, what failed, what was
// rolled back, and the timings. It returns the error the command ends with.
func printOutcome(w io.Writer, verb string, rot *v1alpha1.SecretRotation, multi bool) error {
	if rot == nil {
		return nil
	}
	st := &rot.Status
	where := ""
	if multi {
		where = " in " + rot.Namespace
	}
	changed := 0
	for _, c := range st.Consumers {
		if !c.Skip && c.From != c.To {
			changed++
		}
	}
	if st.Phase == v1alpha1.Succeeded {
		fmt.Fprintf(w, "%s succeeded%s: %d consumer(s) re-pointed in %s, healthy after %s\n", verb, where, changed,
			since(st.Started, st.Repointed), since(st.Started, st.Finished))
		return nil
	}
	fmt.Fprintf(w, "%s FAILED%s", verb, where)
	if f := st.Failure; f != nil {
		fmt.Fprintf(w, ": %s", failureLine(f))
		for _, g := range st.Gates {
			if f.Object == "gate "+g.Gate && g.Phase != "Successful" && g.Phase != "Running" {
				for _, m := range g.Measurements {
					fmt.Fprintf(w, "\n  %s = %s (%s) %s", m.Name, m.Value, m.Phase, m.Detail)
				}
			}
		}
	} else if st.Message != "" {
		fmt.Fprintf(w, ": %s", st.Message)
	}
	fmt.Fprintln(w)
	for _, c := range st.Consumers {
		switch {
		case c.Restored:
			fmt.Fprintf(w, "rolled back: %s/%s → %s\n", c.Kind, c.Name, c.From)
		case st.Phase == v1alpha1.Failed && !rot.Spec.NoRollback && rot.Spec.Action == v1alpha1.ActionRollout && !c.Skip && c.Observed == c.To && c.From != c.To:
			fmt.Fprintf(w, "NOT rolled back: %s/%s still names %s (it came from %s)\n", c.Kind, c.Name, c.To, orDash(c.From))
		}
	}
	if st.Phase == v1alpha1.Failed && st.Message != "" && st.Failure != nil && st.Message != failureLine(st.Failure) {
		fmt.Fprintf(w, "%s\n", st.Message)
	}
	reason := st.Message
	if st.Failure != nil {
		reason = failureLine(st.Failure)
	}
	return fmt.Errorf("%w: %s", errRotationFailed, reason)
}

func failureLine(f *v1alpha1.Failure) string {
	if f.Object == "" {
		return f.Reason
	}
	return f.Object + ": " + f.Reason
}

// since is the time from a to b, rounded for a report.
func since(a, b *metav1.Time) time.Duration {
	if a == nil || b == nil {
		return 0
	}
	return b.Sub(a.Time).Round(time.Millisecond)
}
