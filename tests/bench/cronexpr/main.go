// Baseline for tests/bench/bench_cron.c: the same measurement with
// gorhill/cronexpr (Debian's golang-github-gorhill-cronexpr-dev), the
// parser the original GopherCron uses. Same expressions, same starting
// times (same LCG), same call counts; prints
//
//	EXPR<TAB>MEDIAN_NS<TAB>CHECKSUM<TAB>RUNS<TAB>CALLS
//
// Build offline: GO111MODULE=off GOPATH=/usr/share/gocode go build
package main

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"syscall"
	"time"
	"unsafe"

	"github.com/gorhill/cronexpr"
)

const nfrom = 1000

// Keep in sync with tests/bench/bench_cron.c.
var exprs = []string{
	"* * * * * * *",
	"*/5 * * * * * *",
	"0 0 12 * * ? *",
	"*/15 9-17 * * mon-fri",
	"0 0 * * 1#3",
	"0 0 L * *",
	"0 0 1W,15 * *",
	"0 0 29 2 *",
}

// Process CPU time (CLOCK_PROCESS_CPUTIME_ID), the clock bench_cron.c uses:
// the machines are shared and loaded, CPU time leaves out time spent
// descheduled. It includes the garbage collector's threads, part of the
// cost of cronexpr's allocations.
func cpuNow() int64 {
	var ts syscall.Timespec
	const clockProcessCPUTimeID = 2
	syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockProcessCPUTimeID, uintptr(unsafe.Pointer(&ts)), 0)
	return ts.Nano()
}

func main() {
	runs, calls := 15, 50000
	if len(os.Args) > 1 {
		runs, _ = strconv.Atoi(os.Args[1])
	}
	if len(os.Args) > 2 {
		calls, _ = strconv.Atoi(os.Args[2])
	}
	if runs < 1 || calls < nfrom {
		fmt.Fprintf(os.Stderr, "usage: cronexpr-bench [RUNS [CALLS>=%d]]\n", nfrom)
		os.Exit(2)
	}
	// Starting times spread over 2013..2033, converted outside the timed
	// loop so only Next is measured.
	var from [nfrom]time.Time
	x := uint64(42)
	for i := range from {
		x = x*6364136223846793005 + 1442695040888963407
		from[i] = time.Unix(1356998400+int64((x>>33)%631152000), 0).UTC()
	}
	for _, e := range exprs {
		expr, err := cronexpr.Parse(e)
		if err != nil {
			fmt.Fprintf(os.Stderr, "cronexpr-bench: %s: %v\n", e, err)
			os.Exit(1)
		}
		ns := make([]int64, runs)
		var sum int64
		for r := 0; r < runs; r++ {
			var s int64
			t0 := cpuNow()
			for i := 0; i < calls; i++ {
				t := expr.Next(from[i%nfrom])
				if !t.IsZero() {
					s += t.Unix()
				}
			}
			ns[r] = cpuNow() - t0
			if r == 0 {
				sum = s
			} else if s != sum {
				os.Exit(1)
			}
		}
		sort.Slice(ns, func(i, j int) bool { return ns[i] < ns[j] })
		fmt.Printf("%s\t%.1f\t%d\t%d\t%d\n", e, float64(ns[runs/2])/float64(calls), sum, runs, calls)
	}
}
