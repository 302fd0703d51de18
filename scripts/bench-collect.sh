#!/usr/bin/env bash
# jurismon collect and pmacct's nfacctd side by side on the same NetFlow v9
# stream: a Python sender writes DATAGRAMS datagrams of 30 records (4096
# flows between 10.0.x.x and documentation addresses) to 127.0.0.1 as fast
# as it can; for each collector the script prints the records it
# accounted, the kernel's UDP receive-buffer drops, and its CPU seconds per
# million records. Usage: DATAGRAMS=100000 scripts/bench-collect.sh
set -euo pipefail
cd "$(dirname "$0")/.."
n=${DATAGRAMS:-100000}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
go build -o "$work/jurismon" ./cmd/jurismon

send() { # port
	python3 - "$1" "$n" <<'PY'
import socket, struct, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
fields = [(8, 4), (12, 4), (7, 2), (11, 2), (4, 1), (1, 4), (2, 4), (10, 2), (14, 2), (22, 4), (21, 4)]
def header(count):
    return struct.pack("!HHIIII", 9, count, 100000, 1767322800, 1, 1)
tmpl = struct.pack("!HH", 256, len(fields)) + b"".join(struct.pack("!HH", *f) for f in fields)
tmplset = struct.pack("!HH", 0, 4 + len(tmpl)) + tmpl
remotes = [bytes([192, 0, 2, 10]), bytes([192, 0, 2, 129]), bytes([198, 51, 100, 7]), bytes([203, 0, 113, 9])]
dgs = []
for b in range(0, 4096, 30):
    recs = b"".join(bytes([10, 0, i >> 8 & 255, i & 255]) + remotes[i % 4] +
                    struct.pack("!HHBIIHHII", 30000 + i, 443, 6, 1500, 1, 1, 2, 99000, 99500)
                    for i in range(b, min(b + 30, 4096)))
    dgs.append(header(1) + struct.pack("!HH", 256, 4 + len(recs)) + recs)
s.sendto(header(1) + tmplset, ("127.0.0.1", port))
for i in range(n):
    if i % 1000 == 0:
        s.sendto(header(1) + tmplset, ("127.0.0.1", port))  # templates are resent, as routers do
    s.sendto(dgs[i % len(dgs)], ("127.0.0.1", port))
PY
}
drops() { awk '/^Udp:/ && !h {h=1; for (i=1;i<=NF;i++) if ($i=="RcvbufErrors") c=i; next} /^Udp:/ {print $c}' /proc/net/snmp; }
cpu() { awk '{print ($14+$15)/100}' "/proc/$1/stat"; }
records_per_dg=30
total=$((n * records_per_dg))

# jurismon collect
"$work/jurismon" collect --geoip.lookup-documentation --collector.listen 127.0.0.1:39931 \
	--web.listen-address 127.0.0.1:39932 --events.recent 0 --collector.read-buffer $((8 << 20)) >"$work/collect.log" 2>&1 &
col=$!
sleep 1
d0=$(drops); c0=$(cpu $col)
send 39931
sleep 2
c1=$(cpu $col); d1=$(drops)
rec=$(curl -s http://127.0.0.1:39932/metrics | awk '/^jurismon_collector_records_total/ {s+=$2} END {print s+0}')
qd=$(curl -s http://127.0.0.1:39932/metrics | awk '/^jurismon_collector_dropped_datagrams_total/ {s+=$2} END {print s+0}')
kill $col; wait $col || true
echo "jurismon collect: $rec of $total records accounted, $qd datagrams dropped on its queue, $((d1 - d0)) kernel drops, CPU $(echo "$c1 - $c0" | bc) s: $(echo "scale=3; ($c1 - $c0) * 1000000 / $rec" | bc) s per million records"

# nfacctd, its print plugin aggregating per source and destination host
cat >"$work/nf.conf" <<CONF
daemonize: false
nfacctd_ip: 127.0.0.1
nfacctd_port: 39933
nfacctd_rcvbuf_size: $((8 << 20))
plugins: print
aggregate: src_host, dst_host
print_output: csv
print_output_file: $work/nf.csv
print_refresh_time: 1
print_output_file_append: true
nfacctd_time_new: true
CONF
nfacctd -f "$work/nf.conf" >"$work/nf.log" 2>&1 &
nf=$!
sleep 1
d0=$(drops); c0=$(cpu $nf)
send 39933
sleep 3
c1=$(cpu $nf); d1=$(drops)
# CPU of the core process only; the print plugin is a child process.
pc=0
for p in $(pgrep -P $nf); do pc=$(echo "$pc + $(cpu $p)" | bc); done
kill -INT $nf; wait $nf || true
rec=$(awk -F, '$1 != "SRC_IP" {s+=$3} END {print s+0}' "$work/nf.csv")
echo "nfacctd: $rec of $total records accounted (packets summed by the print plugin), $((d1 - d0)) kernel drops, CPU core $(echo "$c1 - $c0" | bc) s + plugin $pc s: $(echo "scale=3; ($c1 - $c0 + $pc) * 1000000 / ($rec + 1)" | bc) s per million records"
