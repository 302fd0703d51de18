#!/usr/bin/env bash
# Compares jurismon's per-country and per-ASN byte totals with tshark's and
# pmacctd's on real captures, with the same GeoLite2 databases, as
# ../shared/peers.md describes. Exits non-zero on any difference.
#
#   scripts/check-peers.sh DBDIR CAPTURE...
#
# DBDIR holds GeoLite2-Country.mmdb and GeoLite2-ASN.mmdb (for instance from
# `npm pack geolite2`; never commit them). Needs tshark, pmacct, python3.
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
  { tail -n +2 "$out/dst.csv"; tail -n +2 "$out/src.csv"; } |
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
      echo "$name: per-$by totals DIFFER from tshark:"; diff "$work/tshark" "$work/jm" | head; status=1
    fi
    if [ "$by" = country ]; then
      pmacct_sum "$cap" > "$work/pmacct.sum"
      if diff -q "$work/pmacct.sum" "$work/jm" >/dev/null; then
        echo "$name: per-country totals match pmacctd"
      else
        echo "$name: per-country totals DIFFER from pmacctd:"; diff "$work/pmacct.sum" "$work/jm" | head; status=1
      fi
    fi
  done
done
exit $status
