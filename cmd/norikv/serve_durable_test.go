package main

import (
	"context"
	"strings"
	"testing"
)

// serveUntilBanner runs serve (serveInProcess) until its banner is out,
// then stops it and returns stdout.
func serveUntilBanner(t *testing.T, args ...string) string {
	t.Helper()
	stdout, stderr, stop := serveInProcess(t, args...)
	if got := stop(); got != 0 {
		t.Fatalf("serve exited %d; stderr %q", got, stderr.String())
	}
	return stdout.String()
}

func TestServeDataDirAndLagFlags(t *testing.T) {
	dir := t.TempDir()
	if out := serveUntilBanner(t, "--nodes", "1", "--shards", "4", "--data-dir", dir, "--sync", "always", "--replication-lag", "50ms"); !strings.Contains(out, "(persisted in "+dir+")") {
		t.Fatalf("banner does not say where data is kept: %q", out)
	}
	if out := serveUntilBanner(t, "--nodes", "1", "--shards", "4"); !strings.Contains(out, "(in memory, nothing persisted)") {
		t.Fatalf("banner of an in-memory cluster: %q", out)
	}
	for _, tc := range []struct{ args, want string }{
		{"--sync sometimes", `--sync must be batch, always or none, not "sometimes"`},
		{"--replication-lag -1s", "--replication-lag must not be negative"},
		{"--nodes 2 --shards 4 --data-dir " + dir, "holds a cluster with nodes=1 shards=4 replication=1"},
	} {
		var stdout, stderr syncBuffer
		if got := run(context.Background(), append([]string{"serve", "--port", "0", "--no-ui"}, strings.Fields(tc.args)...), IO{&stdout, &stderr}); got == 0 || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("serve %s: exit %d, stderr %q; want it to say %q", tc.args, got, stderr.String(), tc.want)
		}
	}
}
