//go:build unix

package vector

import "syscall"

// processCPUSeconds returns user+system CPU time of this process. The build
// benchmark reports it because wall time on a shared machine mostly
// measures other tenants; CPU-s / cores is the uncontended build time.
func processCPUSeconds() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime)
}
