package secretdata

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParseLiteral checks that a literal is either split into a valid key and the
// rest verbatim, or refused with an error that repeats nothing of it.
func FuzzParseLiteral(f *testing.F) {
	for _, s := range []string{"k=v", "k=", "=v", "dG9r+ZW4/eA==", "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC==", "a b=1", "k=a\x00b\nc", "token=" + strings.Repeat("QUJD", 300)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, arg string) {
		key, value, err := ParseLiteral(arg)
		if err != nil {
			assertQuotesNothing(t, err, arg)
			return
		}
		if ValidateKey(key) != nil {
			t.Fatalf("ParseLiteral(%q) accepted an invalid key %q", arg, key)
		}
		if key+"="+string(value) != arg {
			t.Fatalf("ParseLiteral(%q) = %q, %q: does not reassemble", arg, key, value)
		}
	})
}

// FuzzParseEnvFile checks that every accepted line is a valid key and its value taken
// verbatim from one line, and that a refusal names a line and quotes nothing.
func FuzzParseEnvFile(f *testing.F) {
	for _, s := range []string{
		"A=1\nB=2\n", "\ufeff# c\n  USER=svc\n\nURL=https://x?a=b\n", "NOEQUALS\n", "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC==\n",
		"dG9r+ZW4/eA==\n", "1KEY=v\n", "K=a\x00b\n", "=v\n", "K=\xff\n", "K=v\r\n", "TLS=-----BEGIN CERTIFICATE-----\nMIIB\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		pairs, err := ParseEnvFile(b)
		if err != nil {
			var p *Problem
			if !errors.As(err, &p) {
				t.Fatalf("error %v is not a *Problem", err)
			}
			if p.Key != "" {
				t.Fatalf("a refused line's key is quoted: %v", err)
			}
			lines := strings.Split(string(b), "\n")
			if p.Line < 1 || p.Line > len(lines) {
				t.Fatalf("line %d is not a line of the input (%d lines)", p.Line, len(lines))
			}
			assertQuotesNothing(t, err, lines[p.Line-1])
			return
		}
		for _, p := range pairs {
			if validateEnvKey(p.Key) != nil {
				t.Fatalf("accepted invalid key %q", p.Key)
			}
			if strings.ContainsAny(string(p.Value), "\n\x00") || !utf8.Valid(p.Value) {
				t.Fatalf("value of %q spans lines, holds NUL or is not UTF-8", p.Key)
			}
		}
	})
}

// assertQuotesNothing fails when err contains input, unless input is so short or
// plain that the fixed wording of a message contains it anyway.
func assertQuotesNothing(t *testing.T, err error, input string) {
	t.Helper()
	msg := err.Error()
	if len(strings.TrimSpace(input)) < 6 {
		return
	}
	if strings.Contains(msg, input) {
		t.Fatalf("error %q repeats the input %q", msg, input)
	}
}
