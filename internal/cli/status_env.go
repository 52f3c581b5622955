package cli

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/internal/journal"
	"github.com/rotor-project/rotor/internal/rollout"
)

// EnvironmentStatus is the -o json|yaml document of `rotor status FAMILY --env ENV`.
type EnvironmentStatus struct {
	APIVersion  string             `json:"apiVersion"`
	Kind        string             `json:"kind"`
	Family      string             `json:"family"`
	Environment string             `json:"environment"`
	Scopes      []EnvironmentScope `json:"scopes"`
}

// EnvironmentScope is one namespace of one cluster of the environment.
type EnvironmentScope struct {
	// Context is the kube context ("" for the current one).
	Context   string                   `json:"context"`
	Namespace string                   `json:"namespace"`
	Consumers []rollout.ConsumerStatus `json:"consumers"`
	Converged bool                     `json:"converged"`
	// LastRotation is the newest rotation recorded there (nil when none).
	LastRotation *RotationSummary `json:"lastRotation"`
}

// RotationSummary names a rotation and how it stands.
type RotationSummary struct {
	Name          string         `json:"name"`
	ID            string         `json:"id"`
	Action        string         `json:"action"`
	Phase         v1alpha1.Phase `json:"phase"`
	TargetVersion string         `json:"targetVersion"`
	Message       string         `json:"message"`
}

// runEnv shows every cluster and namespace of the environment.
func (o *StatusOptions) runEnv(ctx context.Context) error {
	doc := EnvironmentStatus{APIVersion: v1alpha1.APIVersion, Kind: "EnvironmentStatus", Family: o.Family, Environment: o.Env.Env, Scopes: []EnvironmentScope{}}
	for _, name := range o.Env.clusters() {
		c, err := o.f.ClientsFor(name)
		if err != nil {
			return err
		}
		reader := statusReaderFor(c)
		store := &journal.Store{Client: c.Typed, Clock: o.f.Clock}
		for _, ns := range o.Env.policy.Namespaces {
			st, err := reader.Read(ctx, ns, o.Family)
			if err != nil {
				return fmt.Errorf("%s, namespace %s: %w", clusterName(name), ns, err)
			}
			scope := EnvironmentScope{Context: name, Namespace: ns, Consumers: st.Consumers, Converged: st.Converged}
			if scope.Consumers == nil {
				scope.Consumers = []rollout.ConsumerStatus{}
			}
			rots, err := store.List(ctx, ns, o.Family)
			if err != nil {
				return err
			}
			if n := len(rots); n > 0 {
				r := rots[n-1]
				scope.LastRotation = &RotationSummary{Name: r.Name, ID: r.Spec.Run, Action: string(r.Spec.Action), Phase: r.Status.Phase, TargetVersion: targetOrPrevious(r), Message: r.Status.Message}
			}
			doc.Scopes = append(doc.Scopes, scope)
		}
	}
	if o.Output != "table" {
		return printDocument(o.streams.Out, o.Output, doc)
	}
	tw := tabwriter.NewWriter(o.streams.Out, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "CLUSTER\tNAMESPACE\tCONSUMER\tSPEC\tPODS BY VERSION\tPROGRESS\tLEFT\tPHASE")
	for _, s := range doc.Scopes {
		if len(s.Consumers) == 0 {
			fmt.Fprintf(tw, "%s\t%s\t-\t-\t-\t-\t-\tno consumers\n", orCurrent(s.Context), s.Namespace)
		}
		for _, c := range s.Consumers {
			pods, b := c.String(), bar(c)
			if c.Note != "" {
				pods, b = c.Note, "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s/%s\t%s\t%s\t%s\t%d\t%s\n", orCurrent(s.Context), s.Namespace, c.Kind, c.Name, orDash(strings.Join(c.Spec, ",")), orDash(pods), b, c.Remaining, orDash(c.Phase))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(o.streams.Out)
	tw = tabwriter.NewWriter(o.streams.Out, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "CLUSTER\tNAMESPACE\tLAST ROTATION\tID\tACTION\tTO\tPHASE")
	for _, s := range doc.Scopes {
		if r := s.LastRotation; r != nil {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", orCurrent(s.Context), s.Namespace, r.Name, orDash(r.ID), r.Action, r.TargetVersion, r.Phase)
		} else {
			fmt.Fprintf(tw, "%s\t%s\t-\t-\t-\t-\t-\n", orCurrent(s.Context), s.Namespace)
		}
	}
	return tw.Flush()
}

func orCurrent(ctx string) string {
	if ctx == "" {
		return "(current)"
	}
	return ctx
}
