//go:build !linux

package pagecache

// Evict does nothing where the kernel offers no POSIX_FADV_DONTNEED through x/sys.
func Evict(...string) error { return nil }
