// Package secretdata assembles the data of a new Secret version from the sources a user
// names: literals, files, env files and standard input. It validates keys and sizes
// before anything is sent, and its errors name keys and files, never values.
package secretdata

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/util/validation"
)

// MaxSize is the API server's limit on a Secret's data: the sum of key and value
// lengths may not exceed 1 MiB.
const MaxSize = 1024 * 1024

// Kind says where a value comes from.
type Kind int

// The kinds of source, in the order the flags are usually given.
const (
	Literal Kind = iota // --from-literal key=value
	File                // --from-file [key=]path
	EnvFile             // --from-env-file path
	Stdin               // --from-stdin KEY
)

// Source is one --from-* flag as given.
type Source struct {
	Kind Kind
	Arg  string
}

func (s Source) flag() string {
	switch s.Kind {
	case Literal:
		return "--from-literal"
	case File:
		return "--from-file"
	case EnvFile:
		return "--from-env-file"
	default:
		return "--from-stdin"
	}
}

// Inputs are the readers the sources draw from, injected so tests need no real
// terminal or files.
type Inputs struct {
	FS    fs.FS     // files, addressed by slash paths relative to its root
	Stdin io.Reader // read whole, at most once
	// Abs turns a user's path into a path within FS (for os.DirFS("/"): absolute,
	// without the leading slash).
	Abs func(string) (string, error)
}

// Build reads every source and returns the Secret data. It refuses an invalid or
// duplicate key, a second --from-stdin, empty data, and data over MaxSize.
func Build(sources []Source, in Inputs) (map[string][]byte, error) {
	if len(sources) == 0 {
		return nil, errors.New("no data: give at least one of --from-literal, --from-file, --from-env-file or --from-stdin")
	}
	data := map[string][]byte{}
	origin := map[string]string{}
	add := func(key string, value []byte, from string) error {
		if errs := validation.IsConfigMapKey(key); len(errs) > 0 {
			return fmt.Errorf("%s: %q is not a valid key: %s", from, key, strings.Join(errs, "; "))
		}
		if prev, dup := origin[key]; dup {
			return fmt.Errorf("%s: key %q is given twice (first by %s); each key may appear once", from, key, prev)
		}
		data[key] = value
		origin[key] = from
		return nil
	}
	stdinUsed := false
	for _, s := range sources {
		from := fmt.Sprintf("%s %s", s.flag(), s.Arg)
		switch s.Kind {
		case Literal:
			// The value is never quoted back: only the key part of the argument.
			key, value, ok := strings.Cut(s.Arg, "=")
			from = fmt.Sprintf("--from-literal %s=…", key)
			if !ok || key == "" {
				return nil, errors.New("--from-literal takes key=value, and one argument has no key= part (it is not shown, in case it is a value)")
			}
			if err := add(key, []byte(value), from); err != nil {
				return nil, err
			}
		case File:
			key, path, hasKey := strings.Cut(s.Arg, "=")
			if !hasKey {
				path, key = s.Arg, filepath.Base(s.Arg)
			}
			b, err := readFile(in, path)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", from, err)
			}
			if err := add(key, b, from); err != nil {
				return nil, err
			}
		case EnvFile:
			b, err := readFile(in, s.Arg)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", from, err)
			}
			pairs, err := ParseEnvFile(b)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", from, err)
			}
			for _, p := range pairs {
				if err := add(p.Key, p.Value, fmt.Sprintf("%s (line %d)", from, p.Line)); err != nil {
					return nil, err
				}
			}
		case Stdin:
			if stdinUsed {
				return nil, errors.New("--from-stdin may be given once: standard input holds one value")
			}
			stdinUsed = true
			if in.Stdin == nil {
				return nil, errors.New("--from-stdin: no standard input")
			}
			b, err := io.ReadAll(io.LimitReader(in.Stdin, MaxSize+1))
			if err != nil {
				return nil, fmt.Errorf("--from-stdin: reading standard input: %w", err)
			}
			if err := add(s.Arg, b, from); err != nil {
				return nil, err
			}
		}
	}
	if size := Size(data); size > MaxSize {
		return nil, fmt.Errorf("the data is %d bytes, over the 1 MiB (%d bytes) limit of a Secret; keys: %s", size, MaxSize, strings.Join(Keys(data), ", "))
	}
	return data, nil
}

func readFile(in Inputs, path string) ([]byte, error) {
	if in.FS == nil {
		return nil, errors.New("no file system to read from")
	}
	p := path
	if in.Abs != nil {
		var err error
		if p, err = in.Abs(path); err != nil {
			return nil, err
		}
	}
	fi, err := fs.Stat(in.FS, p)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", path, unwrapPath(err))
	}
	if fi.IsDir() {
		return nil, fmt.Errorf("%s is a directory; name a file", path)
	}
	if fi.Size() > MaxSize {
		return nil, fmt.Errorf("%s is %d bytes, over the 1 MiB limit of a Secret", path, fi.Size())
	}
	b, err := fs.ReadFile(in.FS, p)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", path, unwrapPath(err))
	}
	return b, nil
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Pair is one KEY=VALUE line of an env file.
type Pair struct {
	Key   string
	Value []byte
	Line  int
}

// ParseEnvFile reads KEY=VALUE lines as kubectl does: blank lines and lines starting
// with # are skipped, leading whitespace is trimmed, the value is everything after the
// first "=", verbatim. Unlike kubectl, a line with no "=" is an error rather than a
// read of rotor's own environment, so what lands in a Secret is what the file says.
func ParseEnvFile(b []byte) ([]Pair, error) {
	var pairs []Pair
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64*1024), MaxSize+1)
	for n := 1; sc.Scan(); n++ {
		line := sc.Bytes()
		if n == 1 {
			line = bytes.TrimPrefix(line, []byte("\xef\xbb\xbf")) // UTF-8 BOM
		}
		if !utf8.Valid(line) {
			return nil, fmt.Errorf("line %d is not valid UTF-8", n)
		}
		trimmed := strings.TrimLeft(string(line), " \t")
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		key, value, ok := strings.Cut(trimmed, "=")
		if !ok {
			return nil, fmt.Errorf("line %d has no \"=\": each line must be KEY=VALUE", n)
		}
		pairs = append(pairs, Pair{Key: key, Value: []byte(value), Line: n})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return pairs, nil
}

// Size is what the API server counts against MaxSize.
func Size(data map[string][]byte) int {
	n := 0
	for k, v := range data {
		n += len(k) + len(v)
	}
	return n
}

// Keys returns the keys of data, sorted.
func Keys[V any](data map[string]V) []string {
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
