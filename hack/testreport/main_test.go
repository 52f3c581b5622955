package main

import (
	"bytes"
	"strings"
	"testing"
)

const stream = `{"Action":"run","Package":"p","Test":"TestFast"}
{"Action":"output","Package":"p","Test":"TestFast","Output":"=== RUN   TestFast\n"}
{"Action":"output","Package":"p","Test":"TestFast","Output":"chatter of a passing test\n"}
{"Action":"pass","Package":"p","Test":"TestFast","Elapsed":0.5}
{"Action":"output","Package":"p","Test":"TestSlow","Output":"    slow_test.go:9: the reason it failed\n"}
{"Action":"output","Package":"p","Test":"TestSlow/sub","Output":"    slow_test.go:12: a subtest's reason\n"}
{"Action":"fail","Package":"p","Test":"TestSlow/sub","Elapsed":1}
{"Action":"fail","Package":"p","Test":"TestSlow","Elapsed":12.25}
{"Action":"skip","Package":"p","Test":"TestSkipped","Elapsed":0}
{"Action":"output","Package":"p","Output":"FAIL\n"}
{"Action":"output","Package":"p","Output":"FAIL\tp\t13.000s\n"}
{"Action":"fail","Package":"p","Elapsed":13}
{"Action":"output","Package":"q","Test":"TestHangs","Output":"panic: test timed out after 10m0s\n"}
{"Action":"fail","Package":"q","Elapsed":600}
vet: something printed as it is
`

func TestTheReportShowsFailuresTheSlowestTestsAndCounts(t *testing.T) {
	var out bytes.Buffer
	r := &report{out: &out, output: map[key]*strings.Builder{}, elapsed: map[key]float64{}}
	if err := r.read(strings.NewReader(stream)); err != nil {
		t.Fatal(err)
	}
	r.summary(1)
	got := out.String()
	for _, want := range []string{
		"slow_test.go:9: the reason it failed", "slow_test.go:12: a subtest's reason", "FAIL\tp\t13.000s",
		"--- TestHangs did not finish; its output:\npanic: test timed out",
		"Failed tests:\n  TestSlow/sub  p\n  TestSlow  p\n",
		"Package q failed outside any test",
		"The 1 slowest tests:\n     12.25s  TestSlow  p\n",
		"vet: something printed as it is",
		"\n1 passed, 2 failed, 1 skipped\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the report lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "chatter of a passing test") || strings.Contains(got, "=== RUN") {
		t.Errorf("the report shows a passing test's output:\n%s", got)
	}
}
