#!/usr/bin/env bash
# Test runner: one summary line per suite, a total at the end, non-zero exit
# on any failure.
#   tests/run.sh all|unit|asan|integration|e2e|fuzz [SECONDS]|reliability
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export GC_SRC=$ROOT GC_BUILD=$ROOT/build GC_SHARED=$ROOT/../shared
export CMOCKA_MESSAGE_OUTPUT=stdout
LOGDIR=$ROOT/build/test-logs
mkdir -p "$LOGDIR"
total_pass=0 total_fail=0 suites_failed=()
SUITE_TIMEOUT=${SUITE_TIMEOUT:-900}

record() { # name pass fail
	printf '%-34s %d passed, %d failed\n' "$1:" "$2" "$3"
	total_pass=$((total_pass + $2))
	total_fail=$((total_fail + $3))
	(($3 == 0)) || suites_failed+=("$1")
}

# Run a cmocka binary; count "[  PASSED  ] N" / "[  FAILED  ] N" lines.
run_cmocka() { # name binary [env...]
	local name=$1 bin=$2 log=$LOGDIR/${1//\//_}.log rc p f
	shift 2
	env "$@" timeout -k 10 "$SUITE_TIMEOUT" "$bin" >"$log" 2>&1
	rc=$?
	p=$(grep -E '^\[  PASSED  \] [0-9]+ test' "$log" | awk '{s+=$4} END {print s+0}')
	f=$(grep -E '^\[  FAILED  \] [0-9]+ test' "$log" | awk '{s+=$4} END {print s+0}')
	if ((rc != 0 && f == 0)); then
		f=1
		echo "  $name exited with status $rc (log: $log)" >&2
	fi
	if ((f > 0)); then
		grep -E '^\[  (FAILED|ERROR)  \]|^\[ *ERROR|Failure!|ERROR: |runtime error|Sanitizer' "$log" | head -20 | sed 's/^/  /' >&2
		echo "  full log: $log" >&2
	fi
	record "$name" "$p" "$f"
}

# Run a shell suite; it prints "N passed, M failed" as its last such line.
run_script() { # name script
	local name=$1 script=$2 log=$LOGDIR/${1//\//_}.log rc line p f
	timeout -k 10 "$SUITE_TIMEOUT" bash "$script" >"$log" 2>&1
	rc=$?
	line=$(grep -E '^([A-Za-z-]+: )?[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
	p=$(sed -E 's/^([A-Za-z-]+: )?([0-9]+) passed.*/\2/' <<<"$line")
	f=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")
	[[ $p =~ ^[0-9]+$ ]] || p=0
	[[ $f =~ ^[0-9]+$ ]] || f=0
	if ((rc != 0 && f == 0)); then
		f=1
		echo "  $name exited with status $rc (log: $log)" >&2
	fi
	if ((f > 0)); then
		grep -E 'FAIL|not ok' "$log" | head -20 | sed 's/^/  /' >&2
		echo "  full log: $log" >&2
	fi
	record "$name" "$p" "$f"
}

suite_unit() { # build dir, label
	local b
	for b in "$1"/tests/unit/test_*; do
		[[ -x $b ]] || continue
		run_cmocka "$2/$(basename "$b" | sed 's/^test_//')" "$b" \
			ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
			UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
	done
}

suite_integration() {
	local b s
	for b in build/tests/integration/test_*; do
		[[ -x $b ]] || continue
		run_cmocka "integration/$(basename "$b" | sed 's/^test_//')" "$b"
	done
	for s in tests/integration/*.sh; do
		[[ -f $s ]] || continue
		run_script "integration/$(basename "$s" .sh)" "$s"
	done
}

suite_e2e() {
	local s
	for s in tests/e2e/*.sh; do
		[[ -f $s ]] || continue
		run_script "e2e/$(basename "$s" .sh)" "$s"
	done
}

suite_fuzz() { # seconds
	local b name corpus log p f
	for b in build/tests/fuzz/fuzz_*; do
		[[ -x $b ]] || continue
		name=${b##*/fuzz_}
		corpus=tests/fuzz/corpus/$name
		log=$LOGDIR/fuzz_$name.log
		if timeout -k 10 $(($1 + 120)) "$b" -max_total_time="$1" "$corpus" >"$log" 2>&1; then
			record "fuzz/$name" 1 0
		else
			tail -20 "$log" | sed 's/^/  /' >&2
			record "fuzz/$name" 0 1
		fi
	done
}

# Profile: GC_RELIABILITY_PROFILE=short|long (the scripts' default: long);
# the long profile takes about 9 minutes.
suite_reliability() {
	local s SUITE_TIMEOUT=${GC_RELIABILITY_TIMEOUT:-1800}
	for s in tests/reliability/*.sh; do
		[[ -f $s ]] || continue
		run_script "reliability/$(basename "$s" .sh)" "$s"
	done
}

what=${1:-all}
case $what in
unit) suite_unit build unit ;;
asan) suite_unit build/asan asan ;;
integration) suite_integration ;;
e2e) suite_e2e ;;
fuzz) suite_fuzz "${2:-60}" ;;
reliability) suite_reliability ;;
all)
	suite_unit build unit
	suite_unit build/asan asan
	suite_integration
	suite_e2e
	suite_fuzz "${FUZZ_SMOKE_SECONDS:-20}"
	# The fault-injection suite's short profile (about 3.5 minutes);
	# GC_RELIABILITY=0 leaves it out.
	[[ ${GC_RELIABILITY:-1} == 1 ]] &&
		GC_RELIABILITY_PROFILE=${GC_RELIABILITY_PROFILE:-short} suite_reliability
	;;
*) echo "usage: $0 all|unit|asan|integration|e2e|fuzz [SECONDS]|reliability" >&2; exit 2 ;;
esac

if ((${#suites_failed[@]})); then
	echo "failed suites: ${suites_failed[*]}"
fi
echo "total: $total_pass passed, $total_fail failed"
((total_fail == 0 && total_pass > 0))
