//go:build linux && !(pcap && cgo)

package capture

import (
	"errors"
	"fmt"
	"time"

	"github.com/gopacket/gopacket/afpacket"
	"golang.org/x/net/bpf"
)

// afpacketSocket reads the same TPACKET_V3 ring through gopacket/afpacket
// (the "afpacket" engine). It waits for blocks in a blocking poll(2), which
// costs more CPU in a Go program than ringSocket's wait (see there), and
// attaches the kernel filter only after the socket is bound, so the worker
// filters the first frames again in user space.
type afpacketSocket struct {
	tp *afpacket.TPacket
}

func openAFPacket(iface string, dgram bool, blockSize, numBlocks, frameSize int, blockTimeout, pollTimeout time.Duration) (*afpacketSocket, error) {
	socktype := afpacket.SocketRaw
	if dgram {
		socktype = afpacket.SocketDgram
	}
	tp, err := afpacket.NewTPacket(
		afpacket.OptInterface(iface),
		afpacket.TPacketVersion3,
		socktype,
		afpacket.OptBlockSize(blockSize),
		afpacket.OptNumBlocks(numBlocks),
		afpacket.OptFrameSize(frameSize),
		afpacket.OptBlockTimeout(blockTimeout),
		afpacket.OptPollTimeout(pollTimeout),
	)
	if err != nil {
		return nil, err
	}
	return &afpacketSocket{tp: tp}, nil
}

// next returns the next frame. afpacket's poll timeout was set at open.
func (s *afpacketSocket) next(time.Duration) (data []byte, ts int64, wireLen uint32, ifindex int32, err error) {
	data, ci, err := s.tp.ZeroCopyReadPacketData()
	switch {
	case err == nil:
		return data, ci.Timestamp.UnixNano(), uint32(ci.Length), int32(ci.InterfaceIndex), nil
	case errors.Is(err, afpacket.ErrTimeout):
		return nil, 0, 0, 0, errTimeout
	case errors.Is(err, afpacket.ErrPoll):
		// POLLERR: the kernel reports ENETDOWN when the device goes
		// down or is unregistered.
		return nil, 0, 0, 0, errIfaceGone
	}
	return nil, 0, 0, 0, err
}

func (s *afpacketSocket) setBPF(prog []bpf.RawInstruction) error {
	if err := s.tp.SetBPF(prog); err != nil {
		return fmt.Errorf("attaching filter: %w", err)
	}
	return nil
}

func (s *afpacketSocket) setFanout(id uint16) error {
	return s.tp.SetFanout(afpacket.FanoutHashWithDefrag, id)
}

func (s *afpacketSocket) setPromiscuous(int) error { return s.tp.SetPromiscuous(true) }

func (s *afpacketSocket) stats() (drops, freezes uint64, err error) {
	// The kernel resets its counters on every read; afpacket accumulates
	// them, so these are totals since the socket was opened.
	_, v3, err := s.tp.SocketStats()
	return uint64(v3.Drops()), uint64(v3.QueueFreezes()), err
}

// filtersEarly: the filter is attached after afpacket bound the socket.
func (s *afpacketSocket) filtersEarly() bool { return false }

func (s *afpacketSocket) close() { s.tp.Close() }
