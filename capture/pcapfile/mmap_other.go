//go:build !(linux || darwin || freebsd || netbsd || openbsd)

package pcapfile

import "os"

// mapFile never maps on this platform: every file is read as a stream.
func mapFile(*os.File, int64) ([]byte, bool) { return nil, false }

func unmapFile([]byte) error { return nil }
