//go:build linux || darwin || freebsd || netbsd || openbsd

package pcapfile

import (
	"math"
	"os"

	"golang.org/x/sys/unix"
)

// mapFile maps size bytes of f read-only. It reports false when the file
// cannot be mapped (an empty file, a file system without mmap support), in
// which case the caller reads it as a stream instead.
func mapFile(f *os.File, size int64) ([]byte, bool) {
	if size <= 0 || size > math.MaxInt {
		return nil, false
	}
	data, err := unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, false
	}
	// The file is read once from start to end: ask for aggressive
	// read-ahead. The advice is only a hint, so its failure is harmless.
	_ = unix.Madvise(data, unix.MADV_SEQUENTIAL)
	return data, true
}

func unmapFile(data []byte) error {
	return unix.Munmap(data)
}
