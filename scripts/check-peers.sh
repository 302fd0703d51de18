#!/usr/bin/env bash
# Compares jurismon's per-country and per-ASN byte totals with those of two
# established tools, Wireshark's tshark and pmacct's pmacctd, on real
# captures and with the same GeoLite2 databases. Exits non-zero on any
# difference.
#
#   scripts/check-peers.sh DBDIR CAPTURE...
#
# DBDIR holds GeoLite2-Country.mmdb and GeoLite2-ASN.mmdb (for instance from
# `npm pack geolite2@4.0.1`; they are under MaxMind's GeoLite2 licence: use
# them locally, never commit them). Needs tshark, pmacct, python3
# (apt-get install tshark pmacct python3).
#
# The method: the three are made to count the same way.
#   - Bytes are IP bytes: the IPv4 total length, or the IPv6 payload length
#     plus 40 (tshark: ip.len, else ipv6.plen + 40; pmacctd counts so too).
#     Frames without an IP header are not counted.
#   - Outer headers only: the tools attribute a packet to its outermost IP
#     header, so jurismon runs with --no-decapsulate and tshark with the
#     dissectors of ICMP, tunnels (GRE, VXLAN, GENEVE, ERSPAN, L2TP, GTP,
#     Teredo) disabled, which would otherwise resolve inner headers too.
#   - Per direction: the tools give per-source-country and
#     per-destination-country totals; jurismon's per-country total (no local
#     networks configured) is their sum. Special-purpose addresses
#     (private, multicast, ...) are left out on every side: none of them
#     can place those.
#   - ASNs: from tshark only (pmacctd reads no ASN from .mmdb files).
# pmacctd may write no CSV file for a side: on a tiny capture (one
# multicast service-discovery packet, as in nDPI's srvloc capture) it exits
# before that side's plugin has written anything. A missing file counts as
# no rows, with a note on stderr; had that side held countries, the
# comparison below would show the difference. On a busy machine pmacctd
# can also exit before its plugins have written everything (a short,
# different total on the next run): a pmacctd result that differs is taken
# again, up to 3 runs, and only a difference that persists fails.
set -euo pipefail
db=$(realpath "$1"); shift
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
go build -o "$work/jurismon" ./cmd/jurismon

sum_json() { # field: country | asn
  python3 -c '
import json, sys, collections
field = sys.argv[1]; r = json.load(sys.stdin); t = collections.Counter()
for row in r["rows"]:
    k = row[field]
    if row["address_class"] == "public" and k not in (None, 0, "", "unknown"):
        t[str(k)] += row["bytes_to"] + row["bytes_from"]
for k in sorted(t): print(k, t[k])' "$1"
}

tshark_sum() { # capture field(country_iso|asnum)
  tshark -n -r "$1" --disable-protocol icmp --disable-protocol icmpv6 --disable-protocol gtp --disable-protocol teredo \
    --disable-protocol gre --disable-protocol vxlan --disable-protocol geneve --disable-protocol erspan --disable-protocol l2tp \
    -o ip.use_geoip:TRUE -o ipv6.use_geoip:TRUE -o "uat:maxmind_db_paths:\"$db\"" \
    -Y "ip or ipv6" -T fields -E occurrence=f -E separator=, \
    -e ip.len -e ipv6.plen -e "ip.geoip.src_$2" -e "ipv6.geoip.src_$2" -e "ip.geoip.dst_$2" -e "ipv6.geoip.dst_$2" 2>/dev/null |
  awk -F, '{ b = ($1 != "") ? $1 : $2 + 40; s = ($3 != "") ? $3 : $4; d = ($5 != "") ? $5 : $6;
    if (s != "") t[s] += b; if (d != "") t[d] += b } END { for (k in t) print k, t[k] }' | sort
}

pmacct_sum() { # capture
  local out="$work/pmacct"; rm -rf "$out"; mkdir -p "$out"
  cat > "$out/conf" <<CONF
daemonize: false
pcap_savefile: $(realpath "$1")
geoipv2_file: $db/GeoLite2-Country.mmdb
plugins: print[dst], print[src]
aggregate[dst]: dst_host_country
aggregate[src]: src_host_country
print_output[dst]: csv
print_output[src]: csv
print_output_file[dst]: $out/dst.csv
print_output_file[src]: $out/src.csv
print_refresh_time: 60
CONF
  timeout 120 pmacctd -f "$out/conf" >/dev/null 2>&1
  local f; for f in "$out/dst.csv" "$out/src.csv"; do
    if [ -f "$f" ]; then tail -n +2 "$f"; else echo "$(basename "$1"): pmacctd wrote no $(basename "$f"): no rows on that side" >&2; fi
  done |
    awk -F, '$1 != "" { t[$1] += $NF } END { for (k in t) print k, t[k] }' | sort
}

status=0
for cap in "$@"; do
  name=$(basename "$cap")
  for by in country asn; do
    "$work/jurismon" analyze --no-decapsulate --by "$by" --format json \
      --geoip.country "$db/GeoLite2-Country.mmdb" --geoip.asn "$db/GeoLite2-ASN.mmdb" "$cap" 2>/dev/null |
      sum_json "$by" | sort > "$work/jm"
    field=country_iso; [ "$by" = asn ] && field=asnum
    tshark_sum "$cap" "$field" > "$work/tshark"
    if diff -q "$work/tshark" "$work/jm" >/dev/null; then
      echo "$name: per-$by totals match tshark ($(wc -l < "$work/jm") rows)"
    else
      echo "$name: per-$by totals DIFFER from tshark:"; diff "$work/tshark" "$work/jm" | head || true; status=1
    fi
    if [ "$by" = country ]; then
      for _ in 1 2 3; do
        pmacct_sum "$cap" > "$work/pmacct.sum"
        if diff -q "$work/pmacct.sum" "$work/jm" >/dev/null; then break; fi
      done
      if diff -q "$work/pmacct.sum" "$work/jm" >/dev/null; then
        echo "$name: per-country totals match pmacctd"
      else
        echo "$name: per-country totals DIFFER from pmacctd:"; diff "$work/pmacct.sum" "$work/jm" | head || true; status=1
      fi
    fi
  done
done
exit $status
