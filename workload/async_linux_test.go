package workload

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/jurismon/jurismon/enrich"
	"github.com/jurismon/jurismon/policy"
)

// TestAttributor: a flow that starts flagged queues a lookup of its local
// socket (a real python3 listener); the event's Fill then names the owner
// from the cache. An unflagged flow queues nothing, unless All.
func TestAttributor(t *testing.T) {
	o := startOwner(t)
	r, err := NewResolver(Options{})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", o.tcp.String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := conn.LocalAddr().(*net.TCPAddr).AddrPort()
	// The listener's side of the connection, as the flow sees it: local is
	// the server, remote the client.
	flagged := enrich.Facts{Proto: protoTCP, Local: o.tcp, Remote: client}
	quiet := enrich.Facts{Proto: protoUDP, Local: o.udp, Remote: netip.MustParseAddrPort("127.0.0.1:9")}

	a := NewAttributor(r, 0, false)
	a.ObserveStarted(&quiet, policy.Verdict{}, 0)
	a.ObserveStarted(&flagged, policy.Verdict{Jurisdiction: "j"}, 0)
	a.Enrich(&quiet, nil) // not All: nothing
	if n := len(a.queue); n != 1 {
		t.Fatalf("%d lookups queued, want 1 (the flagged flow's)", n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go a.Run(ctx)
	deadline := time.Now().Add(5 * time.Second)
	for !a.Fill(&flagged) {
		if time.Now().After(deadline) {
			t.Fatal("the flagged flow's owner was not found within 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if flagged.Process.PID != int32(o.cmd.Process.Pid) || !strings.HasPrefix(flagged.Process.Comm, "python") {
		t.Errorf("process %+v, want python3 pid %d", flagged.Process, o.cmd.Process.Pid)
	}
	if a.Fill(&quiet) {
		t.Errorf("the unflagged flow got an owner: %+v", quiet.Process)
	}

	// With All, every new flow queues; a full queue drops, counted.
	all := NewAttributor(r, 1, true)
	f1 := enrich.Facts{Proto: protoUDP, Local: o.udp, Remote: netip.MustParseAddrPort("127.0.0.1:10")}
	f2 := enrich.Facts{Proto: protoUDP, Local: o.udp, Remote: netip.MustParseAddrPort("127.0.0.1:11")}
	all.Enrich(&f1, nil)
	all.Enrich(&f2, nil)
	want := `
# HELP jurismon_workload_lookups_dropped_total Socket owner lookups not queued because the queue was full (the flows' events then name no process).
# TYPE jurismon_workload_lookups_dropped_total counter
jurismon_workload_lookups_dropped_total 1
`
	if err := testutil.CollectAndCompare(all.Collector(), strings.NewReader(want)); err != nil {
		t.Error(err)
	}
}
