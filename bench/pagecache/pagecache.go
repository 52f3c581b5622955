//go:build linux

// Package pagecache evicts files from the kernel's page cache, so that a benchmark
// measures a binary's resident pages as a normal start finds them, not as the build
// that has just written the file left them. On Linux 6.x a file written by `go build`
// can stay cached in large folios, and every page fault in the binary then maps a
// whole folio: the same rotor binary started at 77 MB resident right after its build
// and at 45 MB once read back from disk (bench/README.md). Those pages are clean and
// shared, but ru_maxrss and VmRSS count them.
package pagecache

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Evict writes back and asks the kernel to drop the cached pages of each file
// (fdatasync, then POSIX_FADV_DONTNEED); the next reader reads them back at the usual
// granularity. Pages mapped by a running process stay.
func Evict(paths ...string) error {
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		// Dirty pages (a build that has just written the file) are not dropped: write
		// them back first.
		err = unix.Fdatasync(int(f.Fd()))
		if err == nil {
			err = unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
		}
		_ = f.Close()
		if err != nil {
			return fmt.Errorf("evicting %s from the page cache: %w", p, err)
		}
	}
	return nil
}
