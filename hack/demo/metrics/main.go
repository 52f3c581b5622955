// Command metrics gives `make demo` a real Prometheus to gate production on: Debian's
// prometheus binary (as test/promenv runs it) scraping, every second, a tiny exporter of
// the demo's own that serves app_requests_total{service="auth",code="200"|"500"}: 100
// requests a second, none of them errors. Both listen on loopback ports the kernel
// chooses (never a fixed one). Once Prometheus has scraped the exporter, it prints
// Prometheus' base URL on stdout; it stops Prometheus when it gets SIGTERM or SIGINT, or
// when the process --owner-pid names exits.
//
//	metrics --dir DIR [--owner-pid PID]
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "metrics:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("metrics", flag.ContinueOnError)
	dir := fs.String("dir", "", "a directory of its own for Prometheus' configuration, data and log (required)")
	owner := fs.Int("owner-pid", 0, "stop when this process exits")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" {
		return errors.New("--dir is required")
	}
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		return err
	}
	if *owner > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		defer cancel()
		go watchOwner(ctx, *owner, cancel)
	}

	exp, err := serveExporter()
	if err != nil {
		return err
	}
	defer exp.Close()

	bin, err := exec.LookPath("prometheus")
	if err != nil {
		return errors.New("prometheus is not installed: run `make test-deps` (apt-get install -y --no-install-recommends prometheus)")
	}
	cfg := fmt.Sprintf("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: app\n    static_configs:\n      - targets: [%q]\n", exp.Addr().String())
	if err := os.WriteFile(filepath.Join(*dir, "prometheus.yml"), []byte(cfg), 0o600); err != nil {
		return err
	}
	prom, err := startPrometheus(ctx, bin, *dir)
	if err != nil {
		return err
	}
	defer prom.stop()

	// The first scrape becomes visible about 5 s after the start (target discovery).
	if err := waitFor(ctx, func() bool { return prom.has(ctx, `up{job="app"} == 1`) }); err != nil {
		return fmt.Errorf("prometheus did not scrape the exporter: %w (log: %s)", err, prom.log)
	}
	fmt.Println(prom.url)
	<-ctx.Done()
	return nil
}

// watchOwner cancels when the owner process no longer exists.
func watchOwner(ctx context.Context, pid int, cancel context.CancelFunc) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
				cancel()
				return
			}
		}
	}
}

// serveExporter serves the request counters on a loopback port the kernel chooses.
func serveExporter() (net.Listener, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	start := time.Now()
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		ok := 100 * time.Since(start).Seconds()
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprintf(w, "# HELP app_requests_total Requests served.\n# TYPE app_requests_total counter\n")
		fmt.Fprintf(w, "app_requests_total{service=\"auth\",code=\"200\"} %g\napp_requests_total{service=\"auth\",code=\"500\"} 0\n", ok)
	})}
	go func() { _ = srv.Serve(l) }()
	return l, nil
}

type prometheus struct {
	url    string
	log    string
	cmd    *exec.Cmd
	exited chan struct{}
}

var listeningOn = regexp.MustCompile(`msg="Listening on" address=(\S+)`)

// startPrometheus runs Prometheus on 127.0.0.1:0 and returns once it said where it
// listens (its log line is the only place that tells) and is ready.
func startPrometheus(ctx context.Context, bin, dir string) (*prometheus, error) {
	logPath := filepath.Join(dir, "prometheus.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin,
		"--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address=127.0.0.1:0",
		"--storage.tsdb.retention.time=1h",
		"--log.level=info")
	cmd.Stdout = logf
	pipe, err := cmd.StderrPipe()
	if err != nil {
		_ = logf.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		return nil, err
	}
	p := &prometheus{log: logPath, cmd: cmd, exited: make(chan struct{})}
	addr := make(chan string, 1)
	var once sync.Once
	go func() {
		defer close(p.exited)
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			fmt.Fprintln(logf, sc.Text())
			if m := listeningOn.FindStringSubmatch(sc.Text()); m != nil {
				once.Do(func() { addr <- m[1] })
			}
		}
		_, _ = io.Copy(logf, pipe)
		_ = cmd.Wait()
		_ = logf.Close()
	}()
	select {
	case a := <-addr:
		p.url = "http://" + a
	case <-p.exited:
		return nil, fmt.Errorf("prometheus exited at start; see %s", logPath)
	case <-ctx.Done():
		p.stop()
		return nil, ctx.Err()
	}
	if err := waitFor(ctx, p.ready); err != nil {
		p.stop()
		return nil, fmt.Errorf("prometheus at %s did not become ready: %w", p.url, err)
	}
	return p, nil
}

func (p *prometheus) ready() bool {
	resp, err := http.Get(p.url + "/-/ready")
	if err != nil {
		return false
	}
	_ = resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// has says whether an instant query returns a value.
func (p *prometheus) has(ctx context.Context, query string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url+"/api/v1/query", strings.NewReader(url.Values{"query": {query}}.Encode()))
	if err != nil {
		return false
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	return err == nil && strings.Contains(string(b), `"value"`)
}

// stop ends Prometheus by the PID of the process started (SIGTERM: it exits in
// milliseconds).
func (p *prometheus) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// waitFor asks again, every quarter of a second, until ok or the context ends
// (Prometheus has no watch).
func waitFor(ctx context.Context, ok func() bool) error {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for !ok() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}
