#!/usr/bin/env bash
# REST API throughput with wrk on loopback: requests/second and p99 latency
# of GET /api/v1/version, GET /api/v1/crontab/list (a project with 100
# tasks, one with 10,000) and GET /api/v1/client/list (20 agents), SQLite
# store, one etcd member, with baselines measured in the same run,
# interleaved: a bare civetweb server answering the version bytes, and
# etcd's own gateway answering a range read of the same keys (what the
# service read for each list before its cache). Also the service's memory
# per cached task (VmRSS before and after the 10,000 tasks arrived).
#   API_BENCH_RUNS (default 5), API_BENCH_SECONDS (default 5),
#   API_BENCH_CONNECTIONS (default 16), API_BENCH_THREADS (wrk, default 2),
#   API_BENCH_SVC_THREADS (worker threads of the service and of the bare
#   civetweb baseline, default 256 = the service's default [http] threads)
# Runs itself under build/tests/gc-harness for the etcd member.
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
BUILD=${BUILD:-build}
RUNS=${API_BENCH_RUNS:-5}
SECS=${API_BENCH_SECONDS:-5}
CONNS=${API_BENCH_CONNECTIONS:-16}
WRK_THREADS=${API_BENCH_THREADS:-2}
SVC_THREADS=${API_BENCH_SVC_THREADS:-256}

if [[ -z ${GC_TEST_ETCD_ENDPOINTS:-} ]]; then
	exec "$BUILD/tests/gc-harness" --etcd 1 -- bash "$0" "$@"
fi
for tool in wrk curl python3; do
	command -v $tool >/dev/null || {
		echo "bench api: needs $tool (tests/lib/deps.sh bench)" >&2
		exit 1
	}
done
for bin in "$BUILD/bin/gcron-service" "$BUILD/tests/bench/bench_api_civetweb"; do
	[[ -x $bin ]] || { echo "bench api: $bin missing (run make all)" >&2; exit 1; }
done

tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
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
prefix = "/gopher_cron"
[sqlite]
path = "$tmp/gc.db"
[jwt]
secret = "bench-secret-$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')"
exp = 168
[http]
threads = $SVC_THREADS
EOF
"$BUILD/bin/gcron-service" -c "$tmp/service.toml" 2>"$tmp/service.log" &
pids+=($!)
base=http://127.0.0.1:$port
for _ in $(seq 100); do
	curl -sf "$base/api/v1/version" >/dev/null && break
	sleep 0.1
done
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
token=$(curl -sf -d account=admin -d password=123456 "$base/api/v1/user/login" | json '["response"]["token"]')
pid=$(curl -sf -H "access-token: $token" -d title=bench -d remark=bench \
	"$base/api/v1/project/create" | json '["response"]["project_id"]')
for i in $(seq 100); do
	curl -sf -H "access-token: $token" -d project_id="$pid" -d name="task-$i" \
		--data-urlencode "command=echo task $i" --data-urlencode 'cron=*/5 * * * * *' \
		-d status=1 "$base/api/v1/crontab/save" >/dev/null || { echo "bench api: save failed" >&2; exit 1; }
done
n=$(curl -sf -H "access-token: $token" "$base/api/v1/crontab/list?project_id=$pid" |
	json '["response"]["list"].__len__()')
[[ $n == 100 ]] || { echo "bench api: expected 100 tasks, listed $n" >&2; exit 1; }

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/${pids[0]}/status"; }
# 10,000 tasks written straight to etcd (txns of 100 puts, as the service
# stores them) in a second project, and 20 agent registrations in the first.
pid_big=$(curl -sf -H "access-token: $token" -d title=bench-10k -d remark=bench \
	"$base/api/v1/project/create" | json '["response"]["project_id"]')
rss_before=$(rss_kb)
python3 - "$etcd" "$pid_big" "$pid" <<'PY' || { echo "bench api: etcd writes failed" >&2; exit 1; }
import base64, json, sys, urllib.request
etcd, big, small = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
b64 = lambda s: base64.b64encode(s.encode()).decode()
def txn(puts):
    body = json.dumps({"success": [{"requestPut": {"key": b64(k), "value": b64(v)}} for k, v in puts]})
    urllib.request.urlopen(urllib.request.Request(etcd + "/v3/kv/txn", body.encode(),
                           {"Content-Type": "application/json"}), timeout=30).read()
for start in range(0, 10000, 100):
    puts = []
    for i in range(start, start + 100):
        tid = "bench-%05d" % i
        task = {"task_id": tid, "project_id": big, "name": "task-%d" % i,
                "command": "echo task %d" % i, "cron": "*/5 * * * * *", "remark": "",
                "timeout": 0, "create_time": 1700000000, "status": 1,
                "is_running": 0, "noseize": 0}
        puts.append(("/gopher_cron/%d/%s" % (big, tid), json.dumps(task, separators=(",", ":"))))
    txn(puts)
txn([("/gopher_cron/register/%d/10.0.%d.%d" % (small, i // 250, i % 250 + 1),
      json.dumps({"client_ip": "10.0.%d.%d" % (i // 250, i % 250 + 1), "version": "v1.10.8",
                  "clock_offset_ms": 3, "clock_error_ms": 1, "clock_ok": True, "clock_reason": ""}))
     for i in range(20)])
PY
for _ in $(seq 100); do
	n=$(curl -sf -H "access-token: $token" "$base/api/v1/crontab/list?project_id=$pid_big" |
		json '["response"]["list"].__len__()')
	[[ $n == 10000 ]] && break
	sleep 0.2
done
[[ $n == 10000 ]] || { echo "bench api: expected 10000 tasks, listed $n" >&2; exit 1; }
rss_after=$(rss_kb)
n=$(curl -sf -H "access-token: $token" "$base/api/v1/client/list" | json '["response"].__len__()')
[[ $n == 20 ]] || { echo "bench api: expected 20 agents, listed $n" >&2; exit 1; }

"$BUILD/tests/bench/bench_api_civetweb" $SVC_THREADS >"$tmp/civet.port" &
pids+=($!)
for _ in $(seq 50); do [[ -s $tmp/civet.port ]] && break; sleep 0.1; done
civet=http://127.0.0.1:$(cat "$tmp/civet.port")

# etcd's range of a prefix, as the handlers sent it before the cache.
range_lua() { # prefix file
	local body
	body=$(python3 -c '
import base64, json, sys
p = sys.argv[1].encode()
end = p[:-1] + bytes([p[-1] + 1])
print(json.dumps({"key": base64.b64encode(p).decode(),
                  "range_end": base64.b64encode(end).decode()}))' "$1")
	cat >"$2" <<EOF
wrk.method = "POST"
wrk.body = '$body'
wrk.headers["Content-Type"] = "application/json"
EOF
}
range_lua "/gopher_cron/$pid/" "$tmp/range.lua"
range_lua "/gopher_cron/$pid_big/" "$tmp/range_big.lua"
range_lua "/gopher_cron/register/" "$tmp/range_nodes.lua"

# wrk prints "Requests/sec: N" and, with --latency, "99%  12.34ms".
run_wrk() { # label url [wrk args...]
	local label=$1 url=$2 out rps p99
	shift 2
	out=$(wrk -t"$WRK_THREADS" -c"$CONNS" -d"${SECS}s" --timeout 30s --latency "$@" "$url" 2>&1)
	rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
	p99=$(awk '$1 == "99%" {
		v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v)
		if (u == "us") v /= 1000; else if (u == "s") v *= 1000
		print v }' <<<"$out")
	if [[ -z $rps || -z $p99 ]] || grep -q 'Non-2xx' <<<"$out"; then
		echo "bench api: wrk $label failed:" >&2
		echo "$out" >&2
		return 1
	fi
	printf '%s\t%s\t%s\n' "$label" "$rps" "$p99"
}

echo "== REST API: requests/s and p99 with wrk -t$WRK_THREADS -c$CONNS -d${SECS}s, median of $RUNS runs"
printf 'machine: %s CPUs, %s, %s\n' "$(nproc)" \
	"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')" "$(uname -sr)"
echo "service: gcron-service $($BUILD/bin/gcron-service --version | awk '{print $NF}' | tr -d ')'), $SVC_THREADS worker threads, SQLite, etcd $(etcd --version 2>/dev/null | awk 'NR==1 {print $3}') (1 member); wrk $(wrk -v 2>&1 | awk 'NR==1 {print $2}')"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
results=$tmp/results
: >"$results"
for r in $(seq "$RUNS"); do
	run_wrk version "$base/api/v1/version" >>"$results" || exit 1
	run_wrk civetweb_bare "$civet/api/v1/version" >>"$results" || exit 1
	run_wrk crontab_list "$base/api/v1/crontab/list?project_id=$pid" \
		-H "access-token: $token" >>"$results" || exit 1
	run_wrk etcd_range "$etcd/v3/kv/range" -s "$tmp/range.lua" >>"$results" || exit 1
	run_wrk crontab_list_10k "$base/api/v1/crontab/list?project_id=$pid_big" \
		-H "access-token: $token" >>"$results" || exit 1
	run_wrk etcd_range_10k "$etcd/v3/kv/range" -s "$tmp/range_big.lua" >>"$results" || exit 1
	run_wrk client_list "$base/api/v1/client/list" \
		-H "access-token: $token" >>"$results" || exit 1
	run_wrk etcd_range_nodes "$etcd/v3/kv/range" -s "$tmp/range_nodes.lua" >>"$results" || exit 1
done
sort -t$'\t' -k1,1 -s "$results" | awk -F'\t' '
	function median(a, n,   i, j, t) {
		for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++)
			if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	{ k = $1; n[k]++; rps[k, n[k]] = $2; p99[k, n[k]] = $3; if (!(k in seen)) { seen[k] = 1; order[++m] = k } }
	END {
		label["version"] = "GET /api/v1/version"
		label["civetweb_bare"] = "baseline: bare civetweb, same bytes"
		label["crontab_list"] = "GET /api/v1/crontab/list (100 tasks)"
		label["etcd_range"] = "baseline: etcd gateway range, same keys"
		label["crontab_list_10k"] = "GET /api/v1/crontab/list (10,000 tasks)"
		label["etcd_range_10k"] = "baseline: etcd gateway range, same keys"
		label["client_list"] = "GET /api/v1/client/list (20 agents)"
		label["etcd_range_nodes"] = "baseline: etcd gateway range, same keys"
		split("version civetweb_bare crontab_list etcd_range crontab_list_10k etcd_range_10k client_list etcd_range_nodes", keys, " ")
		printf "%-42s %12s %10s\n", "request", "requests/s", "p99"
		for (i = 1; i <= 8; i++) {
			k = keys[i]
			for (j = 1; j <= n[k]; j++) { a[j] = rps[k, j]; b[j] = p99[k, j] }
			mr[k] = median(a, n[k]); mp[k] = median(b, n[k])
			printf "%-42s %12.1f %7.2f ms\n", label[k], mr[k], mp[k]
		}
		printf "ratio version / bare civetweb (requests/s): %.2f\n", mr["version"] / mr["civetweb_bare"]
		printf "ratio crontab/list / etcd range (requests/s): %.2f\n", mr["crontab_list"] / mr["etcd_range"]
		if (mr["etcd_range_10k"] > 0)
			printf "ratio crontab/list 10,000 / etcd range (requests/s): %.2f\n", mr["crontab_list_10k"] / mr["etcd_range_10k"]
		printf "ratio client/list / etcd range (requests/s): %.2f\n", mr["client_list"] / mr["etcd_range_nodes"]
	}'
echo "cache memory: VmRSS $rss_before kB before, $rss_after kB after 10,000 tasks arrived: $(( (rss_after - rss_before) * 1024 / 10000 )) bytes per task"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
