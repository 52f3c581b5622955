package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/spf13/pflag"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/internal/analysis"
	"github.com/rotor-project/rotor/internal/secretdata"
)

// AnalysisFlags are --analysis FILE and the arguments that fill it, shared by every
// command that gates on metrics (watch; rollout --analysis). An argument may be a
// credential, so besides --arg NAME=VALUE (visible in the process list) it may come
// from a file (--arg-file) or from the environment (--arg-from-env NAME=VAR).
type AnalysisFlags struct {
	File     string
	Args     []string
	ArgFiles []string
	ArgEnv   []string

	args map[string]string
	// private are the arguments given by file or environment: credentials, never
	// recorded in a rotation's journal.
	private map[string]bool
}

// AddFlags registers the flags.
func (a *AnalysisFlags) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&a.File, "analysis", "", "Analysis definition: an Argo Rollouts AnalysisTemplate (metrics[] with prometheus, datadog or web providers); see docs/analysis.md")
	fs.StringArrayVar(&a.Args, "arg", nil, "Fill {{args.NAME}} in the analysis: NAME=VALUE (repeatable); family, version and namespace are set by rotor. The value is visible in the process list: for a credential use --arg-file or --arg-from-env")
	fs.StringArrayVar(&a.ArgFiles, "arg-file", nil, "Read analysis arguments from a file of NAME=VALUE lines (repeatable)")
	fs.StringArrayVar(&a.ArgEnv, "arg-from-env", nil, "NAME=VAR: fill {{args.NAME}} from the environment variable VAR (repeatable)")
}

// maxArgFile bounds an --arg-file.
const maxArgFile = 64 << 10

// Complete reads the arguments from every source; a name given twice is refused.
func (a *AnalysisFlags) Complete(getenv func(string) string) error {
	var err error
	a.args, err = analysis.ParseArgs(a.Args)
	if err != nil {
		return usageErrorf("%v", err)
	}
	add := func(name, value, from string) error {
		if _, dup := a.args[name]; dup {
			return usageErrorf("%s: argument %s is given twice", from, name)
		}
		a.args[name] = value
		// Only --arg-file and --arg-from-env reach here: both are private.
		if a.private == nil {
			a.private = map[string]bool{}
		}
		a.private[name] = true
		return nil
	}
	for _, path := range a.ArgFiles {
		b, err := readSmallFile(path, maxArgFile)
		if err != nil {
			return usageErrorf("--arg-file %v", err)
		}
		pairs, err := secretdata.ParseEnvFile(b)
		var p *secretdata.Problem
		if errors.As(err, &p) {
			return usageErrorf("--arg-file %s:%d: %s", path, p.Line, p.Reason)
		}
		if err != nil {
			return usageErrorf("--arg-file %s: %v", path, err)
		}
		for _, p := range pairs {
			if err := add(p.Key, string(p.Value), fmt.Sprintf("--arg-file %s:%d", path, p.Line)); err != nil {
				return err
			}
		}
	}
	for i, pair := range a.ArgEnv {
		name, envVar, ok := strings.Cut(pair, "=")
		if !ok || name == "" || envVar == "" {
			return usageErrorf("--arg-from-env #%d: write it as NAME=VAR (the argument NAME, filled from the environment variable VAR)", i+1)
		}
		v := getenv(envVar)
		if v == "" {
			return usageErrorf("--arg-from-env %s=%s: the environment variable %s is not set or empty", name, envVar, envVar)
		}
		if err := add(name, v, "--arg-from-env "+name); err != nil {
			return err
		}
	}
	return nil
}

// privateArgs are the values of the private arguments.
func (a *AnalysisFlags) privateArgs() map[string]string {
	out := map[string]string{}
	for name := range a.private {
		out[name] = a.args[name]
	}
	return out
}

// record is the arguments as a rotation records them: private ones without a value.
func (a *AnalysisFlags) record() []v1alpha1.AnalysisArg {
	var out []v1alpha1.AnalysisArg
	for _, k := range slices.Sorted(maps.Keys(a.args)) {
		if a.private[k] {
			out = append(out, v1alpha1.AnalysisArg{Name: k, Private: true})
			continue
		}
		out = append(out, v1alpha1.AnalysisArg{Name: k, Value: a.args[k]})
	}
	return out
}

// readSmallFile reads at most max bytes of path and refuses more; errors start with
// the path.
func readSmallFile(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: cannot read it: %w", path, unwrapPathErr(err))
	}
	defer func() { _ = f.Close() }()
	if fi, err := f.Stat(); err == nil && fi.IsDir() {
		return nil, fmt.Errorf("%s: is a directory; name a file", path)
	}
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("%s: cannot read it: %w", path, unwrapPathErr(err))
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s: is larger than %d KiB; reading stopped there", path, max>>10)
	}
	return b, nil
}

func unwrapPathErr(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
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
		PrivateArgs:   a.privateArgs(),
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
