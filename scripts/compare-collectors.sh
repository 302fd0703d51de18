#!/usr/bin/env bash
# Per-country totals of capture files three ways, with the same country
# database: jurismon analyze of the capture; pmacctd's nfprobe (NetFlow v9)
# exporting the capture to jurismon collect; the same export to pmacct's
# nfacctd. EXPORT=sfprobe uses pmacctd's sFlow probe (every packet
# sampled) and sfacctd instead. Usage: [EXPORT=sfprobe] scripts/compare-collectors.sh CAPTURE...
# Needs pmacct (pmacctd, nfacctd), curl and python3; sends only to
# 127.0.0.1. Addresses that jurismon never looks up (private, loopback,
# documentation...) are left out of nfacctd's totals.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
go build -o "$work/jurismon" ./cmd/jurismon
db=geo/builtin/country.mmdb
asn=geo/builtin/asn.mmdb

probe=${EXPORT:-nfprobe}
daemon=nfacctd
[ "$probe" = sfprobe ] && daemon=sfacctd
export_to() { # capture port: pmacctd's probe of the capture to 127.0.0.1:port
	if [ "$probe" = sfprobe ]; then
		cat >"$work/pm.conf" <<CONF
daemonize: false
pcap_savefile: $1
plugins: sfprobe[p]
sfprobe_receiver[p]: 127.0.0.1:$2
sfprobe_agentip[p]: 127.0.0.1
sampling_rate[p]: 1
CONF
	else
		cat >"$work/pm.conf" <<CONF
daemonize: false
pcap_savefile: $1
plugins: nfprobe[p]
nfprobe_receiver[p]: 127.0.0.1:$2
nfprobe_version[p]: 9
CONF
	fi
	pmacctd -f "$work/pm.conf" >"$work/pm.log" 2>&1 || grep -q "no more plugins active" "$work/pm.log"
}

for cap in "$@"; do
	# 1. analyze
	"$work/jurismon" analyze --geoip.country "$db" --geoip.asn "$asn" --format json --by country "$cap" >"$work/analyze.json" 2>/dev/null
	# 2. jurismon collect
	"$work/jurismon" collect --geoip.country "$db" --geoip.asn "$asn" --collector.listen 127.0.0.1:39921 \
		--web.listen-address 127.0.0.1:39922 --events.recent 0 >"$work/collect.log" 2>&1 &
	col=$!
	sleep 1
	export_to "$cap" 39921
	sleep 3 # idle ticks end the flows; a publication
	curl -s http://127.0.0.1:39922/metrics >"$work/metrics.txt"
	kill "$col"; wait "$col" || true
	# 3. nfacctd or sfacctd
	rm -f "$work/nf.csv"
	cat >"$work/nf.conf" <<CONF
daemonize: false
${daemon}_ip: 127.0.0.1
${daemon}_port: 39923
plugins: print
aggregate: src_host, dst_host, src_host_country, dst_host_country
geoipv2_file: $PWD/$db
print_output: csv
print_output_file: $work/nf.csv
print_refresh_time: 1
nfacctd_time_new: true
CONF
	[ "$daemon" = sfacctd ] && sed -i '/nfacctd_time_new/d' "$work/nf.conf"
	"$daemon" -f "$work/nf.conf" >"$work/nf.log" 2>&1 &
	nf=$!
	sleep 1
	export_to "$cap" 39923
	sleep 3
	kill -INT "$nf"; wait "$nf" || true
	python3 - "$cap" "$work/analyze.json" "$work/metrics.txt" "$work/nf.csv" <<'PY'
import collections, csv, ipaddress, json, re, sys
cap, aj, mt, nf = sys.argv[1:]
a = collections.Counter()
for r in json.load(open(aj))["rows"]:
    if r["address_class"] == "public":
        a[r["country"]] += r["bytes_to"] + r["bytes_from"]
j = collections.Counter()
for line in open(mt):
    m = re.match(r'jurismon_traffic_bytes_total\{country="([^"]*)",direction="([^"]*)"\} (\S+)', line)
    if m and m.group(2) != "internal" and m.group(1):
        j[m.group(1)] += float(m.group(3))
n = collections.Counter()
try:
    for r in csv.DictReader(open(nf)):
        for h, k in (("SRC_IP", "SH_COUNTRY"), ("DST_IP", "DH_COUNTRY")):
            c = r.get(k, "")
            # jurismon never looks up special-purpose addresses (private,
            # loopback, ...); pmacct does: they are left out here.
            if c and c != "--" and ipaddress.ip_address(r[h]).is_global:
                n[c] += int(r["BYTES"])
except FileNotFoundError:
    pass
print(f"== {cap}")
print(f"{'country':8} {'analyze':>12} {'collect':>12} {'pmacct':>12}")
for c in sorted(set(a) | set(j) | set(n), key=lambda c: -a[c]):
    print(f"{c:8} {a[c]:12.0f} {j[c]:12.0f} {n[c]:12.0f}")
print(f"{'total':8} {sum(a.values()):12.0f} {sum(j.values()):12.0f} {sum(n.values()):12.0f}")
PY
done
