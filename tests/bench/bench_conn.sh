#!/usr/bin/env bash
# Idle and slow connections against gcron-service with its default [http]
# settings: GET /api/v1/version latency (a new connection every 0.1 s from
# 127.0.0.1) while hundreds to thousands of connections that send nothing,
# or half a header one byte a second, are held from one address or from 20
# (127.0.0.2-21). The baseline is the same probe without them, in the same
# run. See tests/bench/conn_attack.py.
#   CONN_BENCH_SECONDS (probing per case, default 30: covers the 15 s the
#   kernel holds silent connections back), CONN_BENCH_PAUSE (between cases,
#   default 12), CONN_BENCH_CASES (default: the full matrix below,
#   "mode:count:sources ...")
# Runs itself under build/tests/gc-harness for the etcd member.
set -uo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
SECS=${CONN_BENCH_SECONDS:-30}
PAUSE=${CONN_BENCH_PAUSE:-12}
CASES=${CONN_BENCH_CASES:-"none:0:127.0.0.1
idle:200:127.0.0.2 idle:200:127.0.0.2-21
idle:1000:127.0.0.2 idle:1000:127.0.0.2-21
idle:5000:127.0.0.2 idle:5000:127.0.0.2-21
slow:200:127.0.0.2 slow:200:127.0.0.2-21
slow:1000:127.0.0.2 slow:1000:127.0.0.2-21
slow:5000:127.0.0.2 slow:5000:127.0.0.2-21"}

if [[ -z ${GC_TEST_ETCD_ENDPOINTS:-} ]]; then
	exec "$BUILD/tests/gc-harness" --etcd 1 -- bash "$0" "$@"
fi
for tool in curl python3; do
	command -v $tool >/dev/null || {
		echo "bench conn: needs $tool (tests/lib/deps.sh bench)" >&2
		exit 1
	}
done
[[ -x $BUILD/bin/gcron-service ]] || {
	echo "bench conn: $BUILD/bin/gcron-service missing (run make all)" >&2
	exit 1
}

tmp=$(mktemp -d)
spid=
cleanup() {
	[[ -n $spid ]] && kill "$spid" 2>/dev/null && wait "$spid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

etcd=${GC_TEST_ETCD_ENDPOINTS%%,*}
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$tmp/service.toml" <<EOF
log_level = "warning"
[deploy]
host = ["127.0.0.1:$port"]
[etcd]
service = ["${etcd#http://}"]
[sqlite]
path = "$tmp/gc.db"
[jwt]
secret = "bench-secret-$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')"
EOF
"$BUILD/bin/gcron-service" -c "$tmp/service.toml" 2>"$tmp/service.log" &
spid=$!
for _ in $(seq 100); do
	curl -sf "http://127.0.0.1:$port/api/v1/version" >/dev/null && break
	sleep 0.1
done

echo "== Idle and slow connections: GET /api/v1/version from a new connection every 0.1 s for ${SECS}s while they are held"
printf 'machine: %s CPUs, %s, %s\n' "$(nproc)" \
	"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')" "$(uname -sr)"
echo "service: gcron-service, default [http] settings (256 threads, header_timeout 10s, max_idle_per_address 16)"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-6s %6s %-14s %6s %7s %6s %9s %9s %9s %8s %6s\n' mode count from opened probes failed median p99 max '>100ms' open
for c in $CASES; do
	IFS=: read -r mode n src <<<"$c"
	python3 tests/bench/conn_attack.py "$port" "$mode" "$n" "$src" "$SECS" |
		awk -F'\t' '{ printf "%-6s %6s %-14s %6s %7s %6s %6.1f ms %6.1f ms %6.1f ms %8s %6s\n",
			$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11 }'
	sleep "$PAUSE"
done
echo "closed by the service:"
curl -s "http://127.0.0.1:$port/metrics" | grep '^gophercron_http_connections_closed_total'
