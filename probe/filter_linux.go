//go:build linux

package probe

import (
	"fmt"
	"unsafe"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// tcpReplyFilter is a classic BPF program for a raw TCP socket that keeps
// only what a TCP trace waits for (SYN-ACK and RST) and drops the rest
// before it is copied to the socket: without it, a raw IPPROTO_TCP socket
// receives a copy of every TCP segment the host gets. An IPv4 raw socket
// sees the IP header first; an IPv6 one starts at the TCP header.
func tcpReplyFilter(v6 bool) []bpf.Instruction {
	const (
		flags  = 13 // offset of the flags byte in the TCP header
		rst    = 0x04
		synAck = 0x12
	)
	var load []bpf.Instruction
	if v6 {
		load = []bpf.Instruction{bpf.LoadAbsolute{Off: flags, Size: 1}}
	} else {
		load = []bpf.Instruction{
			bpf.LoadMemShift{Off: 0}, // X = IPv4 header length
			bpf.LoadIndirect{Off: flags, Size: 1},
		}
	}
	return append(load,
		bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: rst, SkipTrue: 2},
		bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: synAck},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: synAck, SkipFalse: 1},
		bpf.RetConstant{Val: 0xffff},
		bpf.RetConstant{Val: 0},
	)
}

// attachFilter attaches a classic BPF program to a socket.
func attachFilter(fd int, prog []bpf.Instruction) error {
	raw, err := bpf.Assemble(prog)
	if err != nil {
		return err
	}
	fprog := unix.SockFprog{
		Len:    uint16(len(raw)),
		Filter: (*unix.SockFilter)(unsafe.Pointer(&raw[0])),
	}
	if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &fprog); err != nil {
		return fmt.Errorf("probe: attaching a socket filter: %w", err)
	}
	return nil
}
