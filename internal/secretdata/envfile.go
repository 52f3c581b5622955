package secretdata

import (
	"bufio"
	"bytes"
	"errors"
	"strings"
	"unicode/utf8"
)

// Pair is one KEY=VALUE line of an env file.
type Pair struct {
	Key   string
	Value []byte
	Line  int
}

// ParseEnvFile reads KEY=VALUE lines as kubectl does: blank lines and lines starting
// with # are skipped, leading whitespace is trimmed, the key must be an environment
// variable name, and the value is everything after the first "=", verbatim. Unlike
// kubectl, a line with no "=" is an error rather than a read of rotor's own
// environment, so what lands in a Secret is what the file says; and a line whose value
// is nothing but "=" padding is refused as a base64 fragment (the tail of a PEM pasted
// into the file), not read as a key. Errors are *Problem values with the line number;
// no line is ever quoted.
func ParseEnvFile(b []byte) ([]Pair, error) {
	var pairs []Pair
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64*1024), MaxSize+1)
	for n := 1; sc.Scan(); n++ {
		line := sc.Bytes()
		if n == 1 {
			line = bytes.TrimPrefix(line, []byte("\xef\xbb\xbf")) // UTF-8 BOM
		}
		problem := func(reason string) error { return &Problem{Kind: EnvFile, Line: n, Reason: reason} }
		if !utf8.Valid(line) {
			return nil, problem("not valid UTF-8")
		}
		if bytes.IndexByte(line, 0) >= 0 {
			return nil, problem("holds a NUL byte: an env file is text; give binary data in a file of its own with a file source")
		}
		trimmed := strings.TrimLeft(string(line), " \t")
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		key, value, ok := strings.Cut(trimmed, "=")
		if !ok {
			return nil, problem(`has no "=": each line must be KEY=VALUE (the line is not shown, in case it is a value)`)
		}
		if err := validateEnvKey(key); err != nil {
			return nil, problem(err.Error())
		}
		if looksLikeBase64(key, value) {
			return nil, problem(paddingReason)
		}
		pairs = append(pairs, Pair{Key: key, Value: []byte(value), Line: n})
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, &Problem{Kind: EnvFile, Reason: "a line is longer than the 1 MiB a Secret may hold"}
		}
		return nil, err
	}
	return pairs, nil
}
