package cli

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rotor-project/rotor/internal/engine"
	"github.com/rotor-project/rotor/internal/kube"
	"github.com/rotor-project/rotor/internal/secretdata"
	"github.com/rotor-project/rotor/internal/versions"
)

// valueFlags are the values of a new version: --from-literal, --from-file,
// --from-env-file, --from-stdin, and --from-previous with --set KEY (the value of KEY on
// standard input): copy the previous version's keys and replace only the named ones.
// Values never pass through argv rotor builds, nor any output. Shared by rotate and
// promote.
type valueFlags struct {
	Literals     []string
	Files        []string
	EnvFiles     []string
	StdinKey     string
	FromPrevious bool
	Set          string

	sources []secretdata.Source
	once    sync.Once
	given   map[string][]byte
	err     error
}

func (v *valueFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringArrayVar(&v.Literals, "from-literal", nil, "KEY=VALUE; repeatable. Warning: the value lands in shell history and the process list; prefer --from-stdin or --from-file")
	fl.StringArrayVar(&v.Files, "from-file", nil, "[KEY=]PATH: a file's content as one key (default key: the file name); repeatable")
	fl.StringArrayVar(&v.EnvFiles, "from-env-file", nil, "PATH of a file of KEY=VALUE lines; repeatable")
	fl.StringVar(&v.StdinKey, "from-stdin", "", "KEY whose value is read from standard input")
	fl.BoolVar(&v.FromPrevious, "from-previous", false, "Copy every key of the previous version (in each namespace, inside the cluster) and replace only the keys given by --set or the other --from-* flags")
	fl.StringVar(&v.Set, "set", "", "With --from-previous: KEY whose new value is read from standard input")
}

func (v *valueFlags) complete(cmd *cobra.Command) error {
	for _, l := range v.Literals {
		v.sources = append(v.sources, secretdata.Source{Kind: secretdata.Literal, Arg: l})
	}
	for _, p := range v.Files {
		v.sources = append(v.sources, secretdata.Source{Kind: secretdata.File, Arg: p})
	}
	for _, p := range v.EnvFiles {
		v.sources = append(v.sources, secretdata.Source{Kind: secretdata.EnvFile, Arg: p})
	}
	if cmd.Flags().Changed("from-stdin") {
		v.sources = append(v.sources, secretdata.Source{Kind: secretdata.Stdin, Arg: v.StdinKey})
	}
	if cmd.Flags().Changed("set") {
		if !v.FromPrevious {
			return usageErrorf("--set KEY replaces one key of the previous version: use it with --from-previous (or give the whole data with --from-stdin KEY and the other --from-* flags)")
		}
		if cmd.Flags().Changed("from-stdin") {
			return usageErrorf("--set and --from-stdin both read standard input, which holds one value: give the other key with --from-file KEY=PATH")
		}
		v.sources = append(v.sources, secretdata.Source{Kind: secretdata.Stdin, Arg: v.Set})
	}
	switch {
	case v.FromPrevious && len(v.sources) == 0:
		return usageErrorf("--from-previous copies the previous version and replaces the keys you name: name at least one with --set KEY (its value on standard input) or --from-file KEY=PATH")
	case len(v.sources) == 0:
		return usageErrorf("no data: give the new version's keys with --from-stdin KEY, --from-file [KEY=]PATH, --from-env-file PATH or --from-literal KEY=VALUE, or copy the previous version with --from-previous --set KEY")
	}
	return nil
}

// read reads the given keys once (standard input can be read once), for every namespace
// and cluster of the rotation.
func (v *valueFlags) read(ctx context.Context, f *factory, streams IOStreams) (map[string][]byte, error) {
	v.once.Do(func() {
		key := v.StdinKey
		if key == "" {
			key = v.Set
		}
		v.given, v.err = buildData(ctx, f, streams, key, v.sources)
	})
	return v.given, v.err
}

// buildData reads a new version's data from its sources: files from the file system,
// standard input as the value of stdinKey, typed at a terminal as one line that is never
// echoed.
func buildData(ctx context.Context, f *factory, streams IOStreams, stdinKey string, sources []secretdata.Source) (map[string][]byte, error) {
	stdin := streams.In
	if f.IsTerminal(stdin) {
		tty := &noEchoLine{in: stdin, prompt: streams.ErrOut, key: stdinKey}
		defer func() { _ = tty.Close() }()
		stdin = tty
	}
	return secretdata.Build(ctx, sources, secretdata.Inputs{
		FS:    os.DirFS("/"),
		Stdin: stdin,
		Abs: func(p string) (string, error) {
			abs, err := filepath.Abs(p)
			return strings.TrimPrefix(abs, "/"), err
		},
	})
}

// newData is the data of a new version: the given keys, over a copy of the previous
// version's (in that namespace of that cluster) with --from-previous.
type newData struct {
	Data map[string][]byte
	Type corev1.SecretType
	// From is the version copied ("" without --from-previous); Copied its keys kept.
	From   string
	Copied []string
}

// data builds the new version's data in namespace ns of cluster c.
func (v *valueFlags) data(ctx context.Context, f *factory, streams IOStreams, c *kube.Clients, ns, fam string) (*newData, error) {
	given, err := v.read(ctx, f, streams)
	if err != nil {
		return nil, err
	}
	out := &newData{Data: maps.Clone(given), Type: corev1.SecretTypeOpaque}
	if !v.FromPrevious {
		return out, nil
	}
	prev, err := engineLatest(ctx, c, ns, fam)
	if err != nil {
		return nil, err
	}
	if prev == "" {
		return nil, usageErrorf("--from-previous: no version of %s exists in namespace %s to copy from: give every key instead", fam, ns)
	}
	s, err := c.Typed.CoreV1().Secrets(ns).Get(ctx, prev, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("--from-previous: reading %s in namespace %q: %w", prev, ns, err)
	}
	out.From, out.Type = prev, s.Type
	for k, val := range s.Data {
		if _, replaced := out.Data[k]; !replaced {
			out.Data[k] = val
			out.Copied = append(out.Copied, k)
		}
	}
	slices.Sort(out.Copied)
	return out, nil
}

// engineLatest is the newest version of fam in ns ("" when none).
func engineLatest(ctx context.Context, c *kube.Clients, ns, fam string) (string, error) {
	return engine.LatestOf(&versions.Lister{Client: c.Typed, Metadata: c.Metadata})(ctx, ns, fam)
}

// missingKeys are the required keys data lacks.
func missingKeys(required []string, data map[string][]byte) []string {
	var out []string
	for _, k := range required {
		if _, ok := data[k]; !ok {
			out = append(out, k)
		}
	}
	return out
}
