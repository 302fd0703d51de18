package workload

import (
	"github.com/jurismon/jurismon/capture"
	"github.com/jurismon/jurismon/enrich"
)

// Enrich fills the process, and its container, that owns a new flow's
// local socket (enrich.Enricher). It reads /proc on a cache miss, so it
// belongs on a new flow, never on every packet; the pod's name, namespace
// and workload need the kubelet or the API server, which this package does
// not ask yet.
func (r *Resolver) Enrich(f *enrich.Facts, _ *capture.Packet) {
	if f.Process.PID != 0 {
		return
	}
	p, err := r.Lookup(f.Proto, f.Local, f.Remote)
	if err != nil {
		return
	}
	f.Process.PID, f.Process.UID = p.PID, p.UID
	f.Process.Comm, f.Process.Exe, f.Process.User = p.Comm, p.Exe, p.User
	f.Process.Container, f.Process.Runtime = p.Container.ID, p.Container.Runtime
}
