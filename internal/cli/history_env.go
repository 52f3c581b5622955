package cli

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/internal/config"
	"github.com/rotor-project/rotor/internal/journal"
)

// scopedRotation is a rotation with the cluster it was read from.
type scopedRotation struct {
	context string
	rot     *v1alpha1.SecretRotation
}

// readEnvJournals reads the family's journals in every cluster and namespace of an
// environment, oldest first.
func readEnvJournals(ctx context.Context, f *factory, pol config.Policy, fam string) ([]scopedRotation, error) {
	contexts := pol.Contexts
	if len(contexts) == 0 {
		contexts = []string{""}
	}
	var out []scopedRotation
	for _, name := range contexts {
		c, err := f.ClientsFor(name)
		if err != nil {
			return nil, err
		}
		store := &journal.Store{Client: c.Typed, Clock: f.Clock}
		for _, ns := range pol.Namespaces {
			rots, err := store.List(ctx, ns, fam)
			if err != nil {
				return nil, fmt.Errorf("reading the journals of %s in namespace %s (%s): %w", fam, ns, clusterName(name), err)
			}
			for _, r := range rots {
				out = append(out, scopedRotation{context: name, rot: r})
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return startedOf(out[i].rot).Before(startedOf(out[j].rot)) })
	return out, nil
}

func startedOf(r *v1alpha1.SecretRotation) time.Time {
	if r.Status.Started != nil {
		return r.Status.Started.Time
	}
	return r.CreationTimestamp.Time
}

// runEnv prints the rotations of every cluster and namespace of the environment with
// their checklists and promotion links (both ways: what each was promoted from, and the
// rotations of environments requiring this one that were promoted from it).
func (o *HistoryOptions) runEnv(ctx context.Context) error {
	rots, err := readEnvJournals(ctx, o.f, o.Env.policy, o.Family)
	if err != nil {
		return err
	}
	if o.Output != "table" {
		doc := RotationList{APIVersion: v1alpha1.APIVersion, Kind: "RotationList", Family: o.Family, Environment: o.Env.Env, Items: []v1alpha1.SecretRotation{}}
		for _, r := range rots {
			doc.Items = append(doc.Items, *r.rot)
		}
		return printDocument(o.streams.Out, o.Output, doc)
	}
	if len(rots) == 0 {
		fmt.Fprintf(o.streams.ErrOut, "no rotation of %q is recorded in environment %s\n", o.Family, o.Env.Env)
		return nil
	}
	promotedTo, err := o.promotedTo(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(o.streams.Out, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "CLUSTER\tNAMESPACE\tID\tACTION\tTO\tSTRATEGY\tPHASE\tSTARTED\tFINISHED\tBY")
	for _, s := range rots {
		r := s.rot
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", orCurrent(s.context), r.Namespace, orDash(r.Spec.Run), r.Spec.Action, targetOrPrevious(r),
			orDash(string(r.Spec.Strategy.Type)), orDash(string(r.Status.Phase)), stampOf(r.Status.Started), stampOf(r.Status.Finished), orDash(r.Status.By))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, s := range rots {
		printChecklist(o.streams.Out, s, promotedTo[s.rot.Namespace+"/"+s.rot.Name+"@"+s.context])
	}
	return nil
}

// promotedTo maps each rotation of this environment (namespace/name@context) to the
// rotations of environments that require it which were promoted from it.
func (o *HistoryOptions) promotedTo(ctx context.Context) (map[string][]string, error) {
	out := map[string][]string{}
	for _, e := range o.Env.cfg.Environments {
		requires := false
		for _, r := range e.Requires {
			requires = requires || r == o.Env.Env
		}
		if !requires {
			continue
		}
		pol, err := o.Env.cfg.Policy(e.Name, o.Family)
		if err != nil {
			return nil, err
		}
		rots, err := readEnvJournals(ctx, o.f, pol, o.Family)
		if err != nil {
			return nil, err
		}
		for _, s := range rots {
			env := s.rot.Spec.Environment
			if env == nil {
				continue
			}
			for _, l := range env.PromotedFrom {
				if l.Environment == o.Env.Env {
					key := l.Namespace + "/" + l.Name + "@" + l.Context
					out[key] = append(out[key], fmt.Sprintf("%s: %s in namespace %s%s (ID %s, %s)", e.Name, s.rot.Name, s.rot.Namespace, onCluster(s.context), orDash(s.rot.Spec.Run), s.rot.Status.Phase))
				}
			}
		}
	}
	return out, nil
}

func onCluster(ctx string) string {
	if ctx == "" {
		return ""
	}
	return " of cluster " + ctx
}

// printChecklist writes one rotation's block: its links, overrides and checklist.
func printChecklist(w io.Writer, s scopedRotation, promotedTo []string) {
	r := s.rot
	fmt.Fprintf(w, "\n%s %s in namespace %s%s (ID %s): %s", r.Spec.Action, r.Name, r.Namespace, onCluster(s.context), orDash(r.Spec.Run), orDash(string(r.Status.Phase)))
	if r.Status.Message != "" {
		fmt.Fprintf(w, ": %s", r.Status.Message)
	}
	fmt.Fprintln(w)
	if r.Spec.Reverts != "" {
		fmt.Fprintf(w, "  reverts: %s\n", r.Spec.Reverts)
	}
	if r.Status.RevertedBy != "" {
		fmt.Fprintf(w, "  reverted by: %s\n", r.Status.RevertedBy)
	}
	if env := r.Spec.Environment; env != nil {
		for _, l := range env.PromotedFrom {
			fmt.Fprintf(w, "  promoted from: %s: %s in namespace %s%s (ID %s, %s, finished %s, soaked until %s)\n", l.Environment, l.Name, l.Namespace, onCluster(l.Context),
				orDash(l.Run), orDash(l.Version), stampOf(l.Finished), stampOf(l.SoakEnded))
		}
		if b := env.BreakGlass; b != nil {
			fmt.Fprintf(w, "  BREAK-GLASS by %s at %s: %q; overrode: %s\n", b.By, b.At.UTC().Format(time.RFC3339), b.Reason, strings.Join(b.Overrode, "; "))
		}
		if iw := env.IgnoredWindow; iw != nil {
			fmt.Fprintf(w, "  window ignored by %s at %s\n", iw.By, iw.At.UTC().Format(time.RFC3339))
		}
	}
	for _, p := range promotedTo {
		fmt.Fprintf(w, "  promoted to: %s\n", p)
	}
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "  CHECKLIST\tAT\tBY\tDETAIL")
	for _, e := range r.Status.Checklist {
		by := e.By
		if by == "" {
			by = r.Status.By
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", e.Name, e.At.UTC().Format(time.RFC3339), orDash(by), orDash(e.Detail))
	}
	_ = tw.Flush()
}
