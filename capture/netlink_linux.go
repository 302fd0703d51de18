package capture

import (
	"context"
	"errors"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// NotifyNetlink calls notify (from one goroutine) shortly after each burst
// of the kernel's rtnetlink notifications in groups, until ctx is done or
// the subscription fails; the returned func waits for that goroutine to end.
// Without a subscription (not permitted, not pollable) it does nothing: the
// callers also poll.
func NotifyNetlink(ctx context.Context, groups uint32, notify func()) (wait func()) {
	// The socket is non-blocking and waited on in the runtime's network
	// poller: a reader blocked in recvfrom(2) would keep a thread in a
	// system call, and every return from one wakes the runtime's sysmon
	// thread into a millisecond of 20µs naps (see ringSocket).
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_ROUTE)
	if err != nil {
		return func() {}
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: groups}); err != nil {
		unix.Close(fd)
		return func() {}
	}
	f := os.NewFile(uintptr(fd), "netlink")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return func() {}
	}
	readerDone := make(chan struct{})
	// Closing the file ends the reader's wait.
	stop := context.AfterFunc(ctx, func() { f.Close() })
	go func() {
		defer close(readerDone)
		buf := make([]byte, 64<<10)
		for {
			var rerr error
			if err := rc.Read(func(fd uintptr) bool {
				_, _, rerr = unix.Recvfrom(int(fd), buf, 0)
				return !errors.Is(rerr, unix.EAGAIN) && !errors.Is(rerr, unix.EINTR)
			}); err != nil {
				return // closed; or not pollable: fall back to polling
			}
			if rerr != nil && !errors.Is(rerr, unix.ENOBUFS) { // ENOBUFS: messages lost, notify anyway
				return // fall back to polling
			}
			// Changes come in bursts: let the burst finish so the
			// caller sees the settled state once.
			time.Sleep(20 * time.Millisecond)
			notify()
		}
	}()
	return func() { stop(); f.Close(); <-readerDone }
}
