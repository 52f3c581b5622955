package secretdata

import (
	"strings"
	"testing"
	"testing/fstest"
)

func TestBuild(t *testing.T) {
	files := fstest.MapFS{
		"dir/cert.pem": {Data: []byte("CERT")},
		"dir/app.env":  {Data: []byte("\ufeff# comment\n  USER=svc\n\nURL=https://x?a=b\n")},
		"dir/bad.env":  {Data: []byte("USER=svc\nNOEQUALS\n")},
		"dir/big":      {Data: []byte(strings.Repeat("x", MaxSize+1))},
		"dir/half":     {Data: []byte(strings.Repeat("x", MaxSize/2+10))},
		"dir/sub":      {Mode: 0o755 | 1<<31},
	}
	in := func(stdin string) Inputs { return Inputs{FS: files, Stdin: strings.NewReader(stdin)} }
	tests := []struct {
		name    string
		sources []Source
		stdin   string
		want    map[string]string
		wantErr string
	}{
		{"a literal becomes one key", []Source{{Literal, "k=v=w"}}, "", map[string]string{"k": "v=w"}, ""},
		{"an empty literal value is allowed", []Source{{Literal, "k="}}, "", map[string]string{"k": ""}, ""},
		{"a file without a key is named after its base name", []Source{{File, "dir/cert.pem"}}, "", map[string]string{"cert.pem": "CERT"}, ""},
		{"a file with a key takes that key", []Source{{File, "tls.crt=dir/cert.pem"}}, "", map[string]string{"tls.crt": "CERT"}, ""},
		{"an env file gives a key per line, skipping comments and blanks", []Source{{EnvFile, "dir/app.env"}}, "", map[string]string{"USER": "svc", "URL": "https://x?a=b"}, ""},
		{"stdin is read whole, without trimming", []Source{{Stdin, "token"}}, "abc\n", map[string]string{"token": "abc\n"}, ""},
		{"sources combine", []Source{{Literal, "a=1"}, {Stdin, "b"}, {File, "c=dir/cert.pem"}}, "2", map[string]string{"a": "1", "b": "2", "c": "CERT"}, ""},
		{"no source is refused", nil, "", nil, "no data"},
		{"a literal without = is refused without echoing it", []Source{{Literal, "hunter2"}}, "", nil, "has no key= part"},
		{"an invalid key is refused", []Source{{Literal, "a b=1"}}, "", nil, "not a valid key"},
		{"a duplicate key across sources is refused", []Source{{Literal, "token=1"}, {Stdin, "token"}}, "x", nil, `key "token" is given twice`},
		{"a second stdin is refused", []Source{{Stdin, "a"}, {Stdin, "b"}}, "x", nil, "once"},
		{"a missing file is refused", []Source{{File, "dir/nope"}}, "", nil, "cannot read dir/nope"},
		{"a directory is refused", []Source{{File, "dir/sub"}}, "", nil, "is a directory"},
		{"a file over 1 MiB is refused before reading it whole", []Source{{File, "dir/big"}}, "", nil, "over the 1 MiB limit"},
		{"data adding up to over 1 MiB is refused", []Source{{File, "a=dir/half"}, {File, "b=dir/half"}}, "", nil, "over the 1 MiB"},
		{"an env line without = is refused with its line number", []Source{{EnvFile, "dir/bad.env"}}, "", nil, "line 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Build(tt.sources, in(tt.stdin))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "hunter2") {
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
