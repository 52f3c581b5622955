// Package secretdata assembles the data of a new Secret version from the sources a user
// names: literals, files, env files and standard input. It validates keys and sizes
// before anything is sent. No part of a value ever appears in its errors: a literal is
// named by its position among the literals, an env-file line by its file and line
// number, and a key is quoted only once it has passed the API's rules for keys (a
// string that fails them may be a value given by mistake, such as a base64 line).
//
// Every read is bounded: at most MaxSize+1 bytes are read from any source, whatever
// its size claims to be (/dev/zero, a FIFO and a pipe have none), and every read stops
// when the context ends.
package secretdata

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// MaxSize is the API server's limit on a Secret's data: the sum of key and value
// lengths may not exceed 1 MiB.
const MaxSize = 1024 * 1024

// Kind says where a value comes from.
type Kind int

// The kinds of source, in the order the flags are usually given.
const (
	Literal Kind = iota // KEY=VALUE given as an argument
	File                // [KEY=]PATH: a file's content as one value
	EnvFile             // PATH of KEY=VALUE lines
	Stdin               // KEY whose value is standard input

	allSources Kind = -1 // a problem of the data as a whole
)

func (k Kind) String() string {
	switch k {
	case Literal:
		return "literal"
	case File:
		return "file"
	case EnvFile:
		return "env file"
	default:
		return "standard input"
	}
}

// Source is one source as given.
type Source struct {
	Kind Kind
	Arg  string
}

// Problem is why a source was refused. It never holds a value: Key is set only when
// the key is valid, Path is a file the user named, Line a line number in it.
type Problem struct {
	Kind Kind
	// Position is the 1-based position of the source among the sources of its kind
	// (the second literal is 2); 0 when the problem is not about one argument.
	Position int
	Key      string
	Path     string
	Line     int
	Reason   string
	// First is the source that gave Key first, when Key is given twice.
	First *Problem
}

func (p *Problem) Error() string { return p.Format(Kind.String) }

// Format renders the problem, naming each kind of source with name (the CLI passes
// its flag names).
func (p *Problem) Format(name func(Kind) string) string {
	msg := p.Reason
	if p.First != nil {
		msg = fmt.Sprintf("given twice (first by %s); each key may appear once", p.First.Where(name))
	}
	if p.Key != "" {
		msg = fmt.Sprintf("key %q: %s", p.Key, msg)
	}
	if w := p.Where(name); w != "" {
		return w + ": " + msg
	}
	return msg
}

// Where names the source: FILE:LINE, FILE, "NAME #POSITION", or NAME.
func (p *Problem) Where(name func(Kind) string) string {
	switch {
	case p.Path != "" && p.Line > 0:
		return fmt.Sprintf("%s %s:%d", name(p.Kind), p.Path, p.Line)
	case p.Path != "":
		return name(p.Kind) + " " + p.Path
	case p.Position > 0:
		return fmt.Sprintf("%s #%d", name(p.Kind), p.Position)
	case p.Kind == Stdin:
		return name(p.Kind)
	}
	return ""
}

// ErrNoData is returned when no source was given.
var ErrNoData = errors.New("no data: a version needs at least one key")

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
// duplicate key, a second standard input, empty data, data over MaxSize, and env-file
// lines that are not KEY=VALUE (a base64 fragment among them). Errors are *Problem
// values, or ErrNoData, or the context's error.
func Build(ctx context.Context, sources []Source, in Inputs) (map[string][]byte, error) {
	if len(sources) == 0 {
		return nil, ErrNoData
	}
	data := map[string][]byte{}
	origin := map[string]Problem{}
	positions := map[Kind]int{}
	stdinUsed := false
	for _, s := range sources {
		positions[s.Kind]++
		p := Problem{Kind: s.Kind, Position: positions[s.Kind]}
		add := func(key string, value []byte, p Problem, keyOK func(string) error) error {
			if err := keyOK(key); err != nil {
				p.Reason = err.Error()
				return &p
			}
			p.Key = key
			if first, dup := origin[key]; dup {
				p.First = &first
				return &p
			}
			data[key] = value
			origin[key] = p
			return nil
		}
		switch s.Kind {
		case Literal:
			key, value, err := ParseLiteral(s.Arg)
			if err != nil {
				p.Reason = err.Error()
				return nil, &p
			}
			if err := add(key, value, p, ValidateKey); err != nil {
				return nil, err
			}
		case File:
			key, name, hasKey := strings.Cut(s.Arg, "=")
			if !hasKey {
				name, key = s.Arg, filepath.Base(s.Arg)
			}
			p.Position, p.Path = 0, name
			b, err := readFile(ctx, in, name)
			if err != nil {
				return nil, fail(p, err)
			}
			if err := add(key, b, p, ValidateKey); err != nil {
				return nil, err
			}
		case EnvFile:
			p.Position, p.Path = 0, s.Arg
			b, err := readFile(ctx, in, s.Arg)
			if err != nil {
				return nil, fail(p, err)
			}
			pairs, err := ParseEnvFile(b)
			if err != nil {
				var lp *Problem
				if errors.As(err, &lp) {
					lp.Kind, lp.Path = EnvFile, s.Arg
					return nil, lp
				}
				return nil, fail(p, err)
			}
			for _, pair := range pairs {
				lp := p
				lp.Line = pair.Line
				if err := add(pair.Key, pair.Value, lp, func(string) error { return nil }); err != nil {
					return nil, err
				}
			}
		case Stdin:
			p.Position = 0
			if stdinUsed {
				p.Reason = "standard input holds one value: name it once"
				return nil, &p
			}
			stdinUsed = true
			if in.Stdin == nil {
				p.Reason = "there is no standard input"
				return nil, &p
			}
			b, err := readBounded(ctx, in.Stdin)
			if err != nil {
				return nil, fail(p, err)
			}
			if err := add(s.Arg, b, p, ValidateKey); err != nil {
				return nil, err
			}
		}
	}
	if size := Size(data); size > MaxSize {
		return nil, &Problem{Kind: allSources, Reason: fmt.Sprintf("the data is %d bytes, over the 1 MiB (%d bytes) limit of a Secret; keys: %s", size, MaxSize, strings.Join(Keys(data), ", "))}
	}
	return data, nil
}

func fail(p Problem, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	p.Reason = err.Error()
	return &p
}

// ValidateKey says why key cannot be a data key of a Secret, without repeating it.
func ValidateKey(key string) error {
	if key == "" {
		return errors.New("the key is empty")
	}
	if errs := validation.IsConfigMapKey(key); len(errs) > 0 {
		return errors.New("the key is not valid (it is not shown, in case it is a value): a key is at most 253 letters, digits, '-', '_' or '.', and not '.' or '..'")
	}
	return nil
}

// validateEnvKey applies kubectl's rule for env-file keys: an environment variable
// name.
func validateEnvKey(key string) error {
	if key == "" {
		return errors.New("the key is empty: each line must be KEY=VALUE")
	}
	if errs := validation.IsEnvVarName(key); len(errs) > 0 {
		return errors.New("the key is not a valid environment variable name (the line is not shown, in case it is a value): letters, digits, '_', '-' or '.', not starting with a digit")
	}
	return nil
}

// ParseLiteral splits a KEY=VALUE argument. Its errors never repeat the argument.
func ParseLiteral(arg string) (string, []byte, error) {
	key, value, ok := strings.Cut(arg, "=")
	if !ok || key == "" {
		return "", nil, errors.New("it has no KEY= part (the argument is not shown, in case it is a value): write KEY=VALUE")
	}
	if err := ValidateKey(key); err != nil {
		return "", nil, err
	}
	if looksLikeBase64(key, value) {
		return "", nil, errors.New(paddingReason)
	}
	return key, []byte(value), nil
}

const paddingReason = "it looks like a line of base64 data (such as the end of a PEM), not KEY=VALUE, and is not shown; give a multi-line value in a file of its own, as one key"

// looksLikeBase64 reports a KEY=VALUE split that is really a line of base64 data: a
// value of nothing but '=' padding (what splitting a line ending in "==" at its first
// "=" leaves), or an empty value after a long "key" that mixes upper and lower case
// letters and digits and nothing else (a line ending in one "=").
func looksLikeBase64(key, value string) bool {
	if value != "" {
		return strings.Trim(value, "=") == ""
	}
	if len(key) < 16 {
		return false
	}
	var upper, lower, digit bool
	for _, r := range key {
		switch {
		case r >= 'A' && r <= 'Z':
			upper = true
		case r >= 'a' && r <= 'z':
			lower = true
		case r >= '0' && r <= '9':
			digit = true
		default:
			return false
		}
	}
	return upper && lower && digit
}

func readFile(ctx context.Context, in Inputs, name string) ([]byte, error) {
	if in.FS == nil {
		return nil, errors.New("no file system to read from")
	}
	p := name
	if in.Abs != nil {
		var err error
		if p, err = in.Abs(name); err != nil {
			return nil, err
		}
	}
	p = path.Clean(p)
	// Opening a FIFO blocks until a writer comes: open and read where the context can
	// abandon them.
	type result struct {
		b   []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		f, err := in.FS.Open(p)
		if err != nil {
			done <- result{err: fmt.Errorf("cannot read it: %w", unwrapPath(err))}
			return
		}
		defer func() { _ = f.Close() }()
		if fi, err := f.Stat(); err == nil && fi.IsDir() {
			done <- result{err: errors.New("it is a directory; name a file")}
			return
		}
		b, err := readAll(f)
		done <- result{b, err}
	}()
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case r := <-done:
		return r.b, r.err
	}
}

// readBounded reads r whole, up to MaxSize, stopping when ctx ends.
func readBounded(ctx context.Context, r io.Reader) ([]byte, error) {
	type result struct {
		b   []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		b, err := readAll(r)
		done <- result{b, err}
	}()
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case res := <-done:
		return res.b, res.err
	}
}

// readAll reads at most MaxSize+1 bytes and refuses more than MaxSize.
func readAll(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading it: %w", unwrapPath(err))
	}
	if len(b) > MaxSize {
		return nil, fmt.Errorf("it holds more than the 1 MiB (%d bytes) a Secret may; reading stopped there", MaxSize)
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
