package events

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jurismon/jurismon/flow"
	"github.com/jurismon/jurismon/geo"
	"github.com/jurismon/jurismon/policy"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// clock is a settable time source, so rate-limit tests never sleep.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// newTestLog opens a log on the clock, closed at the end of the test.
func newTestLog(t testing.TB, opts Options, c *clock) *Log {
	t.Helper()
	if c == nil {
		c = newClock()
	}
	opts.now = c.now
	l, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

var (
	locCN = &geo.Location{Class: geo.ClassPublic, Country: "CN", RegisteredCountry: "CN", Continent: "AS",
		ASN: 64500, ASOrg: `Example "Backbone" & Co`, Network: netip.MustParsePrefix("203.0.113.0/24")}
	locRU = &geo.Location{Class: geo.ClassPublic, Country: "DE", RegisteredCountry: "RU", Continent: "EU",
		ASN: 64501, ASOrg: "Пример Телеком", Network: netip.MustParsePrefix("2001:db8:ff::/48")}
	// 64:ff9b::c633:6401 located by the 198.51.100.1 it embeds.
	locNAT64 = &geo.Location{Class: geo.ClassPublic, Country: "US", RegisteredCountry: "US", Continent: "NA",
		ASN: 64502, ASOrg: "Example Networks Inc", Network: netip.MustParsePrefix("64:ff9b::c633:6400/120"), Embedded: geo.EmbedNAT64}
	locUnknown = &geo.Location{Class: geo.ClassPublic, Country: geo.Unknown, RegisteredCountry: geo.Unknown,
		Continent: geo.Unknown, ASN: 64502, ASOrg: geo.Unknown}
)

// sampleEvents covers each protocol name, both address families, a live
// and an ended flow, a missing location and strings that JSON must escape.
func sampleEvents() []flow.Event {
	t0 := time.Date(2025, 3, 1, 11, 58, 0, 123456789, time.UTC).UnixNano()
	return []flow.Event{{
		First: t0, Last: t0 + int64(90*time.Second),
		Local:  netip.MustParseAddrPort("192.0.2.10:51514"),
		Remote: netip.MustParseAddrPort("203.0.113.7:443"),
		Proto:  6, BytesTo: 1520, BytesFrom: 48200, PacketsTo: 12, PacketsFrom: 40,
		Location: locCN,
		Verdict:  policy.Verdict{Jurisdiction: "restricted", MatchedBy: policy.MatchedCountry},
		Ended:    true,
	}, {
		First: t0, Last: t0 + 1,
		Local:  netip.MustParseAddrPort("[2001:db8::10]:5353"),
		Remote: netip.MustParseAddrPort("[2001:db8:ff::53]:53"),
		Proto:  17, BytesTo: 80, BytesFrom: 0, PacketsTo: 1, PacketsFrom: 0,
		Location: locRU,
		Verdict:  policy.Verdict{Jurisdiction: "sanctioned", MatchedBy: policy.MatchedRegisteredCountry},
	}, {
		First: t0, Last: t0,
		Local:  netip.AddrPortFrom(netip.MustParseAddr("192.0.2.10"), 0),
		Remote: netip.AddrPortFrom(netip.MustParseAddr("198.51.100.1"), 0),
		Proto:  1, BytesTo: 84, PacketsTo: 1,
		Location: locUnknown,
		Verdict:  policy.Verdict{Jurisdiction: "restricted", MatchedBy: policy.MatchedASN},
		Ended:    true,
	}, {
		First: t0, Last: t0,
		Local:  netip.AddrPortFrom(netip.MustParseAddr("2001:db8::10"), 0),
		Remote: netip.AddrPortFrom(netip.MustParseAddr("2001:db8:ff::1"), 0),
		Proto:  58, BytesFrom: 104, PacketsFrom: 1,
		Location: locRU,
		Verdict:  policy.Verdict{Jurisdiction: "sanctioned", MatchedBy: policy.MatchedASOrg},
		Ended:    true,
	}, {
		// SCTP has ports in the key but no name here; no location at all.
		First: t0, Last: t0,
		Local:  netip.MustParseAddrPort("192.0.2.10:2905"),
		Remote: netip.MustParseAddrPort("203.0.113.9:2905"),
		Proto:  132, BytesTo: 100, PacketsTo: 1,
		Verdict: policy.Verdict{Jurisdiction: "restricted", MatchedBy: policy.MatchedCountry},
		Ended:   true,
	}, {
		// A NAT64 address says which IPv4 address located it.
		First: t0, Last: t0,
		Local:  netip.MustParseAddrPort("[2001:db8::10]:40000"),
		Remote: netip.MustParseAddrPort("[64:ff9b::c633:6401]:443"),
		Proto:  6, BytesTo: 60, PacketsTo: 1,
		Location: locNAT64,
		Verdict:  policy.Verdict{Jurisdiction: "restricted", MatchedBy: policy.MatchedCountry},
		Ended:    true,
	}}
}

// numbered is a TCP flow whose BytesTo is n: every line has the same
// length for 1000 <= n < 10000, and its position can be read back.
func numbered(n uint64) *flow.Event {
	ev := sampleEvents()[0]
	ev.BytesTo = n
	return &ev
}

func readLines(t *testing.T, path string) []Event {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []Event
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("%s: line %d: %v", path, len(out)+1, err)
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestGolden(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flagged.jsonl")
	c := newClock()
	l := newTestLog(t, Options{Path: path}, c)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go l.Run(ctx)
	evs := sampleEvents()
	for i := range evs {
		l.Observe(&evs[i])
		// Observe must copy: the accountant reuses its event.
		evs[i] = flow.Event{}
		c.add(time.Second)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "events.jsonl")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("event file differs from %s (run with -update after checking):\ngot:\n%s\nwant:\n%s", golden, got, want)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := st.Mode().Perm(); perm&^0o640 != 0 {
		t.Errorf("file mode %v, want at most 0640", perm)
	}
	// The API holds the same events, newest first.
	lines := readLines(t, path)
	recent := l.Recent(0)
	if len(recent) != len(lines) {
		t.Fatalf("Recent(0) has %d events, file has %d", len(recent), len(lines))
	}
	for i := range lines {
		if r := recent[len(recent)-1-i]; !r.Time.Equal(lines[i].Time) || r.Remote != lines[i].Remote {
			t.Errorf("Recent[%d] = %+v, want %+v", len(recent)-1-i, r, lines[i])
		}
	}
}

func TestProtocolName(t *testing.T) {
	for _, tc := range []struct {
		proto uint8
		want  string
	}{{1, "icmp"}, {6, "tcp"}, {17, "udp"}, {58, "icmpv6"}, {0, "0"}, {132, "132"}, {255, "255"}} {
		if got := ProtocolName(tc.proto); got != tc.want {
			t.Errorf("ProtocolName(%d) = %q, want %q", tc.proto, got, tc.want)
		}
	}
}

func TestRotation(t *testing.T) {
	lineLen := func(t *testing.T) int64 {
		b, err := json.Marshal(FromFlow(numbered(1000), newClock().now()))
		if err != nil {
			t.Fatal(err)
		}
		return int64(len(b)) + 1 // newline
	}(t)
	for _, tc := range []struct {
		name         string
		maxFiles     int
		perFile      int64 // whole lines that fit in MaxSize
		existing     int   // lines already in the file when it is opened
		events       int
		wantRotation uint64
	}{
		// Lines 1-3 fill the file; 4, 7, 10, 13, 16 and 19 each start a new one.
		{name: "oldest removed", maxFiles: 2, perFile: 3, events: 20, wantRotation: 6},
		{name: "fewer than max files", maxFiles: 5, perFile: 4, events: 10, wantRotation: 2},
		{name: "exactly full", maxFiles: 3, perFile: 5, events: 5, wantRotation: 0},
		{name: "one line a file", maxFiles: 1, perFile: 1, events: 4, wantRotation: 3},
		// The size of a file left from a previous run counts: its 2 lines
		// and this run's first line fill it, the second and fifth rotate.
		{name: "appends to existing file", maxFiles: 2, perFile: 3, existing: 2, events: 5, wantRotation: 2},
		{name: "existing file rotated away", maxFiles: 1, perFile: 3, existing: 2, events: 8, wantRotation: 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "flagged.jsonl")
			// Every numbered line: the pre-existing ones first.
			var all []uint64
			if tc.existing > 0 {
				var pre bytes.Buffer
				for i := range tc.existing {
					n := uint64(9000 + i)
					b, _ := json.Marshal(FromFlow(numbered(n), newClock().now()))
					pre.Write(append(b, '\n'))
					all = append(all, n)
				}
				if err := os.WriteFile(path, pre.Bytes(), 0o640); err != nil {
					t.Fatal(err)
				}
			}
			l := newTestLog(t, Options{Path: path, MaxSize: tc.perFile*lineLen + lineLen/2, MaxFiles: tc.maxFiles}, nil)
			for i := range tc.events {
				n := uint64(1000 + i)
				l.Observe(numbered(n))
				all = append(all, n)
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			if got := l.rotations.Load(); got != tc.wantRotation {
				t.Errorf("rotations = %d, want %d", got, tc.wantRotation)
			}
			// Read back the kept files oldest first: path.N ... path.1, path.
			var kept []uint64
			for i := tc.maxFiles; i >= 0; i-- {
				p := path
				if i > 0 {
					p = fmt.Sprintf("%s.%d", path, i)
				}
				if _, err := os.Stat(p); os.IsNotExist(err) && uint64(i) > tc.wantRotation {
					continue // not rotated that far yet
				}
				lines := readLines(t, p)
				if int64(len(lines)) > tc.perFile {
					t.Errorf("%s has %d lines, more than the %d that fit", p, len(lines), tc.perFile)
				}
				if st, err := os.Stat(p); err == nil && st.Size() > tc.perFile*lineLen+lineLen/2 {
					t.Errorf("%s is %d bytes, over MaxSize", p, st.Size())
				}
				for _, e := range lines {
					kept = append(kept, e.BytesTo)
				}
			}
			if _, err := os.Stat(fmt.Sprintf("%s.%d", path, tc.maxFiles+1)); !os.IsNotExist(err) {
				t.Errorf("%s.%d exists, want only %d rotated files", path, tc.maxFiles+1, tc.maxFiles)
			}
			// What is kept is exactly the newest lines, in order.
			keptFiles := min(int(tc.wantRotation), tc.maxFiles)
			wantKept := len(all)
			if tc.wantRotation > uint64(tc.maxFiles) {
				wantKept = len(all) - (int(tc.wantRotation)-keptFiles)*int(tc.perFile)
			}
			if len(kept) != wantKept {
				t.Fatalf("kept %d lines %v, want the last %d of %v", len(kept), kept, wantKept, all)
			}
			for i, n := range kept {
				if want := all[len(all)-wantKept+i]; n != want {
					t.Errorf("kept line %d is event %d, want %d (kept %v)", i, n, want, kept)
				}
			}
		})
	}
}

func TestRateLimit(t *testing.T) {
	type step struct {
		advance  time.Duration
		observe  int
		accepted int
	}
	for _, tc := range []struct {
		name  string
		rate  float64
		burst int
		steps []step
	}{{
		// 4 tokens a second: a quarter second is exactly one token.
		name: "bucket", rate: 4, burst: 3,
		steps: []step{
			{0, 5, 3},                                    // the burst, then empty
			{250 * time.Millisecond, 2, 1},               // one token back
			{500 * time.Millisecond, 3, 2},               // two more
			{10 * time.Second, 5, 3},                     // refills only up to the burst
			{-5 * time.Second, 1, 0},                     // a clock stepping back mints nothing
			{5*time.Second + 250*time.Millisecond, 2, 1}, // and does not stall the bucket
		},
	}, {
		name: "disabled", rate: -1, burst: 1,
		steps: []step{{0, 50, 50}, {time.Nanosecond, 50, 50}},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClock()
			l := newTestLog(t, Options{RatePerSecond: tc.rate, Burst: tc.burst, QueueSize: 1000}, c)
			var wantAccepted, wantDropped int
			for i, s := range tc.steps {
				c.add(s.advance)
				for range s.observe {
					l.Observe(numbered(1000))
				}
				wantAccepted += s.accepted
				wantDropped += s.observe - s.accepted
				if got := len(l.queue); got != wantAccepted {
					t.Errorf("step %d: %d events queued, want %d", i, got, wantAccepted)
				}
				if got := l.dropped[reasonRateLimit].Load(); got != uint64(wantDropped) {
					t.Errorf("step %d: %d dropped by the rate limit, want %d", i, got, wantDropped)
				}
			}
			if got := l.dropped[reasonQueueFull].Load(); got != 0 {
				t.Errorf("%d queue-full drops, want 0", got)
			}
		})
	}
}

func TestQueueFull(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flagged.jsonl")
	l := newTestLog(t, Options{Path: path, QueueSize: 3}, nil)
	// No writer runs: the queue fills and Observe must still return.
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 10 {
			l.Observe(numbered(uint64(1000 + i)))
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Observe blocked on a full queue")
	}
	if got := l.dropped[reasonQueueFull].Load(); got != 7 {
		t.Errorf("queue-full drops = %d, want 7", got)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	lines := readLines(t, path)
	if len(lines) != 3 {
		t.Fatalf("%d lines written, want the 3 that were queued", len(lines))
	}
	for i, e := range lines {
		if e.BytesTo != uint64(1000+i) {
			t.Errorf("line %d is event %d, want %d", i, e.BytesTo, 1000+i)
		}
	}
}

func TestCloseDrains(t *testing.T) {
	const producers, each = 4, 250
	for _, tc := range []struct {
		name string
		run  bool // start Run before observing
		stop func(cancel context.CancelFunc)
	}{
		{name: "close while running", run: true, stop: func(context.CancelFunc) {}},
		{name: "close after cancel", run: true, stop: func(cancel context.CancelFunc) { cancel() }},
		{name: "close without run", run: false, stop: func(context.CancelFunc) {}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "flagged.jsonl")
			l := newTestLog(t, Options{Path: path, RatePerSecond: -1, QueueSize: producers * each}, nil)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			ran := make(chan struct{})
			if tc.run {
				go func() { l.Run(ctx); close(ran) }()
			} else {
				close(ran)
			}
			var wg sync.WaitGroup
			for p := range producers {
				wg.Go(func() {
					for i := range each {
						l.Observe(numbered(uint64(1000 + p*each + i)))
					}
				})
			}
			wg.Wait()
			tc.stop(cancel)
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			<-ran
			lines := readLines(t, path)
			if len(lines) != producers*each {
				t.Errorf("%d lines written, want %d", len(lines), producers*each)
			}
			seen := make(map[uint64]bool)
			for _, e := range lines {
				seen[e.BytesTo] = true
			}
			if len(seen) != producers*each {
				t.Errorf("%d distinct events written, want %d", len(seen), producers*each)
			}
			if got := l.written.Load(); got != producers*each {
				t.Errorf("written counter = %d, want %d", got, producers*each)
			}
			// Close is idempotent and later events are ignored, not queued.
			if err := l.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
			l.Observe(numbered(1000))
			if len(l.queue) != 0 {
				t.Errorf("Observe after Close queued an event")
			}
		})
	}
}

func TestWriteError(t *testing.T) {
	// /dev/full accepts the open and fails every write with ENOSPC: a real
	// full disk, without filling one.
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full on this system")
	}
	l := newTestLog(t, Options{Path: "/dev/full"}, nil)
	for i := range 3 {
		l.Observe(numbered(uint64(1000 + i)))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if got := l.dropped[reasonWriteError].Load(); got != 3 {
		t.Errorf("write-error drops = %d, want 3", got)
	}
	if got := l.written.Load(); got != 0 {
		t.Errorf("written = %d, want 0", got)
	}
	// The API still shows what happened even when the disk is full.
	if got := len(l.Recent(0)); got != 3 {
		t.Errorf("Recent kept %d events, want 3", got)
	}
}

func TestStdout(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stdout
	os.Stdout = w
	l, err := New(Options{Path: "-", MaxSize: 10, now: newClock().now})
	os.Stdout = saved
	if err != nil {
		t.Fatal(err)
	}
	evs := sampleEvents()
	for i := range evs {
		l.Observe(&evs[i])
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	var out bytes.Buffer
	if _, err := out.ReadFrom(r); err != nil {
		t.Fatal(err)
	}
	// Standard output is never rotated nor closed, whatever MaxSize says.
	if n := strings.Count(out.String(), "\n"); n != len(evs) {
		t.Errorf("%d lines on stdout, want %d:\n%s", n, len(evs), out.String())
	}
	if got := l.rotations.Load(); got != 0 {
		t.Errorf("rotations = %d, want 0 for stdout", got)
	}
}

func TestNewErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"missing directory", Options{Path: filepath.Join(dir, "nope", "flagged.jsonl")},
			"events: cannot create " + filepath.Join(dir, "nope", "flagged.jsonl") + ": directory " + filepath.Join(dir, "nope") + " does not exist"},
		{"path is a directory", Options{Path: dir}, "events: open " + dir + ": is a directory"},
		{"negative max size", Options{MaxSize: -1}, "events: max size must not be negative, got -1"},
		{"negative max files", Options{MaxFiles: -2}, "events: max files must not be negative, got -2"},
		{"negative burst", Options{Burst: -1}, "events: burst must not be negative, got -1"},
		{"negative recent", Options{Recent: -1}, "events: recent must not be negative, got -1"},
		{"negative queue", Options{QueueSize: -1}, "events: queue size must not be negative, got -1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := New(tc.opts)
			if err == nil {
				l.Close()
				t.Fatalf("New succeeded, want error %q", tc.want)
			}
			if err.Error() != tc.want {
				t.Errorf("error = %q, want %q", err, tc.want)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	l, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	o := l.opts
	if o.MaxSize != 64<<20 || o.MaxFiles != 5 || o.RatePerSecond != 100 || o.Burst != 1000 ||
		o.Recent != 1000 || o.QueueSize != 4096 || cap(l.queue) != 4096 || len(l.ring.buf) != 1000 {
		t.Errorf("defaults = %+v (queue %d, ring %d)", o, cap(l.queue), len(l.ring.buf))
	}
}

func TestObserveDoesNotAllocate(t *testing.T) {
	l := newTestLog(t, Options{RatePerSecond: -1, QueueSize: 1000}, nil)
	ev := numbered(1000)
	if n := testing.AllocsPerRun(100, func() { l.Observe(ev) }); n != 0 {
		t.Errorf("Observe allocates %v times a call, want 0", n)
	}
	if got := len(l.queue); got != 101 { // AllocsPerRun warms up once
		t.Errorf("%d events queued, want 101", got)
	}
}

func TestRotationFailureKeepsLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flagged.jsonl")
	// A non-empty directory where PATH.1 should go: it can be neither
	// removed nor replaced, so every rotation fails.
	if err := os.MkdirAll(filepath.Join(path+".1", "in-the-way"), 0o755); err != nil {
		t.Fatal(err)
	}
	l := newTestLog(t, Options{Path: path, MaxSize: 10, MaxFiles: 1}, nil)
	for i := range 4 {
		l.Observe(numbered(uint64(1000 + i)))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if got := l.rotations.Load(); got != 0 {
		t.Errorf("rotations = %d, want 0", got)
	}
	if got := len(readLines(t, path)); got != 4 {
		t.Errorf("%d lines in %s, want all 4 appended", got, path)
	}
	if w, d := l.written.Load(), l.dropped[reasonWriteError].Load(); w != 4 || d != 0 {
		t.Errorf("written %d, write errors %d; want 4 and 0", w, d)
	}
}
