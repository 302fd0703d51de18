#!/usr/bin/env bash
# Benchmark `jurismon analyze` against `tcpdump -r FILE -w /dev/null` on one
# core, on large generated pcaps already in the page cache, in two cases:
#   full     whole frames (64-1500 bytes, about 400 bytes a record), on the
#            built-in database (issue 2: at least 6 Mpps, no slower than
#            tcpdump);
#   headers  frames cut at 128 bytes, as jurismon captures them (about 8
#            records a KB), with a database as large as GeoLite2 (about
#            450,000 networks over the generator's prefixes, written by
#            jurismon-pcapgen -mmdb) (issue 17).
# The two commands run interleaved (jurismon, tcpdump, jurismon, ...), and
# each case prints the median and range of both and the ratio of the
# medians, so that the machine's drift hits both alike.
#
# Environment:
#   BENCH_DIR     where the pcaps are written and kept (default: a temporary
#                 directory, removed at the end)
#   BENCH_SIZE    pcap size (default 1GB); BENCH_FLOWS (100000); BENCH_SEED (1)
#   BENCH_CASES   cases to run (default "full headers")
#   BENCH_NETWORKS  networks of the headers case's database (450000)
#   BENCH_CPU     the core to pin to with taskset (default 0)
#   BENCH_RUNS    runs of each command (default 5)
#   BENCH_READER  if 1, also time the capture reader alone (go test -bench)
#   BENCH_ARGS    extra flags for jurismon analyze
set -euo pipefail

cd "$(dirname "$0")/.."
size=${BENCH_SIZE:-1GB}
flows=${BENCH_FLOWS:-100000}
seed=${BENCH_SEED:-1}
cpu=${BENCH_CPU:-0}
runs=${BENCH_RUNS:-3}

if [[ -n ${BENCH_DIR:-} ]]; then
	dir=$BENCH_DIR
	mkdir -p "$dir"
else
	dir=$(mktemp -d "${TMPDIR:-/tmp}/jurismon-bench.XXXXXX")
	trap 'rm -rf "$dir"' EXIT
fi
bin=$dir/bin
mkdir -p "$bin"

if ! command -v tcpdump >/dev/null; then
	if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
		echo "installing tcpdump" >&2
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tcpdump >/dev/null
	else
		echo "bench-analyze: tcpdump is not installed (apt-get install tcpdump)" >&2
		exit 1
	fi
fi
tcpdump=$(command -v tcpdump)

go build -o "$bin/jurismon-pcapgen" ./cmd/jurismon-pcapgen
have_jurismon=0
if go list ./cmd/jurismon >/dev/null 2>&1 && go build -o "$bin/jurismon" ./cmd/jurismon 2>"$dir/build.log"; then
	if "$bin/jurismon" analyze --help >/dev/null 2>&1; then
		have_jurismon=1
	else
		echo "bench-analyze: ./cmd/jurismon builds but has no 'analyze' command yet: timing tcpdump only" >&2
	fi
else
	echo "bench-analyze: ./cmd/jurismon does not build yet (see below): timing tcpdump only" >&2
	sed 's/^/    /' "$dir/build.log" >&2 || true
fi

cases=${BENCH_CASES:-full headers}
networks=${BENCH_NETWORKS:-450000}

# gen CASE: writes the case's pcap (and database) unless kept from before;
# sets pcap, packets and dbargs.
gen() {
	local snap=0
	dbargs=()
	pcap=$dir/bench-$1-$size-$flows-$seed.pcap
	if [[ $1 == headers ]]; then
		snap=128
		mkdir -p "$dir/db-$networks"
		dbargs=(--geoip.country "$dir/db-$networks/GeoLite2-Country.mmdb" --geoip.asn "$dir/db-$networks/GeoLite2-ASN.mmdb")
		if [[ ! -s $dir/db-$networks/GeoLite2-ASN.mmdb ]]; then
			"$bin/jurismon-pcapgen" -o "$dir/db-$networks/unused.pcap" -size 1KB -mmdb "$dir/db-$networks" -networks "$networks" -seed "$seed"
			rm -f "$dir/db-$networks/unused.pcap"
		fi
	fi
	if [[ ! -s $pcap || ! -s $pcap.packets ]]; then
		"$bin/jurismon-pcapgen" -o "$pcap" -size "$size" -flows "$flows" -seed "$seed" -snap "$snap" 2>"$dir/gen.log"
		cat "$dir/gen.log" >&2
		# "wrote FILE: N packets, ..." gives the packet count.
		sed -n 's/.*: \([0-9][0-9]*\) packets,.*/\1/p' "$dir/gen.log" >"$pcap.packets"
	fi
	packets=$(cat "$pcap.packets")
	# Warm the page cache: every timed run then reads from memory.
	cat "$pcap" >/dev/null
	cat "$pcap" >/dev/null
}

# once CMD...: run CMD pinned to one core, print its wall time in seconds.
once() {
	local start end
	start=$(date +%s%N)
	taskset -c "$cpu" "$@" >/dev/null 2>"$dir/cmd.err" || {
		echo "bench-analyze: $* failed:" >&2
		cat "$dir/cmd.err" >&2
		return 1
	}
	end=$(date +%s%N)
	awk -v ns="$((end - start))" 'BEGIN { printf "%.3f", ns / 1e9 }'
}

# stats TIMES...: "median (min-max)".
stats() {
	printf '%s\n' "$@" | sort -n | awk '{ t[NR] = $1 } END {
		m = NR % 2 ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2
		printf "%.3f (%.3f-%.3f)", m, t[1], t[NR] }'
}
median() { stats "$@" | cut -d' ' -f1; }
pps() { awk -v n="$packets" -v s="$1" 'BEGIN { printf "%.2f", n / s / 1e6 }'; }

echo "core:     $cpu, $runs interleaved runs of each command; median (range)"
for c in $cases; do
	gen "$c"
	echo
	echo "== $c: $pcap ($(stat -c %s "$pcap") bytes, $packets packets${dbargs:+, database of $networks networks}) =="
	tt=() tj=()
	for ((i = 0; i < runs; i++)); do
		if ((have_jurismon)); then
			tj+=("$(once "$bin/jurismon" analyze --workers 1 --progress never "${dbargs[@]}" ${BENCH_ARGS:-} "$pcap")")
		fi
		tt+=("$(once "$tcpdump" -r "$pcap" -w /dev/null)")
	done
	mt=$(median "${tt[@]}")
	printf "tcpdump:  %s s  %6s Mpps   (tcpdump -r FILE -w /dev/null)\n" "$(stats "${tt[@]}")" "$(pps "$mt")"
	if [[ ${BENCH_READER:-0} == 1 ]]; then
		# The capture reader alone: one pass over the file per iteration.
		line=$(JURISMON_BENCH_PCAP=$pcap taskset -c "$cpu" go test ./capture/pcapfile -run '^$' \
			-bench 'BenchmarkReadPcap$/jurismon' -benchtime "${runs}x" | grep Benchmark | head -1)
		t_reader=$(awk '{ for (i = 1; i < NF; i++) if ($(i+1) == "ns/op") printf "%.3f", $i / 1e9 }' <<<"$line")
		printf "reader:   %s s  %6s Mpps   (pcapfile.FileSource alone, go test -bench)\n" "$t_reader" "$(pps "$t_reader")"
	fi
	if ((have_jurismon)); then
		mj=$(median "${tj[@]}")
		printf "jurismon: %s s  %6s Mpps   (jurismon analyze --workers 1 FILE > /dev/null)\n" "$(stats "${tj[@]}")" "$(pps "$mj")"
		awk -v j="$mj" -v t="$mt" -v c="$c" 'BEGIN {
			printf "ratio:    %s: jurismon takes %.2fx the time of tcpdump, medians (%s)\n", c, j / t, (j <= t ? "target met" : "slower than tcpdump")
		}'
	else
		echo "jurismon: not timed: 'jurismon analyze' does not exist in this tree yet"
	fi
done
