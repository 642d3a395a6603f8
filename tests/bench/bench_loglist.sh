#!/usr/bin/env bash
# Memory and time of one GET /api/v1/log/list?pagesize=1000 over rows of
# large output: LOGLIST_BENCH_ROWS rows (default 1000) of
# LOGLIST_BENCH_KIB KiB (default 256) are written straight into the SQLite
# store, then each service answers the page twice (the first read also maps
# the database file, [sqlite] mmap_size). Prints the service's VmHWM growth
# over each request (the peak is reset before it through clear_refs), the
# time of the second request and the reply's size: medians of
# LOGLIST_BENCH_RUNS fresh services (default 3).
#   LOGLIST_BENCH_BASELINE=path/to/another/gcron-service: measured too, in
#   the same run, interleaved (e.g. a build of the previous commit)
# Runs itself under build/tests/gc-harness for the etcd member.
set -uo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
ROWS=${LOGLIST_BENCH_ROWS:-1000}
KIB=${LOGLIST_BENCH_KIB:-256}
RUNS=${LOGLIST_BENCH_RUNS:-3}

if [[ -z ${GC_TEST_ETCD_ENDPOINTS:-} ]]; then
	exec "$BUILD/tests/gc-harness" --etcd 1 -- bash "$0" "$@"
fi
for tool in curl python3 sqlite3; do
	command -v $tool >/dev/null || {
		echo "bench loglist: needs $tool" >&2
		exit 1
	}
done

tmp=$(mktemp -d)
svc_pid=
cleanup() {
	[[ -n $svc_pid ]] && kill "$svc_pid" 2>/dev/null && wait "$svc_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

hwm_kib() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }

# One request: VmHWM growth (KiB), seconds, reply bytes.
one_list() { # pid base token
	local before after secs
	echo 5 >"/proc/$1/clear_refs"
	before=$(hwm_kib "$1")
	secs=$(curl -s -o "$tmp/list.json" -w '%{time_total}' -H "access-token: $3" \
		"$2/api/v1/log/list?project_id=1&page=1&pagesize=$ROWS")
	after=$(hwm_kib "$1")
	echo "$((after - before)) $secs $(stat -c %s "$tmp/list.json")"
}

measure() { # label binary
	local label=$1 bin=$2 port base token cold warm
	rm -f "$tmp"/gc.db*
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	cat >"$tmp/service.toml" <<EOF
log_level = "warning"
[deploy]
host = ["127.0.0.1:$port"]
[etcd]
service = ["${GC_TEST_ETCD_ENDPOINTS%%,*}"]
prefix = "/bench_loglist"
[sqlite]
path = "$tmp/gc.db"
[jwt]
secret = "bench-loglist-secret-of-at-least-32-bytes"
EOF
	"$bin" -c "$tmp/service.toml" 2>"$tmp/service.log" &
	svc_pid=$!
	base=http://127.0.0.1:$port
	for _ in $(seq 100); do
		curl -sf "$base/api/v1/version" >/dev/null && break
		sleep 0.1
	done
	kill -0 "$svc_pid" 2>/dev/null || {
		echo "  $label did not start: $(cat "$tmp/service.log")" >&2
		exit 1
	}
	token=$(curl -sf -d account=admin -d password=123456 "$base/api/v1/user/login" |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["response"]["token"])')
	curl -sf -H "access-token: $token" -d title=bench -d remark=bench \
		"$base/api/v1/project/create" >/dev/null
	# The rows: {"result":"yyy...","system_error":"","error":""}, the
	# output KIB KiB of 'y'; written by sqlite3 beside the running service
	# (WAL), as a reporter's SQL sink would.
	sqlite3 "$tmp/gc.db" "PRAGMA busy_timeout=5000;
		WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $ROWS)
		INSERT INTO gc_task_log (project_id, task_id, project, name, result,
			start_time, end_time, command, with_error, client_ip, plan_time, run_id, agent)
		SELECT 1, '1', 'bench', 'big', '{\"result\":\"' ||
			replace(hex(zeroblob($KIB * 1024)), '00', 'y') ||
			'\",\"system_error\":\"\",\"error\":\"\"}',
			1700000000 + i, 1700000001 + i, 'big', 0, '192.0.2.9', 0, 'run-' || i, ''
		FROM n;" >/dev/null || echo "  $label: inserting the rows failed" >&2
	cold=$(one_list "$svc_pid" "$base" "$token")
	warm=$(one_list "$svc_pid" "$base" "$token")
	kill "$svc_pid" && wait "$svc_pid" 2>/dev/null
	svc_pid=
	echo "$label $cold $warm" >>"$tmp/runs"
}

echo "== log/list?pagesize=$ROWS over $ROWS rows of $KIB KiB output (SQLite)"
printf 'machine: %s CPUs, %s\n' "$(nproc)" "$(uname -sr)"
for _ in $(seq "$RUNS"); do
	if [[ -n ${LOGLIST_BENCH_BASELINE:-} ]]; then
		measure baseline "$LOGLIST_BENCH_BASELINE"
	fi
	measure ours "$BUILD/bin/gcron-service"
done
# medians per service, column by column
python3 - "$tmp/runs" <<'EOF'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    f = line.split()
    rows.setdefault(f[0], []).append([float(x) for x in f[1:]])
print("%-10s %16s %16s %12s %14s" % ("service", "1st list +MiB", "2nd list +MiB",
                                     "2nd list ms", "reply (bytes)"))
med = {}
for label in ("baseline", "ours"):
    if label not in rows:
        continue
    m = [statistics.median(c) for c in zip(*rows[label])]
    med[label] = m
    print("%-10s %16.1f %16.1f %12.0f %14.0f" % (label, m[0] / 1024, m[3] / 1024,
                                                 m[4] * 1000, m[5]))
if "baseline" in med and "ours" in med:
    b, o = med["baseline"], med["ours"]
    print("ours / baseline: 2nd list peak %.3f, time %.3f, reply %.3f" %
          (o[3] / b[3] if b[3] else 0, o[4] / b[4], o[5] / b[5]))
EOF
