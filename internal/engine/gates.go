package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/internal/analysis"
	"github.com/rotor-project/rotor/internal/gate"
	"github.com/rotor-project/rotor/internal/rotation"
	"github.com/rotor-project/rotor/internal/verify"
)

// AnalysisGates builds a rotation's analysis gate from spec.analysis (an inline
// AnalysisTemplate with its arguments; the rotation's family, version and namespace
// are added), so a rerun without the original flags gates exactly like the run it
// continues. opts carry the clock, provider credentials and the measurement hook.
func AnalysisGates(opts analysis.Options) rotation.GateFactory {
	return func(_ context.Context, rot *v1alpha1.SecretRotation, post bool) ([]gate.Gate, error) {
		g, err := AnalysisGate(rot, opts)
		if err != nil || g == nil {
			return nil, err
		}
		if post {
			a := rot.Spec.Analysis
			if a.Duration == nil || a.Duration.Duration <= 0 {
				return nil, nil
			}
			return []gate.Gate{g.WithDuration(a.Duration.Duration)}, nil
		}
		return []gate.Gate{g}, nil
	}
}

// AnalysisGate is the rotation's analysis gate, or nil without one.
func AnalysisGate(rot *v1alpha1.SecretRotation, opts analysis.Options) (*analysis.Gate, error) {
	a := rot.Spec.Analysis
	if a == nil {
		return nil, nil
	}
	if a.Inline == nil || len(a.Inline.Raw) == 0 {
		return nil, errors.New("spec.analysis has no inline template (templateRef is read by the controller)")
	}
	user := map[string]string{}
	for _, arg := range a.Args {
		if !arg.Private {
			user[arg.Name] = arg.Value
			continue
		}
		v, ok := opts.PrivateArgs[arg.Name]
		if !ok {
			return nil, fmt.Errorf("analysis argument %q was given privately (from a file or the environment) when the rotation started, so it is not recorded: the run that continues the rotation must give it again", arg.Name)
		}
		user[arg.Name] = v
	}
	args, err := analysis.MergeArgs(user, analysis.Facts{Family: rot.Spec.Family, Version: rot.Status.TargetVersion, Namespace: rot.Namespace})
	if err != nil {
		return nil, err
	}
	tmpl, err := analysis.Parse(a.Inline.Raw, args)
	if err != nil {
		return nil, err
	}
	return analysis.NewGate(tmpl, opts)
}

// WithVerify adds a rotation's verification Job (spec.verify) to the gates after its
// last step; base builds the rest (nil: none).
func WithVerify(base rotation.GateFactory, v *verify.Runner) rotation.GateFactory {
	return func(ctx context.Context, rot *v1alpha1.SecretRotation, post bool) ([]gate.Gate, error) {
		var gates []gate.Gate
		if base != nil {
			gs, err := base(ctx, rot, post)
			if err != nil {
				return nil, err
			}
			gates = gs
		}
		if post {
			if g := v.Gate(rot); g != nil {
				gates = append(gates, g)
			}
		}
		return gates, nil
	}
}
