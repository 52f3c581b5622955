package secretdata

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/fstest"
)

// canary is part of every value in these tests: no error may contain it.
const canary = "hunter2"

func TestBuild(t *testing.T) {
	pem := "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC" + canary + "\n" + strings.Repeat("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0MTIzNDU2Nzg5MDEyMzQ1Njc4OTAx\n", 60) + "-----END PRIVATE KEY-----\n"
	files := fstest.MapFS{
		"dir/cert.pem":     {Data: []byte("CERT")},
		"dir/key.pem":      {Data: []byte(pem)},
		"dir/app.env":      {Data: []byte("\ufeff# comment\n  USER=svc\n\nURL=https://x?a=b\n")},
		"dir/bad.env":      {Data: []byte("USER=svc\nNOEQUALS" + canary + "\n")},
		"dir/pem.env":      {Data: []byte("TLS_KEY=-----BEGIN PRIVATE KEY-----\n" + "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC" + canary + "\n")},
		"dir/padding.env":  {Data: []byte("A=1\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC" + canary + "==\n")},
		"dir/onepad.env":   {Data: []byte("A=1\n\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC" + canary + "=\n")},
		"dir/slash.env":    {Data: []byte("dG9r+ZW4/eA" + canary + "==\n")},
		"dir/digit.env":    {Data: []byte("1KEY=" + canary + "\n")},
		"dir/nul.env":      {Data: []byte("K=a\x00" + canary + "\n")},
		"dir/emptykey.env": {Data: []byte("=" + canary + "\n")},
		"dir/big":          {Data: []byte(strings.Repeat("x", MaxSize+1))},
		"dir/exact":        {Data: []byte(strings.Repeat("x", MaxSize-1))},
		"dir/half":         {Data: []byte(strings.Repeat("x", MaxSize/2+10))},
		"dir/sub":          {Mode: 0o755 | 1<<31},
	}
	in := func(stdin string) Inputs { return Inputs{FS: files, Stdin: strings.NewReader(stdin)} }
	tests := []struct {
		name    string
		sources []Source
		stdin   string
		want    map[string]string
		wantErr string
	}{
		{"a literal becomes one key, later = signs belong to the value", []Source{{Literal, "k=v=w+/x=="}}, "", map[string]string{"k": "v=w+/x=="}, ""},
		{"an empty literal value is allowed", []Source{{Literal, "k="}}, "", map[string]string{"k": ""}, ""},
		{"a file without a key is named after its base name", []Source{{File, "dir/cert.pem"}}, "", map[string]string{"cert.pem": "CERT"}, ""},
		{"a file with a key takes that key", []Source{{File, "tls.crt=dir/cert.pem"}}, "", map[string]string{"tls.crt": "CERT"}, ""},
		{"a multi-KB PEM file is one value, verbatim", []Source{{File, "tls.key=dir/key.pem"}}, "", map[string]string{"tls.key": pem}, ""},
		{"a file of just under 1 MiB is read", []Source{{File, "k=dir/exact"}}, "", map[string]string{"k": strings.Repeat("x", MaxSize-1)}, ""},
		{"an env file gives a key per line, skipping comments and blanks", []Source{{EnvFile, "dir/app.env"}}, "", map[string]string{"USER": "svc", "URL": "https://x?a=b"}, ""},
		{"stdin is read whole, without trimming, NUL bytes and newlines included", []Source{{Stdin, "token"}}, "a\x00b\n=+/\n", map[string]string{"token": "a\x00b\n=+/\n"}, ""},
		{"sources combine", []Source{{Literal, "a=1"}, {Stdin, "b"}, {File, "c=dir/cert.pem"}}, "2", map[string]string{"a": "1", "b": "2", "c": "CERT"}, ""},
		{"no source is refused", nil, "", nil, "no data"},
		{"a literal without = is refused by its position", []Source{{Literal, "a=1"}, {Literal, canary}}, "", nil, "literal #2: it has no KEY= part"},
		{"a base64 literal is refused by its position, not read as a key", []Source{{Literal, "dG9r+ZW4/eA" + canary + "=="}}, "", nil, "literal #1: the key is not valid"},
		{"a literal of alphanumeric base64 with == padding is refused as base64", []Source{{Literal, "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC" + canary + "=="}}, "", nil, "literal #1: it looks like a line of base64 data"},
		{"a literal of alphanumeric base64 with one = is refused as base64", []Source{{Literal, "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC" + canary + "="}}, "", nil, "looks like a line of base64"},
		{"an invalid literal key is refused without quoting it", []Source{{Literal, "a " + canary + "=1"}}, "", nil, "literal #1: the key is not valid"},
		{"an invalid file key is refused without quoting it", []Source{{File, canary + " x=dir/cert.pem"}}, "", nil, "file dir/cert.pem: the key is not valid"},
		{"an invalid stdin key is refused without quoting it", []Source{{Stdin, canary + "/x"}}, "v", nil, "standard input: the key is not valid"},
		{"a duplicate key across sources names both", []Source{{Literal, "token=1"}, {Stdin, "token"}}, "x", nil, `standard input: key "token": given twice (first by literal #1)`},
		{"a second stdin is refused", []Source{{Stdin, "a"}, {Stdin, "b"}}, "x", nil, "once"},
		{"a missing file is refused", []Source{{File, "dir/nope"}}, "", nil, "file dir/nope: cannot read it"},
		{"a directory is refused", []Source{{File, "dir/sub"}}, "", nil, "is a directory"},
		{"a file over 1 MiB is refused", []Source{{File, "dir/big"}}, "", nil, "more than the 1 MiB"},
		{"an env file over 1 MiB is refused", []Source{{EnvFile, "dir/big"}}, "", nil, "more than the 1 MiB"},
		{"stdin over 1 MiB is refused", []Source{{Stdin, "k"}}, strings.Repeat("y", MaxSize+1), nil, "more than the 1 MiB"},
		{"data adding up to over 1 MiB is refused", []Source{{File, "a=dir/half"}, {File, "b=dir/half"}}, "", nil, "over the 1 MiB"},
		{"an env line without = is refused by file and line", []Source{{EnvFile, "dir/bad.env"}}, "", nil, "env file dir/bad.env:2: has no \"=\""},
		{"the second line of a PEM in an env file is refused by file and line", []Source{{EnvFile, "dir/pem.env"}}, "", nil, "dir/pem.env:2: has no"},
		{"an env line of base64 with == padding is a fragment, refused", []Source{{EnvFile, "dir/padding.env"}}, "", nil, "dir/padding.env:2: it looks like a line of base64"},
		{"an env line of base64 with one = is a fragment, refused", []Source{{EnvFile, "dir/onepad.env"}}, "", nil, "dir/onepad.env:3: it looks like a line of base64"},
		{"an env line of base64 with + and / is refused as no key", []Source{{EnvFile, "dir/slash.env"}}, "", nil, "dir/slash.env:1: the key is not a valid environment variable name"},
		{"an env key starting with a digit is refused", []Source{{EnvFile, "dir/digit.env"}}, "", nil, "dir/digit.env:1: the key is not a valid"},
		{"an env line with a NUL byte is refused", []Source{{EnvFile, "dir/nul.env"}}, "", nil, "dir/nul.env:1: holds a NUL byte"},
		{"an env line with an empty key is refused", []Source{{EnvFile, "dir/emptykey.env"}}, "", nil, "dir/emptykey.env:1: the key is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Build(context.Background(), tt.sources, in(tt.stdin))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), canary) {
					t.Fatalf("error echoes a value: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("keys = %v, want %v", Keys(got), tt.want)
			}
			for k, v := range tt.want {
				if string(got[k]) != v {
					t.Fatalf("data[%q] = %q, want %q", k, got[k], v)
				}
			}
		})
	}
}

// endless is a reader that never ends, like /dev/zero or <(yes).
type endless struct{ n int }

func (e *endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'y'
	}
	e.n += len(p)
	return len(p), nil
}

func TestAnEndlessSourceIsReadOnlyToTheLimit(t *testing.T) {
	src := &endless{}
	_, err := Build(context.Background(), []Source{{Stdin, "k"}}, Inputs{Stdin: src})
	if err == nil || !strings.Contains(err.Error(), "more than the 1 MiB") {
		t.Fatalf("error = %v", err)
	}
	if src.n > MaxSize+64*1024 {
		t.Fatalf("read %d bytes from an endless source; at most 1 MiB + 1 should be needed", src.n)
	}
}

// blocked is a reader that blocks until closed, like a FIFO nobody writes to.
type blocked struct{ done chan struct{} }

func (b blocked) Read([]byte) (int, error) { <-b.done; return 0, io.EOF }

func TestABlockedReadEndsWithTheContext(t *testing.T) {
	b := blocked{done: make(chan struct{})}
	defer close(b.done)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Build(ctx, []Source{{Stdin, "k"}}, Inputs{Stdin: b})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v, want context.Canceled", err)
	}
}
