//go:build !linux

package main

import (
	"fmt"
	"os"
)

// main says that jurismon-loadgen needs Linux: it sends through an
// AF_PACKET socket with sendmmsg.
func main() {
	fmt.Fprintln(os.Stderr, "jurismon-loadgen: only Linux is supported (AF_PACKET, sendmmsg)")
	os.Exit(2)
}
