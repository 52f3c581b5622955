// Command testreport reads `go test -json` on standard input and prints what a person
// wants from a long run: the usual `ok`/`FAIL` line per package, the full output of
// each failing test (and nothing of passing ones), then a summary: the failures again
// by name, the ten slowest tests, and a closing `N passed, N failed, N skipped` line.
// It exits 1 when anything failed (a test, a package, a build).
//
//	go test -json ./... | go run ./hack/testreport
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"
)

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Time       time.Time
	Action     string
	Package    string
	Test       string
	Elapsed    float64
	Output     string
	ImportPath string
}

type key struct{ pkg, test string }

type report struct {
	out                    io.Writer
	output                 map[key]*strings.Builder
	failed                 []key
	elapsed                map[key]float64
	passed, skipped, fails int
	pkgFailed              []string
	buildFailed            bool
}

func main() {
	r := &report{out: os.Stdout, output: map[key]*strings.Builder{}, elapsed: map[key]float64{}}
	if err := r.read(os.Stdin); err != nil {
		fmt.Fprintln(os.Stderr, "testreport:", err)
		os.Exit(2)
	}
	r.summary(10)
	if r.fails > 0 || len(r.pkgFailed) > 0 || r.buildFailed {
		os.Exit(1)
	}
}

func (r *report) read(in io.Reader) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1024*1024), 64*1024*1024)
	for sc.Scan() {
		line := sc.Bytes()
		var ev event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &ev) != nil {
			fmt.Fprintf(r.out, "%s\n", line) // not an event: go vet or build errors, printed as they are
			continue
		}
		r.event(ev)
	}
	return sc.Err()
}

func (r *report) event(ev event) {
	k := key{ev.Package, ev.Test}
	switch ev.Action {
	case "build-output":
		fmt.Fprint(r.out, ev.Output)
	case "build-fail":
		r.buildFailed = true
	case "output":
		if ev.Test == "" {
			// Package-level lines: `ok`, `FAIL`, `?`, and what TestMain prints. The
			// PASS/FAIL verdict lines of -v mode repeat what the package line says.
			if t := strings.TrimSpace(ev.Output); t != "PASS" && t != "FAIL" && !strings.HasPrefix(t, "=== ") {
				fmt.Fprint(r.out, ev.Output)
			}
			return
		}
		b := r.output[k]
		if b == nil {
			b = &strings.Builder{}
			r.output[k] = b
		}
		b.WriteString(ev.Output)
	case "pass", "fail", "skip":
		if ev.Test == "" {
			if ev.Action == "fail" {
				r.pkgFailed = append(r.pkgFailed, ev.Package)
				// Tests that never ended (a panic, a timeout): show what they printed.
				for k, b := range r.output {
					if k.pkg == ev.Package {
						fmt.Fprintf(r.out, "--- %s did not finish; its output:\n%s", k.test, b.String())
						delete(r.output, k)
					}
				}
			}
			return
		}
		switch ev.Action {
		case "fail":
			r.fails++
			r.failed = append(r.failed, k)
			if b := r.output[k]; b != nil {
				fmt.Fprint(r.out, b.String())
			}
		case "pass":
			r.passed++
		default:
			r.skipped++
		}
		if !strings.Contains(ev.Test, "/") {
			r.elapsed[k] = ev.Elapsed
		}
		delete(r.output, k)
	}
}

func (r *report) summary(slowest int) {
	w := r.out
	fmt.Fprintln(w)
	if len(r.failed) > 0 {
		fmt.Fprintln(w, "Failed tests:")
		for _, k := range r.failed {
			fmt.Fprintf(w, "  %s  %s\n", k.test, k.pkg)
		}
		fmt.Fprintln(w)
	}
	for _, p := range r.pkgFailed {
		if !r.hasFailedTest(p) {
			fmt.Fprintf(w, "Package %s failed outside any test (build, TestMain, panic or timeout): see its output above.\n", p)
		}
	}
	type timed struct {
		k key
		s float64
	}
	var all []timed
	for k, s := range r.elapsed {
		all = append(all, timed{k, s})
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].s != all[j].s {
			return all[i].s > all[j].s
		}
		return all[i].k.test < all[j].k.test
	})
	if len(all) > slowest {
		all = all[:slowest]
	}
	if len(all) > 0 {
		fmt.Fprintf(w, "The %d slowest tests:\n", len(all))
		for _, t := range all {
			fmt.Fprintf(w, "  %8.2fs  %s  %s\n", t.s, t.k.test, t.k.pkg)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "%d passed, %d failed, %d skipped\n", r.passed, r.fails, r.skipped)
}

func (r *report) hasFailedTest(pkg string) bool {
	for _, k := range r.failed {
		if k.pkg == pkg {
			return true
		}
	}
	return false
}
