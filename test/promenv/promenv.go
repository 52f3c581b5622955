// Package promenv gives tests a real Prometheus server (Debian's package,
// /usr/bin/prometheus; `make test-deps` installs it) on a free loopback port with its
// own temporary data directory, and an exporter the test controls that serves an
// error counter. Nothing here is a mock: queries run in the real server against real
// scrapes. The first scrape becomes
// visible about 5 s after start, so WaitForTarget polls.
package promenv

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Ports used by tests stay in 36000-36990 (9090 is never used).
const (
	portLow  = 36000
	portHigh = 36990
)

// Listen opens a loopback listener on a free port in the tests' port range.
func Listen(t testing.TB) net.Listener {
	t.Helper()
	l, err := listen()
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func listen() (net.Listener, error) {
	for attempt := 0; attempt < 200; attempt++ {
		var b [2]byte
		_, _ = rand.Read(b[:])
		port := portLow + int(binary.BigEndian.Uint16(b[:]))%(portHigh-portLow+1)
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err == nil {
			return l, nil
		}
	}
	return nil, errors.New("no free port in 36000-36990")
}

// Server is a running Prometheus.
type Server struct {
	// URL is its base address, e.g. http://127.0.0.1:36123.
	URL    string
	cmd    *exec.Cmd
	exited chan error
}

// Binary finds the prometheus executable or fails the test with what to do.
func Binary(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("prometheus"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/bin/prometheus"); err == nil {
		return "/usr/bin/prometheus"
	}
	t.Fatal("prometheus is not installed: run `make test-deps` (apt-get install -y --no-install-recommends prometheus)")
	return ""
}

// Start runs Prometheus scraping targets (host:port) every second as job "app", and
// stops it when the test ends.
func Start(t testing.TB, targets ...string) *Server {
	t.Helper()
	bin := Binary(t)
	dir := t.TempDir()
	quoted := make([]string, len(targets))
	for i, tg := range targets {
		quoted[i] = strconv.Quote(tg)
	}
	cfg := fmt.Sprintf("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: app\n    static_configs:\n      - targets: [%s]\n", strings.Join(quoted, ", "))
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		l, err := listen()
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		_ = l.Close()
		s, err := start(bin, dir, addr)
		if err == nil {
			t.Cleanup(s.stop)
			return s
		}
		lastErr = err
	}
	t.Fatalf("starting prometheus: %v", lastErr)
	return nil
}

func start(bin, dir, addr string) (*Server, error) {
	logf, err := os.Create(filepath.Join(dir, "prometheus-"+strings.ReplaceAll(addr, ":", "_")+".log"))
	if err != nil {
		return nil, err
	}
	defer func() { _ = logf.Close() }()
	cmd := exec.Command(bin,
		"--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data-"+strings.ReplaceAll(addr, ":", "_")),
		"--web.listen-address="+addr,
		"--web.enable-lifecycle",
		"--storage.tsdb.retention.time=1h",
		"--log.level=warn")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	s := &Server{URL: "http://" + addr, cmd: cmd, exited: exited}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			b, _ := os.ReadFile(logf.Name())
			return nil, fmt.Errorf("prometheus exited (%w): %s", err, lastLines(string(b)))
		default:
		}
		resp, err := http.Get(s.URL + "/-/ready")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	if err := <-exited; err != nil {
		return nil, fmt.Errorf("prometheus did not become ready in 20s (stopped: %w)", err)
	}
	return nil, errors.New("prometheus did not become ready in 20s")
}

func (s *Server) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.exited:
		_ = err // a SIGTERM exit status is expected
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		err := <-s.exited
		_ = err
	}
}

func lastLines(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > 5 {
		lines = lines[len(lines)-5:]
	}
	return strings.Join(lines, "\n")
}

// Query runs an instant query through the HTTP API and returns the raw JSON.
func (s *Server) Query(q string) (string, error) {
	resp, err := http.PostForm(s.URL+"/api/v1/query", url.Values{"query": {q}})
	if err != nil {
		return "", err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// WaitForTarget polls until `up{job="app"}` is 1 (the first scrape becomes visible
// about 5 s after start).
func (s *Server) WaitForTarget(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		out, err := s.Query(`up{job="app"} == 1`)
		if err == nil && strings.Contains(out, `"value"`) {
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatal("prometheus did not scrape the exporter within 30s")
}

// Exporter serves app_requests_total{code="200"} and app_requests_total{code="500"},
// counters that grow at rates the test sets.
type Exporter struct {
	// Target is host:port, for a scrape config.
	Target string

	mu     sync.Mutex
	last   time.Time
	ok     float64
	errs   float64
	okRate float64
	errRt  float64
	srv    *http.Server
}

// StartExporter serves the counters on a free port until the test ends.
func StartExporter(t testing.TB) *Exporter {
	t.Helper()
	l := Listen(t)
	e := &Exporter{Target: l.Addr().String(), last: time.Now(), okRate: 100}
	e.srv = &http.Server{Handler: http.HandlerFunc(e.serve), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = e.srv.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = e.srv.Shutdown(ctx)
	})
	return e
}

// SetErrorRate sets how many errors per second the counter grows by from now on.
func (e *Exporter) SetErrorRate(perSecond float64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.advance()
	e.errRt = perSecond
}

func (e *Exporter) advance() {
	now := time.Now()
	dt := now.Sub(e.last).Seconds()
	e.ok += e.okRate * dt
	e.errs += e.errRt * dt
	e.last = now
}

func (e *Exporter) serve(w http.ResponseWriter, _ *http.Request) {
	e.mu.Lock()
	e.advance()
	ok, errs := e.ok, e.errs
	e.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	fmt.Fprintf(w, "# HELP app_requests_total Requests served.\n# TYPE app_requests_total counter\n")
	fmt.Fprintf(w, "app_requests_total{code=\"200\"} %g\napp_requests_total{code=\"500\"} %g\n", ok, errs)
}
