//go:build linux

package pagecache

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// resident counts the pages of path that are in the page cache (mincore over a
// mapping of the file; mapping alone reads nothing).
func resident(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	m, err := unix.Mmap(int(f.Fd()), 0, int(st.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = unix.Munmap(m) }()
	page := os.Getpagesize()
	vec := make([]byte, (len(m)+page-1)/page)
	if _, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&vec[0]))); errno != 0 {
		t.Fatal(errno)
	}
	n := 0
	for _, v := range vec {
		n += int(v & 1)
	}
	return n
}

func TestEvictDropsAFileFromThePageCache(t *testing.T) {
	path := filepath.Join(t.TempDir(), "binary")
	if err := os.WriteFile(path, bytes.Repeat([]byte("rotor"), 1<<18), 0o644); err != nil {
		t.Fatal(err)
	}
	var fs unix.Statfs_t
	if err := unix.Statfs(path, &fs); err != nil {
		t.Fatal(err)
	}
	if fs.Type == unix.TMPFS_MAGIC {
		t.Skip("the temporary directory is a tmpfs: its pages are the file, and cannot be evicted")
	}
	if before := resident(t, path); before == 0 {
		t.Fatal("a file just written has no page in the page cache: nothing to prove eviction with")
	}
	if err := Evict(path); err != nil {
		t.Fatal(err)
	}
	if after := resident(t, path); after != 0 {
		t.Fatalf("%d pages still cached after Evict", after)
	}
}

func TestEvictNamesTheFileItCannotOpen(t *testing.T) {
	err := Evict(filepath.Join(t.TempDir(), "missing"))
	if err == nil || !os.IsNotExist(err) {
		t.Fatalf("Evict of a missing file: %v", err)
	}
}
