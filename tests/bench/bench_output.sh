#!/usr/bin/env bash
# Peak memory (VmHWM) of gcron-service storing and listing big outputs: a
# run whose output is OUTPUT_BENCH_MIB MiB of '<' (sent raw in the JSON
# body, as a hostile or careless agent may) POSTed OUTPUT_BENCH_REPORTS
# times to /api/v1/report, then one GET /api/v1/log/list?pagesize=1000.
# Prints the service's VmHWM after start, after the reports and after the
# list, plus the size of the stored rows and of the list reply: medians of
# OUTPUT_BENCH_RUNS fresh services (SQLite store).
#   OUTPUT_BENCH_MIB (default 15), OUTPUT_BENCH_REPORTS (default 4),
#   OUTPUT_BENCH_RUNS (default 3)
#   OUTPUT_BENCH_BASELINE=path/to/another/gcron-service: measured too, in
#   the same run, interleaved (e.g. a build of the previous commit)
# Runs itself under build/tests/gc-harness for the etcd member.
set -uo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
MIB=${OUTPUT_BENCH_MIB:-15}
REPORTS=${OUTPUT_BENCH_REPORTS:-4}
RUNS=${OUTPUT_BENCH_RUNS:-3}

if [[ -z ${GC_TEST_ETCD_ENDPOINTS:-} ]]; then
	exec "$BUILD/tests/gc-harness" --etcd 1 -- bash "$0" "$@"
fi
for tool in curl python3 sqlite3; do
	command -v $tool >/dev/null || {
		echo "bench output: needs $tool" >&2
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

# The report body: a result whose output is MIB MiB of '<'.
python3 - "$tmp/body.json" "$MIB" <<'EOF'
import sys
path, mib = sys.argv[1], int(sys.argv[2])
out = "<" * (mib << 20)
body = ('{"execute_info":{"task":{"task_id":"1","name":"big","project_id":1,'
        '"command":"big","cron":"* * * * *","client_ip":"192.0.2.9"},'
        '"plan_time":"2026-01-01T00:00:00Z","real_time":"2026-01-01T00:00:00Z"},'
        '"output":"' + out + '","error":"","start_time":"2026-01-01T00:00:00Z",'
        '"end_time":"2026-01-01T00:00:01Z","run_id":"RUN"}')
open(path, "w").write(body)
EOF

hwm() { awk '/^VmHWM/ {print $2 / 1024}' "/proc/$1/status"; }

measure() { # label binary
	local label=$1 bin=$2 port base token rc i
	rm -f "$tmp/gc.db"
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	cat >"$tmp/service.toml" <<EOF
log_level = "warning"
[deploy]
host = ["127.0.0.1:$port"]
[etcd]
service = ["${GC_TEST_ETCD_ENDPOINTS%%,*}"]
prefix = "/bench_output"
[sqlite]
path = "$tmp/gc.db"
[jwt]
secret = "bench-secret-of-at-least-32-bytes-long"
[report]
token = "bench-report"
EOF
	"$bin" -c "$tmp/service.toml" 2>"$tmp/service.log" &
	svc_pid=$!
	base=http://127.0.0.1:$port
	for _ in $(seq 100); do
		curl -sf "$base/api/v1/version" >/dev/null && break
		sleep 0.1
	done
	local start_mb
	start_mb=$(hwm $svc_pid)
	token=$(curl -sf -d account=admin -d password=123456 "$base/api/v1/user/login" |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["response"]["token"])')
	curl -sf -H "access-token: $token" -d title=bench -d remark=bench \
		"$base/api/v1/project/create" >/dev/null
	for i in $(seq "$REPORTS"); do
		sed "s/RUN/run-$i/" "$tmp/body.json" >"$tmp/body-$i.json"
		rc=$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer bench-report' \
			-H 'Content-Type: application/json' -H 'Report-Type: report_task_result' \
			--data-binary "@$tmp/body-$i.json" "$base/api/v1/report")
		[[ $rc == 200 ]] || echo "  report $i: HTTP $rc" >&2
		rm -f "$tmp/body-$i.json"
	done
	local ingest_mb row_bytes
	ingest_mb=$(hwm $svc_pid)
	row_bytes=$(sqlite3 "$tmp/gc.db" 'SELECT sum(length(CAST(result AS BLOB))) FROM gc_task_log')
	curl -s -o "$tmp/list.json" -H "access-token: $token" \
		"$base/api/v1/log/list?project_id=1&page=1&pagesize=1000"
	local list_mb reply_bytes
	list_mb=$(hwm $svc_pid)
	reply_bytes=$(stat -c %s "$tmp/list.json")
	kill "$svc_pid" && wait "$svc_pid" 2>/dev/null
	svc_pid=
	echo "$label $start_mb $ingest_mb $list_mb ${row_bytes:-0} $reply_bytes" >>"$tmp/runs"
}

echo "== Service memory: $REPORTS report(s) of $MIB MiB of '<', then log/list?pagesize=1000"
printf 'machine: %s CPUs, %s\n' "$(nproc)" "$(uname -sr)"
printf '%-10s %10s %12s %12s %14s %14s\n' "service" "start MiB" "ingest MiB" "list MiB" \
	"rows (bytes)" "reply (bytes)"
for _ in $(seq "$RUNS"); do
	if [[ -n ${OUTPUT_BENCH_BASELINE:-} ]]; then
		measure baseline "$OUTPUT_BENCH_BASELINE"
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
for label in ("baseline", "ours"):
    if label not in rows:
        continue
    m = [statistics.median(c) for c in zip(*rows[label])]
    print("%-10s %10.0f %12.0f %12.0f %14.0f %14.0f" % (label, *m))
if "baseline" in rows and "ours" in rows:
    b = statistics.median(r[2] for r in rows["baseline"])
    o = statistics.median(r[2] for r in rows["ours"])
    print("peak after the list: ours / baseline = %.3f" % (o / b))
EOF
