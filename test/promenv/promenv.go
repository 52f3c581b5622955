// Package promenv gives tests a real Prometheus server (Debian's package,
// /usr/bin/prometheus; `make test-deps` installs it) on a loopback port the kernel
// chooses, with its own temporary data directory, and an exporter the test controls
// that serves an error counter. Nothing here is a mock: queries run in the real server
// against real scrapes. The first scrape becomes visible about 5 s after start, so
// WaitForTarget waits for it (Prometheus has no watch: it asks again, less often as time
// goes by, until the test's own deadline).
package promenv

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rotor-project/rotor/test/waitfor"
)

// Listen opens a loopback listener on a port the kernel chooses, held open until the
// caller closes it: no other program can take it in between.
func Listen(t testing.TB) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// Server is a running Prometheus.
type Server struct {
	// URL is its base address, e.g. http://127.0.0.1:41234.
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
	s, err := start(waitfor.Context(t), bin, dir)
	if err != nil {
		t.Fatalf("starting prometheus: %v", err)
	}
	t.Cleanup(s.stop)
	return s
}

// listeningOn finds the address in Prometheus' log line `msg="Listening on" address=…`.
var listeningOn = regexp.MustCompile(`msg="Listening on" address=(\S+)`)

// start runs Prometheus on 127.0.0.1:0 (the kernel chooses a free port; the only place
// Prometheus tells which is its log line) and returns once it is ready.
func start(ctx context.Context, bin, dir string) (*Server, error) {
	logf, err := os.Create(filepath.Join(dir, "prometheus.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin,
		"--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address=127.0.0.1:0",
		"--web.enable-lifecycle",
		"--storage.tsdb.retention.time=1h",
		"--log.level=info")
	dieWithParent(cmd)
	pipe, err := cmd.StderrPipe()
	if err != nil {
		_ = logf.Close()
		return nil, err
	}
	cmd.Stdout = logf
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		return nil, err
	}
	addr := make(chan string, 1)
	logged := make(chan struct{})
	go func() { // copy the log to its file, and pick the address out of it
		defer close(logged)
		defer logf.Close()
		sc := bufio.NewScanner(pipe)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(logf, line)
			if m := listeningOn.FindStringSubmatch(line); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
		_, _ = io.Copy(logf, pipe)
	}()
	exited := make(chan error, 1)
	go func() {
		<-logged // Wait closes the pipe: read it to the end first
		exited <- cmd.Wait()
	}()
	s := &Server{cmd: cmd, exited: exited}
	fail := func(err error) (*Server, error) {
		_ = cmd.Process.Kill()
		if err := <-exited; err != nil {
			_ = err // killed: its exit status says nothing more
		}
		b, _ := os.ReadFile(logf.Name())
		return nil, fmt.Errorf("%w; its log ends:\n%s", err, lastLines(string(b)))
	}
	select {
	case a := <-addr:
		s.URL = "http://" + a
	case err := <-exited:
		exited <- err
		return fail(fmt.Errorf("prometheus exited at start (%w)", err))
	case <-ctx.Done():
		return fail(fmt.Errorf("prometheus did not say where it listens before the test's deadline"))
	}
	err = waitfor.PollContext(ctx, func(ctx context.Context) (bool, error) {
		select {
		case err := <-exited:
			exited <- err
			return false, fmt.Errorf("prometheus exited (%w)", err)
		default:
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/-/ready", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false, nil
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
	if err != nil {
		return fail(fmt.Errorf("prometheus at %s did not become ready: %w", s.URL, err))
	}
	return s, nil
}

func (s *Server) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.exited:
		_ = err // a SIGTERM exit status is expected
	case <-time.After(30 * time.Second): // it exits in milliseconds; never hang a cleanup
		_ = s.cmd.Process.Kill()
		if err := <-s.exited; err != nil {
			_ = err // killed
		}
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

// WaitForTarget waits until `up{job="app"}` is 1 (the first scrape becomes visible
// about 5 s after start).
func (s *Server) WaitForTarget(t testing.TB) {
	t.Helper()
	s.WaitForQuery(t, "prometheus to scrape the exporter", `up{job="app"} == 1`)
}

// WaitForQuery waits until an instant query returns a value.
func (s *Server) WaitForQuery(t testing.TB, what, query string) {
	t.Helper()
	waitfor.Poll(t, what, func(context.Context) (bool, error) {
		out, err := s.Query(query)
		return err == nil && strings.Contains(out, `"value"`), nil
	})
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
