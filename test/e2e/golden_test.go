package e2e

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/ with the current output")

// assertGolden compares got with testdata/NAME.golden after replacing each
// placeholder's value (a namespace, a time) with its placeholder name. With -update
// it rewrites the file instead.
func assertGolden(t *testing.T, name, got string, placeholders map[string]string) {
	t.Helper()
	for placeholder, value := range placeholders {
		got = strings.ReplaceAll(got, value, placeholder)
	}
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run the test with -update to create it)", err)
	}
	if got != string(want) {
		t.Fatalf("output differs from %s (rerun with -update if the change is intended):\n--- got ---\n%s\n--- want ---\n%s", path, got, want)
	}
}
