package workload

import (
	"container/list"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/procfs"
)

// Process is the owner of a local socket.
type Process struct {
	PID, UID  int32
	Comm, Exe string
	User      string // the user name of UID, or its number where it has none
	Container Container
}

// Defaults applied by NewResolver.
const (
	DefaultProcRoot    = "/proc"
	DefaultCacheSize   = 4096
	DefaultTTL         = 30 * time.Second
	DefaultRescan      = time.Second
	DefaultMaxInodes   = 1 << 18
	maxUserNames       = 1024
	maxNamespaces      = 4096 // network namespaces read in one scan
	protoTCP, protoUDP = 6, 17
)

// Options configure a Resolver.
type Options struct {
	// ProcRoot is where procfs is mounted. "" means DefaultProcRoot.
	ProcRoot string
	// CacheSize bounds the answers kept (owners found, and sockets not
	// found, so that a flow without a local socket costs one search). 0
	// means DefaultCacheSize; the least recently used answer goes first.
	CacheSize int
	// TTL is how long an answer is kept. 0 means DefaultTTL.
	TTL time.Duration
	// Rescan is the least time between two scans of every process's file
	// descriptors, the costly part of a search. 0 means DefaultRescan.
	Rescan time.Duration
	// MaxInodes bounds the socket inode index one scan builds. 0 means
	// DefaultMaxInodes.
	MaxInodes int
}

// ErrNoSocket is returned by Lookup when no local socket matches: the
// flow is forwarded traffic, the socket is in another network namespace,
// or it has closed.
var ErrNoSocket = errors.New("workload: no local socket for the flow")

// ErrNoOwner is returned by Lookup when the socket exists but no process
// readable by the agent holds it (reading other users' /proc/PID/fd needs
// CAP_SYS_PTRACE or CAP_DAC_READ_SEARCH), or the owner exited.
var ErrNoOwner = errors.New("workload: no process found holding the socket")

type sockKey struct {
	proto         uint8
	local, remote netip.AddrPort
}

type answer struct {
	key     sockKey
	proc    Process
	err     error
	expires time.Time
}

// Resolver finds the process that owns a local socket through
// /proc/net/{tcp,udp}{,6} (the socket's inode) and /proc/PID/fd (the
// process holding it). It is safe for concurrent use; lookups are
// serialised, since each may read all of /proc; answers already found are
// read without waiting for one (Cached).
type Resolver struct {
	fs   procfs.FS
	opts Options
	now  func() time.Time

	// cacheMu guards the answers, and is held only briefly, so that
	// Cached never waits for a search; mu serialises the searches and
	// guards what they read and build.
	cacheMu sync.Mutex
	lru     *list.List // of *answer, most recent first
	byKey   map[sockKey]*list.Element

	mu     sync.Mutex
	inodes map[uint64]int32 // socket inode → pid, from the last scan
	// elsewhere holds the sockets of the other network namespaces that are
	// bound to a specific address (a pod's), from the last scan.
	elsewhere map[sockKey]uint64
	lastScan  time.Time
	users     map[int32]string

	lookups   [numResults]atomic.Uint64
	evictions atomic.Uint64
	scans     atomic.Uint64
	truncated atomic.Uint64 // scans that hit MaxInodes
}

// Lookup results, for the metrics.
const (
	resultFound = iota
	resultCached
	resultNoSocket
	resultNoOwner
	resultError
	numResults
)

var resultNames = [numResults]string{"found", "cached", "no_socket", "no_owner", "error"}

// NewResolver returns a Resolver reading the procfs at o.ProcRoot.
func NewResolver(o Options) (*Resolver, error) {
	if o.ProcRoot == "" {
		o.ProcRoot = DefaultProcRoot
	}
	if o.CacheSize <= 0 {
		o.CacheSize = DefaultCacheSize
	}
	if o.TTL <= 0 {
		o.TTL = DefaultTTL
	}
	if o.Rescan <= 0 {
		o.Rescan = DefaultRescan
	}
	if o.MaxInodes <= 0 {
		o.MaxInodes = DefaultMaxInodes
	}
	pfs, err := procfs.NewFS(o.ProcRoot)
	if err != nil {
		return nil, fmt.Errorf("workload: %w", err)
	}
	return &Resolver{fs: pfs, opts: o, now: time.Now, lru: list.New(), byKey: map[sockKey]*list.Element{},
		users: map[int32]string{}}, nil
}

// Lookup returns the process owning the local socket of a flow: proto
// (6 or 17), its local address and port, and the remote ones (which tell
// a server's accepted TCP sockets apart, all on the same local port; the
// zero AddrPort matches any). Answers, failures included, are cached for
// the TTL.
func (r *Resolver) Lookup(proto uint8, local, remote netip.AddrPort) (Process, error) {
	if proto != protoTCP && proto != protoUDP {
		return Process{}, ErrNoSocket
	}
	k := sockKey{proto, unmap(local), unmap(remote)}
	if p, err, ok := r.cached(k); ok {
		r.lookups[resultCached].Add(1)
		return p, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if p, err, ok := r.cached(k); ok { // answered while this one waited
		r.lookups[resultCached].Add(1)
		return p, err
	}
	now := r.now()
	p, err := r.search(k, now)
	switch {
	case err == nil:
		r.lookups[resultFound].Add(1)
	case errors.Is(err, ErrNoSocket):
		r.lookups[resultNoSocket].Add(1)
	case errors.Is(err, ErrNoOwner):
		r.lookups[resultNoOwner].Add(1)
	default:
		r.lookups[resultError].Add(1)
		return p, err // a read error is not cached
	}
	r.cacheMu.Lock()
	defer r.cacheMu.Unlock()
	if e, ok := r.byKey[k]; ok {
		r.lru.Remove(e)
	}
	r.byKey[k] = r.lru.PushFront(&answer{key: k, proc: p, err: err, expires: now.Add(r.opts.TTL)})
	for r.lru.Len() > r.opts.CacheSize {
		old := r.lru.Remove(r.lru.Back()).(*answer)
		delete(r.byKey, old.key)
		r.evictions.Add(1)
	}
	return p, err
}

// Cached returns the answer the cache holds for a socket (see Lookup),
// never reading /proc and never waiting for a lookup in progress: ok is
// false when there is none (not looked up yet, or expired).
func (r *Resolver) Cached(proto uint8, local, remote netip.AddrPort) (p Process, err error, ok bool) {
	return r.cached(sockKey{proto, unmap(local), unmap(remote)})
}

func (r *Resolver) cached(k sockKey) (Process, error, bool) {
	r.cacheMu.Lock()
	defer r.cacheMu.Unlock()
	e, ok := r.byKey[k]
	if !ok {
		return Process{}, nil, false
	}
	a := e.Value.(*answer)
	if !r.now().Before(a.expires) {
		r.lru.Remove(e)
		delete(r.byKey, k)
		return Process{}, nil, false
	}
	r.lru.MoveToFront(e)
	return a.proc, a.err, true
}

func unmap(a netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
}

// search finds the socket's inode, then the process holding it. The
// agent's own network namespace is searched first, then the others (a
// pod's, a container's) as the last scan found them.
func (r *Resolver) search(k sockKey, now time.Time) (Process, error) {
	inode, err := r.inode(k)
	if errors.Is(err, ErrNoSocket) {
		if now.Sub(r.lastScan) >= r.opts.Rescan {
			r.scan(now)
		}
		inode, err = r.inodeElsewhere(k)
	}
	if err != nil {
		return Process{}, err
	}
	pid, ok := r.inodes[inode]
	if !ok && now.Sub(r.lastScan) >= r.opts.Rescan {
		r.scan(now)
		pid, ok = r.inodes[inode]
	}
	if !ok {
		return Process{}, ErrNoOwner
	}
	return r.describe(pid)
}

// inodeElsewhere finds k among the other namespaces' sockets: connected
// to k's remote end, else a listener or unconnected UDP socket on k's local
// address. A socket bound to the wildcard address there is not matched: it
// could be any namespace's.
func (r *Resolver) inodeElsewhere(k sockKey) (uint64, error) {
	if inode, ok := r.elsewhere[k]; ok {
		return inode, nil
	}
	if inode, ok := r.elsewhere[sockKey{proto: k.proto, local: k.local}]; ok {
		return inode, nil
	}
	return 0, ErrNoSocket
}

// inode finds the socket of k in the socket tables. A TCP socket whose
// remote end matches wins over a listener on the same local port; a socket
// bound to the wildcard address matches any local address.
func (r *Resolver) inode(k sockKey) (uint64, error) {
	var best uint64
	bestScore := 0
	for _, table := range tables(r.fs, k.proto) {
		lines, err := table()
		if err != nil {
			return 0, err
		}
		for _, l := range lines {
			if l.Inode == 0 || uint16(l.LocalPort) != k.local.Port() {
				continue
			}
			laddr, remote := ip(l.LocalAddr), netip.AddrPortFrom(ip(l.RemAddr), uint16(l.RemPort))
			score := 0
			switch {
			case laddr == k.local.Addr():
				score = 2
			case laddr.IsUnspecified():
				score = 1
			default:
				continue
			}
			switch {
			case remote == k.remote:
				score += 4
			case remote.Port() == 0 && remote.Addr().IsUnspecified():
				// A listener, or an unconnected UDP socket.
			case k.remote.IsValid():
				continue // connected to someone else
			}
			if score > bestScore {
				best, bestScore = l.Inode, score
			}
		}
	}
	if bestScore == 0 {
		return 0, ErrNoSocket
	}
	return best, nil
}

// tables returns the readers of the socket tables of proto in fs: the
// agent's namespace's (/proc/net) or a process's (/proc/PID/net). (procfs
// points to sock_diag netlink as the faster way, which the issue plans as
// the first path; the files are the fallback, and all this package uses so
// far.)
func tables(fs procfs.FS, proto uint8) [2]func() (procfs.NetIPSocket, error) {
	if proto == protoUDP {
		return [2]func() (procfs.NetIPSocket, error){
			func() (procfs.NetIPSocket, error) { t, err := fs.NetUDP(); return procfs.NetIPSocket(t), err },
			func() (procfs.NetIPSocket, error) { t, err := fs.NetUDP6(); return absent(procfs.NetIPSocket(t), err) },
		}
	}
	return [2]func() (procfs.NetIPSocket, error){
		func() (procfs.NetIPSocket, error) { t, err := fs.NetTCP(); return procfs.NetIPSocket(t), err },
		func() (procfs.NetIPSocket, error) { t, err := fs.NetTCP6(); return absent(procfs.NetIPSocket(t), err) },
	}
}

// absent treats a missing IPv6 table (a kernel without IPv6) as empty.
func absent(t procfs.NetIPSocket, err error) (procfs.NetIPSocket, error) {
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return t, err
}

func ip(b net.IP) netip.Addr {
	a, _ := netip.AddrFromSlice(b)
	return a.Unmap()
}

// scan rebuilds the socket inode index from every process's file
// descriptors, up to MaxInodes sockets, and the index of the sockets of the
// other network namespaces.
func (r *Resolver) scan(now time.Time) {
	r.lastScan = now
	r.scans.Add(1)
	procs, err := r.fs.AllProcs()
	if err != nil {
		return
	}
	r.scanNamespaces(procs)
	r.inodes = make(map[uint64]int32, len(r.inodes))
	for _, p := range procs {
		targets, err := p.FileDescriptorTargets()
		if err != nil {
			continue // exited, or not ours to read
		}
		for _, t := range targets {
			s, ok := strings.CutPrefix(t, "socket:[")
			if !ok {
				continue
			}
			inode, err := strconv.ParseUint(strings.TrimSuffix(s, "]"), 10, 64)
			if err != nil {
				continue
			}
			if len(r.inodes) >= r.opts.MaxInodes {
				r.truncated.Add(1)
				return
			}
			if _, dup := r.inodes[inode]; !dup { // a socket shared after fork: the lowest pid, its parent, wins
				r.inodes[inode] = int32(p.PID)
			}
		}
	}
}

// scanNamespaces reads the socket tables of every network namespace but
// the agent's, through one process in each (/proc/PID/net), up to
// maxNamespaces namespaces and MaxInodes sockets.
func (r *Resolver) scanNamespaces(procs procfs.Procs) {
	r.elsewhere = make(map[sockKey]uint64, len(r.elsewhere))
	own, err := os.Readlink(filepath.Join(r.opts.ProcRoot, "self", "ns", "net"))
	if err != nil {
		return // no namespaces to tell apart
	}
	seen := map[string]bool{own: true}
	for _, p := range procs {
		ns, err := os.Readlink(filepath.Join(r.opts.ProcRoot, strconv.Itoa(p.PID), "ns", "net"))
		if err != nil || seen[ns] {
			continue // exited, a kernel thread, or not ours to read
		}
		if len(seen) > maxNamespaces {
			r.truncated.Add(1)
			return
		}
		seen[ns] = true
		fs, err := procfs.NewFS(filepath.Join(r.opts.ProcRoot, strconv.Itoa(p.PID)))
		if err != nil {
			continue
		}
		for _, proto := range []uint8{protoTCP, protoUDP} {
			for _, table := range tables(fs, proto) {
				lines, err := table()
				if err != nil {
					continue
				}
				for _, l := range lines {
					local := netip.AddrPortFrom(ip(l.LocalAddr), uint16(l.LocalPort))
					if l.Inode == 0 || local.Addr().IsUnspecified() {
						continue
					}
					if len(r.elsewhere) >= r.opts.MaxInodes {
						r.truncated.Add(1)
						return
					}
					remote := netip.AddrPortFrom(ip(l.RemAddr), uint16(l.RemPort))
					if remote.Port() == 0 && remote.Addr().IsUnspecified() {
						remote = netip.AddrPort{} // a listener, or unconnected UDP
					}
					r.elsewhere[sockKey{proto, local, remote}] = l.Inode
				}
			}
		}
	}
}

// describe reads what the flow events say of pid.
func (r *Resolver) describe(pid int32) (Process, error) {
	p, err := r.fs.Proc(int(pid))
	if err != nil {
		return Process{}, ErrNoOwner
	}
	out := Process{PID: pid}
	out.Comm, _ = p.Comm()
	out.Exe, _ = p.Executable()
	if st, err := p.NewStatus(); err == nil {
		out.UID = int32(st.UIDs[0])
		out.User = r.userName(out.UID)
	}
	if cgs, err := p.Cgroups(); err == nil {
		out.Container, _ = FromCgroups(cgs)
	}
	return out, nil
}

// userName returns the name of uid from the user database, cached; the
// number where there is none (a container's user, say).
func (r *Resolver) userName(uid int32) string {
	if n, ok := r.users[uid]; ok {
		return n
	}
	n := strconv.Itoa(int(uid))
	if u, err := user.LookupId(n); err == nil {
		n = u.Username
	}
	if len(r.users) >= maxUserNames {
		clear(r.users)
	}
	r.users[uid] = n
	return n
}
