#!/usr/bin/env bash
# bench/proxy.sh - calls per second through Kamailio and through sipwitchd, in one run.
#
# The same SIPp UAC -> proxy -> SIPp UAS load (tests/harness/bench-proxy.sh: 1 s calls,
# DURATION s per step, a step is clean when every call succeeded on time) at the same list of
# rates, first through Kamailio 5.6 (stateful t_relay + record_route, 4 workers), then through a
# release build of sipwitchd (the UAS registered as extension "service"). Prints the highest
# clean rate of each, their ratio, and the proxies' PSS and CPU at every rate both passed.
#
# Needs: sipp, kamailio (apt-get install sip-tester kamailio). About 2 * steps * (DURATION+5) s.
# Env: RATES="250 500 1000 2000 3000 4000" DURATION=20 PROXY=127.0.0.1:5060
#      UAS_ADDR=127.0.0.1:5070 UAC_ADDR=127.0.0.1:5061
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
top="$(cd "$here/.." && pwd)"
harness="$top/tests/harness"

RATES="${RATES:-250 500 1000 2000 3000 4000}"
DURATION="${DURATION:-20}"
PROXY="${PROXY:-127.0.0.1:5060}"
UAS_ADDR="${UAS_ADDR:-127.0.0.1:5070}"
UAC_ADDR="${UAC_ADDR:-127.0.0.1:5061}"
work="${TMPDIR:-/tmp}/sipwitch-bench"
rm -rf "$work"; mkdir -p "$work"

for b in sipp kamailio; do
	command -v "$b" >/dev/null || { echo "bench/proxy.sh: $b not found (apt-get install sip-tester kamailio)" >&2; exit 2; }
done

echo "building sipwitchd (release)" >&2
(cd "$top" && cargo build --release --locked --bins >&2) || exit 2

run_bench() { # TAG ENV...
	local tag="$1"; shift
	env "$@" HARNESS_TMP="$work/$tag" MODES=proxy RATES="$RATES" DURATION="$DURATION" \
		PROXY="$PROXY" UAS_ADDR="$UAS_ADDR" UAC_ADDR="$UAC_ADDR" \
		bash "$harness/bench-proxy.sh" >"$work/$tag.out" 2>"$work/$tag.err"
	cat "$work/$tag/bench-proxy/bench.txt" >&2
}

echo "== kamailio" >&2
run_bench kamailio START_KAMAILIO=1

echo "== sipwitchd" >&2
dir="$work/sipwitchd"; mkdir -p "$dir/config"
cat >"$dir/config/config.toml" <<EOF
[server]
domains = ["bench.test"]
listen = ["udp:$PROXY"]
[registrar]
max_expires = 7200
[auth]
algorithms = ["MD5"]   # SIPp 3.6 knows only MD5
[secrets]
store = "file"
[mdns]
enabled = false         # a benchmark stays on loopback
[[extension]]
number = "100"
name = "service"
EOF
export SIPWITCH_STATE_DIR="$dir/state"
echo "bench-password-1" | "$top/target/release/sipwitch" --config "$dir/config/config.toml" phone passwd service --password-stdin >/dev/null || exit 2
SIPWITCH_LOG=warn "$top/target/release/sipwitchd" --config "$dir/config/config.toml" >"$dir/stdout" 2>"$dir/stderr" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null' EXIT
for _ in $(seq 1 100); do grep -q "listening on udp" "$dir/stdout" && break; sleep 0.1; done
grep -q "listening on udp" "$dir/stdout" || { cat "$dir/stderr" >&2; exit 2; }
# Register the UAS's address as extension "service" (from the UAS's own port, before it starts).
START_KAMAILIO=0 REGISTRAR="$PROXY" DOMAIN=bench.test USERS="service:bench-password-1" ROUNDS=1 \
	EXPIRES=7200 BAD_PASSWORD_TEST=0 UAC_ADDR="$UAS_ADDR" HARNESS_TMP="$work/register" \
	bash "$harness/sipp-register.sh" >"$work/register.out" 2>&1 || { cat "$work/register.out" >&2; exit 2; }
run_bench sipwitchd START_KAMAILIO=0 PROXY_PID="$pid" RURI="sip:service@bench.test" FROM_DOMAIN=example.net

# Per-step table: mode cps planned success failed retrans elapsed rss_kB pss_kB cpu% unexp verdict
table() { awk '$1=="proxy" && NF>=12 {print $2, $9, $10, $12}' "$work/$1/bench-proxy/bench.txt"; }
table kamailio >"$work/k.tsv"; table sipwitchd >"$work/s.tsv"
best() { awk '$4=="ok" && $1>m {m=$1} END{print m+0}' "$1"; }
K=$(best "$work/k.tsv"); S=$(best "$work/s.tsv")
echo
echo "rate  kamailio_pss_kB kamailio_cpu%  sipwitchd_pss_kB sipwitchd_cpu%  pss_ratio"
join <(sort "$work/k.tsv") <(sort "$work/s.tsv") | sort -n | awk '$4=="ok" && $7=="ok" {
	printf "%5d %15d %13s %17d %14s  %9.3f\n", $1, $2, $3, $5, $6, ($2>0 ? $5/$2 : 0) }'
echo
echo "RESULT bench-proxy kamailio_max_clean_cps=$K sipwitchd_max_clean_cps=$S cps_ratio=$(awk -v s="$S" -v k="$K" 'BEGIN{ if (k>0) printf "%.2f", s/k; else print "n/a" }') duration_s=$DURATION rates=\"$RATES\""
