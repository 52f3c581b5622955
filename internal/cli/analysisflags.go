package cli

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/pflag"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rotor-project/rotor/internal/analysis"
)

// AnalysisFlags are --analysis FILE and --arg NAME=VALUE, shared by every command
// that gates on metrics (watch; rollout --analysis).
type AnalysisFlags struct {
	File string
	Args []string

	args map[string]string
}

// AddFlags registers the flags.
func (a *AnalysisFlags) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&a.File, "analysis", "", "Analysis definition: an Argo Rollouts AnalysisTemplate (metrics[] with prometheus, datadog or web providers); see docs/analysis.md")
	fs.StringArrayVar(&a.Args, "arg", nil, "Fill {{args.NAME}} in the analysis: NAME=VALUE (repeatable); family, version and namespace are set by rotor")
}

// Complete parses --arg.
func (a *AnalysisFlags) Complete() error {
	var err error
	a.args, err = analysis.ParseArgs(a.Args)
	if err != nil {
		return usageErrorf("%v", err)
	}
	return nil
}

// Load reads the definition with the user's arguments and the rotation's facts.
func (a *AnalysisFlags) Load(ctx context.Context, f analysis.Facts) (*analysis.Template, error) {
	args, err := analysis.MergeArgs(a.args, f)
	if err != nil {
		return nil, usageErrorf("%v", err)
	}
	t, err := analysis.Load(ctx, a.File, args)
	if err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		return nil, usageErrorf("%v", err)
	}
	return t, nil
}

// GateOptions are the gate's options for a command: the factory's clock, Datadog keys
// from the environment or from a Secret read through the cluster client.
func (a *AnalysisFlags) GateOptions(f *factory, onMeasurement func(analysis.Measurement)) analysis.Options {
	return analysis.Options{
		Clock:         f.Clock,
		Getenv:        os.Getenv,
		OnMeasurement: onMeasurement,
		SecretData: func(ctx context.Context, namespace, name string) (map[string][]byte, error) {
			c, err := f.Client()
			if err != nil {
				return nil, err
			}
			s, err := c.CoreV1().Secrets(namespace).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return nil, err
			}
			return s.Data, nil
		},
	}
}

// flatten keeps an analysis error's message but drops its chain, so a provider's
// connection error is not mistaken for the cluster being unreachable.
func flatten(format string, err error) error {
	return fmt.Errorf(format, err.Error())
}
