// Package proccpu reads another process's CPU time from /proc, so the
// comparison can count the CPU of a server running in its own process
// (redis-server, a NoriKV cluster started with -server-process) in each
// operation's cost.
package proccpu

import (
	"os"
	"strconv"
	"strings"
	"time"
)

// Of returns the CPU time (user + system) process pid has used so far, 0
// if it cannot be read.
func Of(pid int) time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	// Fields after the ")" that ends the command name: utime is the 12th,
	// stime the 13th (fields 14 and 15 of proc(5)).
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	const ticksPerSecond = 100 // USER_HZ on Linux
	return time.Duration(u+st) * time.Second / ticksPerSecond
}
