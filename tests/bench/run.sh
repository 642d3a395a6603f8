#!/usr/bin/env bash
# Benchmarks (`make bench`, after `make all`). Each section measures ours and
# its baseline in the same run, sequentially, and prints a table of medians
# with the ratio. Figures are recorded in docs/BENCHMARKS.md.
#
#   tests/bench/run.sh              every section
#   tests/bench/run.sh cron ...     only the sections named
#
# A section is a function bench_<name> registered with `sections+=(name)`;
# add new ones above the "main" block at the end.
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
BUILD=${BUILD:-build}
sections=()

machine() {
	printf 'machine: %s CPUs, %s, %s\n' "$(nproc)" \
		"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')" \
		"$(uname -sr)"
}

# ---------------------------------------------------------------- cron
# ns per gc_cron_next versus gorhill/cronexpr's Expression.Next (Debian's
# golang-github-gorhill-cronexpr-dev built offline with Debian's Go): same
# expressions, starting times and call counts; checksums must agree.
#   CRON_BENCH_RUNS (default 15), CRON_BENCH_CALLS (default 50000)
sections+=(cron)
bench_cron() {
	local runs=${CRON_BENCH_RUNS:-15} calls=${CRON_BENCH_CALLS:-50000}
	local ours=$BUILD/tests/bench/bench_cron gobin=$BUILD/tests/bench/cronexpr-bench
	local src=/usr/share/gocode/src/github.com/gorhill/cronexpr
	local out_c out_go

	if [[ ! -x $ours ]]; then
		echo "bench cron: $ours missing (run make all)" >&2
		return 1
	fi
	if ! command -v go >/dev/null || [[ ! -d $src ]]; then
		echo "bench cron: needs golang-go and golang-github-gorhill-cronexpr-dev (tests/lib/deps.sh bench)" >&2
		return 1
	fi
	mkdir -p "$BUILD/go-cache"
	# GOPATH mode against the Debian source tree: no network, no modules.
	if ! GO111MODULE=off GOPATH=/usr/share/gocode GOFLAGS= GOPROXY=off \
		GOCACHE=$ROOT/$BUILD/go-cache \
		go build -o "$gobin" ./tests/bench/cronexpr; then
		echo "bench cron: cannot build the cronexpr baseline" >&2
		return 1
	fi

	echo "== Cron engine: CPU ns per next-time (UTC), median of $runs runs x $calls calls"
	machine
	echo "baseline: gorhill/cronexpr $(dpkg-query -W -f='${Version}' golang-github-gorhill-cronexpr-dev 2>/dev/null), $(go version | cut -d' ' -f3)"
	echo "compiler: $(${CC:-cc} --version | head -1)"
	out_c=$("$ours" "$runs" "$calls") || return 1
	out_go=$("$gobin" "$runs" "$calls") || return 1
	paste <(printf '%s\n' "$out_c") <(printf '%s\n' "$out_go") | awk -F'\t' '
		BEGIN {
			printf "%-24s %14s %14s %8s\n", "expression", "libgophercron", "cronexpr (Go)", "ratio"
			bad = 0; n = 0; logsum = 0
		}
		{
			if ($1 != $6 || $3 != $8) {
				printf "MISMATCH %s: checksum %s vs %s\n", $1, $3, $8
				bad = 1
			}
			r = $7 / $2
			printf "%-24s %11.1f ns %11.1f ns %7.1fx\n", $1, $2, $7, r
			n++; logsum += log(r); if (n == 1 || r < min) min = r
		}
		END {
			if (n) printf "%-24s %42s %7.1fx (lowest %.1fx)\n", "geometric mean", "", exp(logsum / n), min
			exit bad
		}' || return 1
	# The same in local time (a zone with DST), ours only: what agents
	# scheduling in local time pay for glibc's localtime_r.
	local tz='CET-1CEST,M3.5.0,M10.5.0/3'
	echo "local time (TZ=$tz), libgophercron only:"
	TZ=$tz "$ours" "$runs" "$calls" local | awk -F'\t' '{ printf "%-24s %11.1f ns\n", $1, $2 }'
}

# ---------------------------------------------------------------- exec
# Runs per second of `true` through the executor (gc_exec: own session,
# output pipe, pidfd + epoll, capture, environment, reaping) against bare
# posix_spawn + waitpid loops in C, all in the same run, interleaved.
#   EXEC_BENCH_RUNS (default 7), EXEC_BENCH_N (default 500),
#   EXEC_BENCH_IN_FLIGHT (default 16)
sections+=(exec)
bench_exec() {
	local runs=${EXEC_BENCH_RUNS:-7} n=${EXEC_BENCH_N:-500}
	local par=${EXEC_BENCH_IN_FLIGHT:-16} bin=$BUILD/tests/bench/bench_exec out
	if [[ ! -x $bin ]]; then
		echo "bench exec: $bin missing (run make all)" >&2
		return 1
	fi
	echo "== Executor: runs/second of \`true\`, median of $runs runs x $n"
	machine
	echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
	out=$("$bin" "$runs" "$n" "$par") || return 1
	awk -F'\t' -v par="$par" '
		{ rate[$1] = $2; lo[$1] = $3; hi[$1] = $4; cpu[$1] = $5 }
		END {
			printf "%-44s %10s %17s %14s\n", "variant", "runs/s", "(min..max)", "our CPU/run"
			row("bare posix_spawn(/bin/true) + waitpid", "bare_true")
			row("bare posix_spawn(/bin/sh -c true) + waitpid", "bare_sh")
			row("gc_exec, 1 in flight (sh -c true)", "exec_seq")
			row("gc_exec, " par " in flight (sh -c true)", "exec_par")
			printf "ratio gc_exec 1 in flight / bare sh -c:  %.2f\n", rate["exec_seq"] / rate["bare_sh"]
			printf "ratio gc_exec %d in flight / bare sh -c: %.2f\n", par, rate["exec_par"] / rate["bare_sh"]
			printf "CPU per run in this process, gc_exec 1 in flight / bare sh -c: %.2f\n", cpu["exec_seq"] / cpu["bare_sh"]
		}
		function row(label, k) { printf "%-44s %10.0f %8.0f..%-8.0f %11.1f us\n", label, rate[k], lo[k], hi[k], cpu[k] }
	' <<<"$out"
}

# ---------------------------------------------------------------- spawn
# Lateness of SPAWN_BENCH_N runs due at the same instant, by the real clock
# of each child (`SHELL -c 'date +%s%N'`): the floor (bare threads
# posix_spawning the same children as fast as they can, from the same
# number of threads) against gc_exec with start_at and its spawner
# threads, and gc_exec spawning inline on the caller's thread; rounds
# interleaved, medians of the rounds; see tests/bench/bench_exec.c.
#   SPAWN_BENCH_ROUNDS (5), SPAWN_BENCH_N (500), SPAWN_BENCH_THREADS (2),
#   SPAWN_BENCH_SHELLS ("/bin/sh /bin/bash")
sections+=(spawn)
bench_spawn() {
	local rounds=${SPAWN_BENCH_ROUNDS:-5} n=${SPAWN_BENCH_N:-500}
	local threads=${SPAWN_BENCH_THREADS:-2} bin=$BUILD/tests/bench/bench_exec out
	local shells
	read -ra shells <<<"${SPAWN_BENCH_SHELLS:-/bin/sh /bin/bash}"
	if [[ ! -x $bin ]]; then
		echo "bench spawn: $bin missing (run make all)" >&2
		return 1
	fi
	echo "== Spawn burst: $n runs due at one instant, lateness of each child's start by the real clock (ms), median of $rounds rounds, $threads spawner threads"
	machine
	echo "shells: $(for s in "${shells[@]}"; do printf '%s -> %s; ' "$s" "$(readlink -f "$s")"; done)"
	echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
	out=$("$bin" burst "$rounds" "$n" "$threads" "${shells[@]}") || return 1
	echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
	awk -F'\t' '
		{ k = $1 SUBSEP $2; p50[k] = $3; p99[k] = $4; mx[k] = $5; lo[k] = $6; hi[k] = $7
		  if (!($1 in seen)) { seen[$1] = 1; order[++n] = $1 } }
		END {
			printf "%-10s %-34s %8s %8s %8s %17s\n", "shell", "variant", "p50", "p99", "max", "(round p99s)"
			for (i = 1; i <= n; i++) {
				s = order[i]
				row(s, "floor", "floor: bare threads, posix_spawn")
				row(s, "exec", "gc_exec, start_at, spawner threads")
				row(s, "exec_inline", "gc_exec, start_at, inline spawns")
				f = s SUBSEP "floor"; e = s SUBSEP "exec"
				printf "%-10s %-34s %7.2fx %7.2fx %7.2fx\n", s, "ratio gc_exec / floor", p50[e] / p50[f], p99[e] / p99[f], mx[e] / mx[f]
			}
		}
		function row(s, v, label) {
			k = s SUBSEP v
			printf "%-10s %-34s %8.1f %8.1f %8.1f %8.1f..%-8.1f\n", s, label, p50[k], p99[k], mx[k], lo[k], hi[k]
		}' <<<"$out"
}

# ---------------------------------------------------------------- etcd
# etcd client latency on loopback against a harness-started single member
# (etcd-server, fsync on the local disk): put, range, claim txn, put start
# -> watch event received on another thread; baseline: a bare libcurl
# keep-alive POST of the same put body.
#   ETCD_BENCH_RUNS (default 5), ETCD_BENCH_N (default 1000)
sections+=(etcd)
bench_etcd() {
	local runs=${ETCD_BENCH_RUNS:-5} n=${ETCD_BENCH_N:-1000}
	local bin=$BUILD/tests/bench/bench_etcd out
	if [[ ! -x $bin ]]; then
		echo "bench etcd: $bin missing (run make all)" >&2
		return 1
	fi
	echo "== etcd client: ms per operation on loopback, median of $runs runs x $n"
	machine
	echo "server: $(etcd --version 2>/dev/null | head -1), 1 member; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
	out=$("$bin" "$runs" "$n") || return 1
	awk -F'\t' '
		{ med[$1] = $2; p99[$1] = $3; lo[$1] = $4; hi[$1] = $5; order[++n] = $1 }
		END {
			printf "%-22s %10s %10s %19s\n", "operation", "median", "p99", "(run medians)"
			for (i = 1; i <= n; i++) {
				k = order[i]
				printf "%-22s %7.3f ms %7.3f ms %8.3f..%-8.3f\n", k, med[k], p99[k], lo[k], hi[k]
			}
			printf "ratio put / bare libcurl put (median): %.2f\n", med["put"] / med["raw_libcurl_put"]
		}
	' <<<"$out"
}

# ---------------------------------------------------------------- store
# Task-log store on SQLite and on MariaDB (started by the test harness:
# temp datadir, loopback; buffer pool grown to 1 GiB, see bench_store.c):
# inserts per second in batches of 500 records per call, with one record
# per call as the baseline measured at the same table sizes in the same
# run; GET /log/list latency (page of 20 plus the total count) p50/p99 at
# STORE_BENCH_ROWS rows (10 projects x 20 tasks, 30 days, 10% errors).
#   STORE_BENCH_ROWS (default 1000000), STORE_BENCH_QUERIES (default 300),
#   STORE_BENCH_MYSQL_POOL (bytes, default 1073741824)
sections+=(store)
bench_store() {
	local rows=${STORE_BENCH_ROWS:-1000000} queries=${STORE_BENCH_QUERIES:-300}
	local bin=$BUILD/tests/bench/bench_store out_sq out_my
	if [[ ! -x $bin ]]; then
		echo "bench store: $bin missing (run make all)" >&2
		return 1
	fi
	echo "== Store: task logs, $rows rows, $queries queries per list shape"
	machine
	echo "sqlite $(pkg-config --modversion sqlite3), $(mariadbd --version 2>/dev/null | awk '{print $3}')"
	out_sq=$("$bin" sqlite "$rows" "$queries") || return 1
	out_my=$("$bin" mysql "$rows" "$queries") || return 1
	grep '^mysql_buffer_pool_mb' <<<"$out_my" | sed 's/\t/ /'
	join -t $'\t' <(sort <<<"$out_sq") <(sort <<<"$out_my") | awk -F'\t' '
		{ v[$1] = $2 "\t" $3; sq[$1] = $2; my[$1] = $3 }
		END {
			printf "%-40s %14s %14s\n", "", "sqlite", "mariadb"
			n = split("insert_batched_rows_per_s_median insert_single_rows_per_s_median insert_batched_rows_per_s_first_segment insert_batched_rows_per_s_last_segment insert_single_rows_per_s_first_segment insert_single_rows_per_s_last_segment load_seconds", k, " ")
			for (i = 1; i <= n; i++)
				printf "%-40s %14s %14s\n", k[i], sq[k[i]], my[k[i]]
			printf "%-40s %13.1fx %13.1fx\n", "batched / single (ratio)",
				sq["insert_batched_rows_per_s_median"] / sq["insert_single_rows_per_s_median"],
				my["insert_batched_rows_per_s_median"] / my["insert_single_rows_per_s_median"]
			n = split("project project_task project_errors project_page50 all_projects_errors", q, " ")
			for (i = 1; i <= n; i++)
				printf "%-40s %7s/%-6s %7s/%-6s\n", "list " q[i] " ms p50/p99",
					sq["list_" q[i] "_ms_p50"], sq["list_" q[i] "_ms_p99"],
					my["list_" q[i] "_ms_p50"], my["list_" q[i] "_ms_p99"]
			printf "%-40s %7s/%-6s %7s/%-6s\n", "recent 7 days ms p50/p99",
				sq["recent_all_ms_p50"], sq["recent_all_ms_p99"],
				my["recent_all_ms_p50"], my["recent_all_ms_p99"]
		}'
}

# ---------------------------------------------------------------- api
# REST API requests/s and p99 with wrk (GET /api/v1/version, GET
# /api/v1/crontab/list with 100 tasks) against a bare civetweb server and
# etcd's gateway range read, interleaved; see tests/bench/bench_api.sh.
#   API_BENCH_RUNS (default 5), API_BENCH_SECONDS (default 5),
#   API_BENCH_CONNECTIONS (default 32), API_BENCH_THREADS (default 2)
sections+=(api)
bench_api() {
	BUILD=$BUILD bash tests/bench/bench_api.sh
}

# ---------------------------------------------------------------- output
# Peak memory of gcron-service storing big outputs and listing them; see
# tests/bench/bench_output.sh (OUTPUT_BENCH_BASELINE: another build's
# gcron-service, measured in the same run).
#   OUTPUT_BENCH_MIB (15), OUTPUT_BENCH_REPORTS (4), OUTPUT_BENCH_RUNS (3)
sections+=(output)
bench_output() {
	BUILD=$BUILD bash tests/bench/bench_output.sh
}

# ---------------------------------------------------------------- loglist
# Peak memory and time of one log/list?pagesize=1000 over 1,000 rows of
# 256 KiB output; see tests/bench/bench_loglist.sh (LOGLIST_BENCH_BASELINE:
# another build's gcron-service, measured in the same run).
#   LOGLIST_BENCH_ROWS (1000), LOGLIST_BENCH_KIB (256), LOGLIST_BENCH_RUNS (3)
sections+=(loglist)
bench_loglist() {
	BUILD=$BUILD bash tests/bench/bench_loglist.sh
}

# ---------------------------------------------------------------- conn
# GET /api/v1/version latency while hundreds to thousands of idle or
# slowloris connections are held, from one address and from 20, against
# the same probe without them; see tests/bench/bench_conn.sh.
sections+=(conn)
bench_conn() {
	BUILD=$BUILD bash tests/bench/bench_conn.sh
}

# ---------------------------------------------------------------- report
# Results per second the reporter delivers (submit -> spool -> sender ->
# sink, timed from the first submit until flush returns) to a local HTTP
# receiver and into SQLite, against a bare libcurl keep-alive POST loop and
# bare batched gc_store_log_insert in the same run; plus the caller's cost
# per submit and this process's CPU time per result.
#   REPORT_BENCH_RUNS (default 7), REPORT_BENCH_N (default 5000)
sections+=(report)
bench_report() {
	local runs=${REPORT_BENCH_RUNS:-7} n=${REPORT_BENCH_N:-5000}
	local bin=$BUILD/tests/bench/bench_report out
	if [[ ! -x $bin ]]; then
		echo "bench report: $bin missing (run make all)" >&2
		return 1
	fi
	echo "== Reporter: results/second delivered, median of $runs runs x $n results"
	machine
	echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
	out=$("$bin" "$runs" "$n") || return 1
	awk -F'\t' '
		{ rate[$1] = $2; lo[$1] = $3; hi[$1] = $4; sub_us[$1] = $5; cpu[$1] = $6 }
		END {
			printf "%-46s %9s %17s %10s %10s\n", "variant", "results/s", "(min..max)", "submit us", "CPU us/res"
			row("bare curl POST loop (keep-alive)", "http_bare")
			row("reporter -> HTTP, sync=group (default)", "http_group")
			row("reporter -> HTTP, sync=always", "http_always")
			row("bare gc_store_log_insert, batches of 256", "sql_bare")
			row("reporter -> SQLite, sync=group", "sql_group")
			row("reporter -> SQLite, sync=none", "sql_none")
			row("submit only (sink down: spool append)", "spool_only")
			row("start record + submit (sink down)", "spool_started")
			printf "ratio reporter/bare, HTTP:   %.2f (CPU per result %.2fx)\n", rate["http_group"] / rate["http_bare"], cpu["http_group"] / cpu["http_bare"]
			printf "ratio reporter/bare, SQLite: %.2f (CPU per result %.2fx)\n", rate["sql_group"] / rate["sql_bare"], cpu["sql_group"] / cpu["sql_bare"]
			printf "start record: +%.1f us per run on the caller (%.2fx a submit alone)\n", sub_us["spool_started"] - sub_us["spool_only"], sub_us["spool_started"] / sub_us["spool_only"]
		}
		function row(label, k) { printf "%-46s %9.0f %8.0f..%-8.0f %10.1f %10.1f\n", label, rate[k], lo[k], hi[k], sub_us[k], cpu[k] }
	' <<<"$out"
	echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
}

# ---------------------------------------------------------------- agent
# The agent (tests/bench/bench_agent.c, one etcd member started by the
# harness): load time and RSS with AGENT_BENCH_TASKS tasks (baselines in the
# same run: a bare paged listing of the same keys, an agent with no task);
# CPU seconds and wake-ups of the agent thread over AGENT_BENCH_IDLE_SECONDS
# idle seconds with 1,000 far-future tasks, next to an agent with none;
# start lateness by the real clock (start - planned time) of 1 shell task and
# of 500 tasks due in the same second, as in-process handlers and as shell
# commands that read their own start ($EPOCHREALTIME), each next to the spawn
# floor measured right after it (as many bare posix_spawns of the same
# command at one instant, 2 threads).
#   AGENT_BENCH_TASKS (100000), AGENT_BENCH_RUNS (3),
#   AGENT_BENCH_IDLE_SECONDS (60), AGENT_BENCH_SAME_SECOND (500),
#   AGENT_BENCH_LATE_ROUNDS (5), AGENT_BENCH_ONLY (load|idle|late)
sections+=(agent)
bench_agent() {
	local bin=$BUILD/tests/bench/bench_agent out
	if [[ ! -x $bin ]]; then
		echo "bench agent: $bin missing (run make all)" >&2
		return 1
	fi
	echo "== Agent: load, idle cost, start lateness"
	machine
	echo "server: $(etcd --version 2>/dev/null | head -1), 1 member; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
	out=$("$bin") || return 1
	echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
	awk -F'\t' '
		{ v[$1] = $2 }
		END {
			if ("load_tasks" in v) {
				printf "load: %d tasks (%d distinct cron expressions), median of the runs\n", v["load_tasks"], v["load_distinct_cron"]
				printf "  %-44s %10.0f ms\n", "agent start -> all tasks scheduled", v["load_ms_median"]
				printf "  %-44s %10.0f ms\n", "baseline: bare paged listing (gc_etcd_get)", v["load_raw_listing_ms_median"]
				printf "  %-44s %10.2f\n", "ratio", v["load_ratio"]
				printf "  %-44s %10.1f MB\n", "RSS with the tasks loaded", v["load_rss_kb_median"] / 1024
				printf "  %-44s %10.1f MB\n", "peak RSS (VmHWM)", v["load_hwm_kb_median"] / 1024
				printf "  %-44s %10.1f MB\n", "baseline: RSS of an agent with no task", v["load_empty_rss_kb_median"] / 1024
				printf "  %-44s %10.0f B\n", "per task ((RSS - baseline) / tasks)", v["load_bytes_per_task"]
			}
			if ("idle_tasks" in v) {
				printf "idle: %d s\n", v["idle_seconds"]
				printf "  %-44s %8.3f s CPU, %d wake-ups\n", v["idle_tasks"] " far-future tasks", v["idle_cpu_s"], v["idle_wakeups"]
				printf "  %-44s %8.3f s CPU, %d wake-ups\n", "baseline: no task", v["idle_empty_cpu_s"], v["idle_empty_wakeups"]
			}
			if ("late_same_second" in v) {
				n = v["late_same_second"]
				printf "start lateness by the real clock (ms): 1 shell task, then %d tasks due in the same second, %d rounds\n", n, v["late_rounds"]
				printf "  %-40s %8s %8s %8s %8s\n", "", "samples", "p50", "p99", "max"
				row("1 shell task: claimed", "late_one_", "claim")
				row("1 shell task: started", "late_one_", "start")
				frow("floor: 1 bare spawn", 1)
				row(n " handlers: claimed", "late_handler_", "claim")
				row(n " handlers: started", "late_handler_", "start")
				row(n " shell tasks: claimed", "late_shell_", "claim")
				row(n " shell tasks: started", "late_shell_", "start")
				frow("floor: " n " bare spawns at once", n)
				if (v["floor_" n "_ms_p99"] > 0)
					printf "  %-40s %8s %8.2f %8.2f\n", "shell p50/p99 vs floor (ratio)", "", v["late_shell_start_ms_p50"] / v["floor_" n "_ms_p50"], v["late_shell_start_ms_p99"] / v["floor_" n "_ms_p99"]
			}
		}
		function frow(label, k) {
			printf "  %-40s %8d %8.1f %8.1f %8.1f\n", label, v["floor_" k "_samples"], v["floor_" k "_ms_p50"], v["floor_" k "_ms_p99"], v["floor_" k "_ms_max"]
		}
		function row(label, p, k) {
			printf "  %-40s %8d %8.1f %8.1f %8.1f\n", label, v[p "samples"], v[p k "_ms_p50"], v[p k "_ms_p99"], v[p k "_ms_max"]
		}
	' <<<"$out"
}

# ---------------------------------------------------------------- list
# Listing a project of LIST_BENCH_TASKS tasks (tests/bench/bench_list.c,
# one harness-started etcd member): the agent's listing (lib/agent/list.c,
# no-op callbacks) and a whole agent (start -> every task scheduled)
# against a bare paged read of the same keys (gc_etcd_get, 1,000 keys a
# page, one revision, 60 s allowed per page), interleaved in the same run;
# directly, with every answer LIST_BENCH_LATENCY_MS late, and with every
# LIST_BENCH_STALL_EVERY-th page answer held LIST_BENCH_STALL_MS (through
# tests/lib/slowproxy.py).
#   LIST_BENCH_TASKS (100000), LIST_BENCH_RUNS (3), LIST_BENCH_LATENCY_MS
#   (200), LIST_BENCH_STALL_EVERY (25), LIST_BENCH_STALL_MS (10000),
#   LIST_BENCH_CONDITIONS (direct,latency,stalls)
sections+=(list)
bench_list() {
	local bin=$BUILD/tests/bench/bench_list out
	if [[ ! -x $bin ]]; then
		echo "bench list: $bin missing (run make all)" >&2
		return 1
	fi
	echo "== Listing a large project: ms until every key is read, median of the runs"
	machine
	echo "server: $(etcd --version 2>/dev/null | head -1), 1 member; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
	out=$(GC_SRC=$ROOT "$bin") || return 1
	echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
	awk -F'\t' '
		NF == 2 { v[$1] = $2; next }
		{ k = $1 SUBSEP $2; med[k] = $3; lo[k] = $4; hi[k] = $5; to[k] = $6
		  if (!($1 in seen)) { seen[$1] = 1; order[++n] = $1 } }
		END {
			printf "%d tasks, %d runs; latency: every answer %d ms late; stalls: every %dth page answer held %d ms\n", v["tasks"], v["runs"], v["latency_ms"], v["stall_every"], v["stall_ms"]
			printf "%-10s %-34s %10s %21s %9s %9s\n", "etcd", "variant", "median", "(min..max)", "ratio", "timeouts"
			for (i = 1; i <= n; i++) {
				c = order[i]; b = med[c, "bare"]
				row(c, "bare", "bare paged read (baseline)", b)
				row(c, "listing", "agent listing (no-op callbacks)", b)
				row(c, "agent", "agent: start -> all scheduled", b)
			}
		}
		function row(c, k, label, b) {
			t = to[c, k] < 0 ? "-" : sprintf("%d", to[c, k])
			printf "%-10s %-34s %7.0f ms %9.0f..%-9.0f %8.2fx %9s\n", c, label, med[c, k], lo[c, k], hi[c, k], med[c, k] / b, t
		}' <<<"$out"
}

# ---------------------------------------------------------------- sched
# Scheduler dispatch cost (tests/bench/bench_sched.c): CPU ns per tick
# dispatched (take the earliest task, gc_cron_next, reschedule) with 1,000
# to 100,000 tasks "S M * * * * *" spread over the hour; baseline in the
# same run: the full scan GopherCron 1.10's scheduler does per wake-up;
# floor: gc_cron_next alone. Plus add / reschedule / remove by key.
#   SCHED_BENCH_RUNS (7), SCHED_BENCH_DISPATCHES (200000),
#   SCHED_BENCH_SIZES (1000,10000,100000)
sections+=(sched)
bench_sched() {
	local bin=$BUILD/tests/bench/bench_sched out
	local runs=${SCHED_BENCH_RUNS:-7} n=${SCHED_BENCH_DISPATCHES:-200000}
	if [[ ! -x $bin ]]; then
		echo "bench sched: $bin missing (run make all)" >&2
		return 1
	fi
	echo "== Scheduler: CPU ns per dispatched tick, median of $runs runs x $n dispatches"
	machine
	out=$("$bin" "$runs" "$n" "${SCHED_BENCH_SIZES:-1000,10000,100000}") || return 1
	awk -F'\t' '
		{ v[$1, $2] = $3; if (!($1 in seen)) { seen[$1] = 1; order[++k] = $1 } }
		END {
			printf "%9s %12s %14s %8s %10s %8s %12s %8s\n", "tasks", "heap (ours)", "scan (1.10)", "ratio", "cron_next", "add", "reschedule", "remove"
			for (i = 1; i <= k; i++) {
				t = order[i]
				printf "%9d %9.0f ns %11.0f ns %7.1fx %7.0f ns %5.0f ns %9.0f ns %5.0f ns\n", t,
					v[t, "heap_dispatch"], v[t, "scan_dispatch"],
					v[t, "scan_dispatch"] / v[t, "heap_dispatch"], v[t, "cron_next"],
					v[t, "add"], v[t, "reschedule"], v[t, "remove"]
			}
		}' <<<"$out"
}

# ---------------------------------------------------------------- claim
# Exactly-once throughput on a harness-started 3-member etcd cluster
# (tests/bench/bench_claim.c): runs/s through the agent's claim path
# (claim txn + end-of-run t_status delete) against bare "create if absent"
# txns/s at the same concurrency (the physical limit), interleaved; then
# three in-process agents serving N every-second handler tasks: runs/s,
# missed/doubled ticks and etcd revisions, keys written and Raft proposals
# per run (members' /metrics).
#   CLAIM_BENCH_RUNS (5), CLAIM_BENCH_SECONDS (5), CLAIM_BENCH_CONCURRENCY
#   (16), CLAIM_BENCH_TASKS (100,250,500,1000)
sections+=(claim)
bench_claim() {
	local bin=$BUILD/tests/bench/bench_claim out
	local runs=${CLAIM_BENCH_RUNS:-5} secs=${CLAIM_BENCH_SECONDS:-5} conc=${CLAIM_BENCH_CONCURRENCY:-16}
	if [[ ! -x $bin ]]; then
		echo "bench claim: $bin missing (run make all)" >&2
		return 1
	fi
	echo "== Claim path: exactly-once runs/s on a 3-member etcd cluster, median of $runs runs x ${secs} s, $conc clients"
	machine
	echo "server: $(etcd --version 2>/dev/null | head -1), 3 members on this machine; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
	out=$("$bin" "$runs" "$secs" "$conc" "${CLAIM_BENCH_TASKS:-100,250,500,1000}" 2>/dev/null) || return 1
	echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
	awk -F'\t' '
		$1 == "raw_txn_per_s" { raw = $2; rawlo = $3; rawhi = $4 }
		$1 == "claim_runs_per_s" { clm = $2; clmlo = $3; clmhi = $4 }
		$1 == "raw_revisions_per_txn" { rawrev = $2 }
		$1 == "claim_revisions_per_run" { clmrev = $2 }
		$1 ~ /^agents_/ { a[$1, $2] = $3; a2[$1, $2] = $4; if (!($2 in seen)) { seen[$2] = 1; order[++k] = $2 } }
		END {
			printf "%-52s %8s %15s %10s\n", "", "per s", "(min..max)", "revisions"
			printf "%-52s %8.0f %7.0f..%-7.0f %10.2f\n", "baseline: bare create-if-absent txn (physical limit)", raw, rawlo, rawhi, rawrev
			printf "%-52s %8.0f %7.0f..%-7.0f %10.2f\n", "claim txn + end-of-run delete (runs)", clm, clmlo, clmhi, clmrev
			printf "ratio runs / raw txns: %.2f (a run is 2 txns when claimed alone)\n", clm / raw
			printf "three agents, N tasks every second (in-process handler):\n"
			printf "%8s %10s %8s %8s %11s %10s %11s %14s\n", "tasks", "runs/s", "ratio", "missed", "doubled", "revs/run", "keys/run", "proposals/run"
			for (i = 1; i <= k; i++) {
				t = order[i]
				printf "%8d %10.0f %7.2fx %7.2f%% %11d %10.3f %11.3f %14.3f\n", t, a["agents_runs_per_s", t],
					a["agents_runs_per_s", t] / raw, a["agents_missed_pct", t], a2["agents_missed_doubled", t],
					a["agents_revisions_per_run", t], a["agents_keys_written_per_run", t], a["agents_proposals_per_run", t]
			}
		}' <<<"$out"
}

# ---------------------------------------------------------------- ingest
# Log ingest through gcron-service's POST /api/v1/report into SQLite and
# MariaDB (tests/bench/bench_ingest.c, harness-started etcd member and
# MariaDB): results/s from concurrent keep-alive clients; baselines in the
# same run: gc_store_log_insert of the same rows one per call (the store
# alone) and GET /api/v1/version (the HTTP floor). Every accepted result
# is checked to be a row.
#   INGEST_BENCH_RUNS (5), INGEST_BENCH_SECONDS (5), INGEST_BENCH_CONCURRENCY (8)
sections+=(ingest)
bench_ingest() {
	local bin=$BUILD/tests/bench/bench_ingest b out
	local runs=${INGEST_BENCH_RUNS:-5} secs=${INGEST_BENCH_SECONDS:-5} conc=${INGEST_BENCH_CONCURRENCY:-8}
	if [[ ! -x $bin ]]; then
		echo "bench ingest: $bin missing (run make all)" >&2
		return 1
	fi
	echo "== Log ingest: results/s through POST /api/v1/report, median of $runs runs x ${secs} s, $conc connections"
	machine
	echo "sqlite $(pkg-config --modversion sqlite3), $(mariadbd --version 2>/dev/null | awk '{print $3}'); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
	printf "%-8s %16s %20s %16s %8s\n" "backend" "ingest/s" "store insert/s" "version/s" "ratio"
	for b in sqlite mysql; do
		out=$(GC_BUILD=$ROOT/$BUILD "$bin" "$runs" "$secs" "$conc" "$b" 2>/dev/null) || { echo "bench ingest: $b failed" >&2; return 1; }
		awk -F'\t' -v b="$b" '
			{ m[$1] = $2; lo[$1] = $3; hi[$1] = $4 }
			END {
				printf "%-8s %6.0f (%4.0f..%-4.0f) %8.0f (%4.0f..%-4.0f) %7.0f (%5.0f..%-5.0f) %7.2f\n", (b == "mysql" ? "mariadb" : b),
					m["ingest"], lo["ingest"], hi["ingest"], m["store_insert"], lo["store_insert"], hi["store_insert"],
					m["version"], lo["version"], hi["version"], m["ingest"] / m["store_insert"]
			}' <<<"$out"
	done
	echo "ratio: ingest / store insert of the same rows, one per call"
}

# ---------------------------------------------------------------- main
want=("$@")
((${#want[@]})) || want=("${sections[@]}")
failed=()
for s in "${want[@]}"; do
	if ! declare -F "bench_$s" >/dev/null; then
		echo "unknown benchmark section '$s' (have: ${sections[*]})" >&2
		exit 2
	fi
	"bench_$s" || failed+=("$s")
	echo
done
if ((${#failed[@]})); then
	echo "failed benchmark sections: ${failed[*]}" >&2
	exit 1
fi
