package cli

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

// noEchoLine is standard input when it is a terminal: the value is typed by hand, so
// echo is switched off before the prompt, one line is read (without its newline), and
// the terminal is restored. Close restores it too, for a read the context abandoned.
type noEchoLine struct {
	in     io.Reader
	prompt io.Writer
	key    string

	once    sync.Once
	buf     *bytes.Reader
	err     error
	mu      sync.Mutex
	restore func()
}

func (r *noEchoLine) Read(p []byte) (int, error) {
	r.once.Do(r.readLine)
	if r.err != nil {
		return 0, r.err
	}
	return r.buf.Read(p)
}

func (r *noEchoLine) readLine() {
	if f, ok := r.in.(*os.File); ok {
		restore, err := echoOff(int(f.Fd()))
		if err != nil {
			r.err = fmt.Errorf("cannot switch terminal echo off (%w); pipe the value instead", err)
			return
		}
		r.mu.Lock()
		r.restore = restore
		r.mu.Unlock()
		defer func() { _ = r.Close() }()
	}
	fmt.Fprintf(r.prompt, "Value for key %q (not echoed; one line, then Enter): ", r.key)
	line, err := bufio.NewReader(r.in).ReadBytes('\n')
	fmt.Fprintln(r.prompt)
	if err != nil && !errors.Is(err, io.EOF) {
		r.err = err
		return
	}
	r.buf = bytes.NewReader(bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r")))
}

// Close restores the terminal if the read left it without echo.
func (r *noEchoLine) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.restore != nil {
		r.restore()
		r.restore = nil
	}
	return nil
}
