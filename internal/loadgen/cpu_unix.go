//go:build unix

package loadgen

import (
	"syscall"
	"time"
)

// processCPU is the CPU time (user + system) this process has used. CPU
// per operation is the figure a busy shared machine disturbs least: other
// processes steal wall time from a run, not CPU time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
