#!/usr/bin/env bash
# Benchmark `jurismon analyze` against `tcpdump -r FILE -w /dev/null` on one
# core, on a large generated pcap already in the page cache (issue 2: the
# target is at least 6 million packets per second, and no slower than
# tcpdump, which does nothing but copy).
#
# Environment:
#   BENCH_DIR     where the pcap is written and kept (default: a temporary
#                 directory, removed at the end)
#   BENCH_SIZE    pcap size (default 1GB); BENCH_FLOWS (100000); BENCH_SEED (1)
#   BENCH_CPU     the core to pin to with taskset (default 0)
#   BENCH_RUNS    runs of each command; the fastest counts (default 3)
#   BENCH_READER  if 1, also time the capture reader alone (go test -bench)
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
pcap=$dir/bench-$size-$flows-$seed.pcap
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

if [[ ! -s $pcap || ! -s $pcap.packets ]]; then
	"$bin/jurismon-pcapgen" -o "$pcap" -size "$size" -flows "$flows" -seed "$seed" 2>"$dir/gen.log"
	cat "$dir/gen.log" >&2
	# "wrote FILE: N packets, ..." gives the packet count.
	sed -n 's/.*: \([0-9][0-9]*\) packets,.*/\1/p' "$dir/gen.log" >"$pcap.packets"
fi
packets=$(cat "$pcap.packets")

# Warm the page cache: every timed run then reads from memory.
cat "$pcap" >/dev/null
cat "$pcap" >/dev/null

# best CMD...: run CMD $runs times pinned to one core, print the fastest
# wall time in seconds.
best() {
	local fastest=0 start end ns
	for ((i = 0; i < runs; i++)); do
		start=$(date +%s%N)
		taskset -c "$cpu" "$@" >/dev/null 2>"$dir/cmd.err" || {
			echo "bench-analyze: $* failed:" >&2
			cat "$dir/cmd.err" >&2
			return 1
		}
		end=$(date +%s%N)
		ns=$((end - start))
		if ((fastest == 0 || ns < fastest)); then fastest=$ns; fi
	done
	awk -v ns="$fastest" 'BEGIN { printf "%.3f", ns / 1e9 }'
}

pps() { awk -v n="$packets" -v s="$1" 'BEGIN { printf "%.2f", n / s / 1e6 }'; }

echo "file:     $pcap ($(stat -c %s "$pcap") bytes, $packets packets)"
echo "core:     $cpu, best of $runs runs"
t_tcpdump=$(best "$tcpdump" -r "$pcap" -w /dev/null)
printf "tcpdump:  %7ss  %6s Mpps   (tcpdump -r FILE -w /dev/null)\n" "$t_tcpdump" "$(pps "$t_tcpdump")"

if [[ ${BENCH_READER:-0} == 1 ]]; then
	# The capture reader alone: one pass over the file per iteration.
	line=$(JURISMON_BENCH_PCAP=$pcap taskset -c "$cpu" go test ./capture/pcapfile -run '^$' \
		-bench 'BenchmarkReadPcap$/jurismon-mmap' -benchtime "${runs}x" | grep Benchmark)
	t_reader=$(awk '{ for (i = 1; i < NF; i++) if ($(i+1) == "ns/op") printf "%.3f", $i / 1e9 }' <<<"$line")
	printf "reader:   %7ss  %6s Mpps   (pcapfile.FileSource alone, go test -bench)\n" "$t_reader" "$(pps "$t_reader")"
fi

if ((have_jurismon)); then
	t_jurismon=$(best "$bin/jurismon" analyze "$pcap")
	printf "jurismon: %7ss  %6s Mpps   (jurismon analyze FILE > /dev/null)\n" "$t_jurismon" "$(pps "$t_jurismon")"
	awk -v j="$t_jurismon" -v t="$t_tcpdump" 'BEGIN {
		printf "ratio:    jurismon takes %.2fx the time of tcpdump (%s)\n", j / t, (j <= t ? "target met" : "slower than tcpdump")
	}'
	awk -v n="$packets" -v s="$t_jurismon" 'BEGIN {
		r = n / s / 1e6; printf "target:   %.2f Mpps of 6.00 (%s)\n", r, (r >= 6 ? "met" : "not met")
	}'
else
	echo "jurismon: not timed: 'jurismon analyze' does not exist in this tree yet"
fi
