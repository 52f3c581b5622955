package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/internal/family"
	"github.com/rotor-project/rotor/internal/ownership"
)

// deference is what the CLI does about a family a SecretRotation owns: the controller
// drives it, so rollout and rollback change the SecretRotation's spec instead of
// re-pointing anything themselves, and status shows the SecretRotation's phase.
type deference struct {
	f       *factory
	streams IOStreams
}

func (d deference) finder() (*ownership.Finder, error) {
	dyn, err := d.f.Dynamic()
	if err != nil {
		return nil, err
	}
	return &ownership.Finder{Dynamic: dyn}, nil
}

// owners are the SecretRotations of fam in namespace ("" for all).
func (d deference) owners(ctx context.Context, namespace, fam string) ([]*v1alpha1.SecretRotation, error) {
	fd, err := d.finder()
	if err != nil {
		return nil, err
	}
	return fd.Owners(ctx, namespace, fam)
}

// retarget hands a rollout or rollback of fam in namespace to the owning
// SecretRotation, if there is one: handled is false when the CLI should go on itself.
// to is the version (or latest) asked for; "" for a rollback without --to.
func (d deference) retarget(ctx context.Context, namespace, fam, to string, rollback, dryRun bool) (handled bool, err error) {
	owners, err := d.owners(ctx, namespace, fam)
	if err != nil || len(owners) == 0 {
		return false, err
	}
	verb := "rollout"
	if rollback {
		verb = "rollback"
	}
	if namespace == "" {
		var names []string
		for _, o := range owners {
			names = append(names, o.Namespace+"/"+o.Name)
		}
		return true, fmt.Errorf("nothing was changed: SecretRotations own %q in some namespaces (%s), so the controller drives it there; run %s with -n NAMESPACE to change their spec.target, one namespace at a time",
			fam, strings.Join(names, ", "), verb)
	}
	rot := owners[0]
	if rollback && to == "" {
		if to, err = rollbackTarget(rot); err != nil {
			return true, err
		}
		if to == "" {
			fmt.Fprintf(d.streams.Out, "nothing to do: SecretRotation %s already pins %q to %s (spec.target); name another version with --to\n", rot.Name, fam, rot.Spec.Target)
			return true, nil
		}
	}
	fd, err := d.finder()
	if err != nil {
		return true, err
	}
	if _, err := fd.Retarget(ctx, rot, to, rollback, dryRun); err != nil {
		return true, err
	}
	did := "set"
	if dryRun {
		did = "would set (dry run)"
	}
	fmt.Fprintf(d.streams.Out, "SecretRotation %s owns %q in namespace %q, so rotor did not re-point anything itself: it %s spec.target to %s", rot.Name, fam, namespace, did, to)
	if rollback && rot.Spec.Paused {
		fmt.Fprint(d.streams.Out, " and cleared spec.paused")
	}
	fmt.Fprintf(d.streams.Out, "; the controller carries it out (follow it with: kubectl get secretrotation %s -n %s -w)\n", rot.Name, namespace)
	return true, nil
}

// rollbackTarget is where a rollback without --to takes an owned family: the version
// its consumers came from in the SecretRotation's last rotation. "" when that would
// move forward (the last rotation was itself a rollback: rolling back twice is a no-op).
func rollbackTarget(rot *v1alpha1.SecretRotation) (string, error) {
	from := ownership.RollbackTarget(rot)
	if from == "" {
		return "", fmt.Errorf("SecretRotation %s does not record the version %q came from (no finished rotation, or consumers from different versions): name the version with --to (list them with: versions %s -n %s)",
			rot.Name, rot.Spec.Family, rot.Spec.Family, rot.Namespace)
	}
	cur := rot.Status.TargetVersion
	fv, ok1 := family.ParseIn(rot.Spec.Family, from)
	cv, ok2 := family.ParseIn(rot.Spec.Family, cur)
	if ok1 && ok2 && fv.Time.After(cv.Time) {
		return "", nil
	}
	return from, nil
}

// showOwner notes on stderr which SecretRotation drives fam in namespace, and where it
// stands.
func (d deference) showOwner(ctx context.Context, namespace, fam string) error {
	owners, err := d.owners(ctx, namespace, fam)
	if err != nil {
		return err
	}
	for _, rot := range owners {
		st := rot.Status
		phase := string(st.Phase)
		if phase == "" {
			phase = "Pending"
		}
		line := fmt.Sprintf("SecretRotation %s/%s drives %q: %s", rot.Namespace, rot.Name, fam, phase)
		if len(st.Steps) > 1 {
			line += fmt.Sprintf(", step %d of %d", st.Step+1, len(st.Steps))
		}
		line += fmt.Sprintf(", target %s", rot.Spec.Target)
		if st.TargetVersion != "" && st.TargetVersion != rot.Spec.Target {
			line += " (" + st.TargetVersion + ")"
		}
		if rot.Spec.Paused {
			line += ", paused"
		}
		if st.Message != "" {
			line += ": " + st.Message
		}
		fmt.Fprintln(d.streams.ErrOut, line)
	}
	return nil
}
