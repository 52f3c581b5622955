// Package boundedyaml reads YAML and JSON files whose size and shape are bounded, for
// every reader of user files (analysis definitions, manifests, configuration). A YAML
// parser keeps aliases as references, so a small file can describe a cycle (&a [*a])
// or an exponential tree (the "billion laughs"), and any walk that follows aliases
// then loops, overflows its stack or runs out of memory. This package reads at most
// Limits.MaxBytes+1 bytes (whatever the file claims its size is: /dev/zero and FIFOs
// claim none), parses every document, and refuses cycles, an expanded size over
// MaxNodes and a nesting deeper than MaxDepth, naming the file and line. What it
// returns may be walked, aliases followed, without further checks.
package boundedyaml

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
	sigsyaml "sigs.k8s.io/yaml"
)

// Limits bound what is accepted.
type Limits struct {
	// MaxBytes is the largest file read.
	MaxBytes int64
	// MaxNodes bounds the nodes of all documents with every alias expanded.
	MaxNodes int
	// MaxDepth bounds the nesting of mappings and sequences, aliases expanded.
	MaxDepth int
}

// Defaults for files a person writes: analysis definitions and configuration.
var Defaults = Limits{MaxBytes: 1 << 20, MaxNodes: 200_000, MaxDepth: 100}

// ManifestDefaults allow the larger files of a GitOps repository (CRDs, rendered
// charts).
var ManifestDefaults = Limits{MaxBytes: 16 << 20, MaxNodes: 4_000_000, MaxDepth: 200}

// Error is a refusal, with the file and (when known) the line it concerns.
type Error struct {
	File string
	// Line is 1-based; 0 when the problem is the file as a whole.
	Line   int
	Reason string
	// Err is the underlying error, if any (a read error).
	Err error
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Reason)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Reason)
}

func (e *Error) Unwrap() error { return e.Err }

// ReadFile reads path, at most lim.MaxBytes+1 bytes of it, and refuses a larger one.
// It gives up when ctx ends (a FIFO with no writer blocks in open).
func ReadFile(ctx context.Context, path string, lim Limits) ([]byte, error) {
	type result struct {
		b   []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		f, err := os.Open(path)
		if err != nil {
			done <- result{err: &Error{File: path, Reason: "cannot read it: " + unwrapPath(err).Error(), Err: err}}
			return
		}
		defer func() { _ = f.Close() }()
		if fi, err := f.Stat(); err == nil && fi.IsDir() {
			done <- result{err: &Error{File: path, Reason: "is a directory; name a file"}}
			return
		}
		b, err := Read(path, f, lim)
		done <- result{b, err}
	}()
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case r := <-done:
		return r.b, r.err
	}
}

// Read reads r (named name in errors), at most lim.MaxBytes+1 bytes, and refuses more
// than lim.MaxBytes.
func Read(name string, r io.Reader, lim Limits) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, lim.MaxBytes+1))
	if err != nil {
		return nil, &Error{File: name, Reason: "cannot read it: " + unwrapPath(err).Error(), Err: err}
	}
	if int64(len(b)) > lim.MaxBytes {
		return nil, &Error{File: name, Reason: fmt.Sprintf("is larger than %s, the most rotor reads from such a file; reading stopped there", size(lim.MaxBytes))}
	}
	return b, nil
}

// Decode parses every document of data (named file in errors) and checks each
// against lim. Documents are returned as document nodes.
func Decode(file string, data []byte, lim Limits) ([]*yaml.Node, error) {
	if int64(len(data)) > lim.MaxBytes {
		return nil, &Error{File: file, Reason: fmt.Sprintf("is larger than %s, the most rotor reads from such a file", size(lim.MaxBytes))}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	c := newChecker(file, lim)
	var docs []*yaml.Node
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, parseError(file, err)
		}
		if err := c.check(&doc); err != nil {
			return nil, err
		}
		docs = append(docs, &doc)
	}
}

// DecodeFile is ReadFile and Decode.
func DecodeFile(ctx context.Context, path string, lim Limits) ([]*yaml.Node, error) {
	b, err := ReadFile(ctx, path, lim)
	if err != nil {
		return nil, err
	}
	return Decode(path, b, lim)
}

// UnmarshalStrict checks data against lim like Decode, then decodes its single
// document into v the Kubernetes way (YAML to JSON, then encoding/json with unknown
// fields refused; json tags apply).
func UnmarshalStrict(file string, data []byte, lim Limits, v any) error {
	docs, err := Decode(file, data, lim)
	if err != nil {
		return err
	}
	if len(docs) > 1 {
		return &Error{File: file, Line: docs[1].Line, Reason: "holds more than one document; give one"}
	}
	if err := sigsyaml.UnmarshalStrict(data, v); err != nil {
		return &Error{File: file, Reason: err.Error(), Err: err}
	}
	return nil
}

var parserLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseError turns the parser's "yaml: line N: msg" into an Error with the line.
func parseError(file string, err error) error {
	msg := err.Error()
	if m := parserLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Error{File: file, Line: line, Reason: "not valid YAML or JSON: " + m[2], Err: err}
	}
	return &Error{File: file, Reason: "not valid YAML or JSON: " + strings.TrimPrefix(msg, "yaml: "), Err: err}
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func size(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
