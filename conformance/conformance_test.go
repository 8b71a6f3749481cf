package conformance

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/norikv/norikv-go/norikvtest"
)

// TestConformance runs the whole suite over the whole matrix; the target
// must pass with no finding. By default it judges the embedded server (3 nodes, 64 shards, a bearer token, with
// leader moves allowed); NORIKV_CONFORMANCE_TARGET=host:port[,host:port]
// points it at an external cluster instead, with NORIKV_CONFORMANCE_TOKEN
// and NORIKV_CONFORMANCE_SHARDS optional and topology changes off.
func TestConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("the full matrix takes a few seconds; skipped in -short")
	}
	target := externalTarget(t)
	embedded := target == nil
	if embedded {
		const token = "conformance-token"
		c := norikvtest.Start(t, norikvtest.WithNodes(3), norikvtest.WithShards(64), norikvtest.WithToken(token))
		target = &Target{Addrs: c.Addrs(), Token: token, TotalShards: 64, AllowTopologyChanges: true}
	}
	rep, err := Run(context.Background(), *target, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := rep.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	// Under -v the table goes to stdout unindented, readable as is;
	// otherwise t.Log keeps it for the failure output.
	if testing.Verbose() {
		fmt.Print(b.String())
	} else {
		t.Log("\n" + b.String())
	}
	if rep.Failed() || len(rep.Findings()) > 0 {
		t.Fatalf("the target violates the contract (findings %v); see the table", rep.Findings())
	}
	if res, found := rep.Lookup("batch", "grpc/pb/h2"); embedded && (!found || res.Status != StatusPass) {
		t.Errorf("batch on the embedded server = %v %q, want pass", res.Status, res.Reason)
	}
	// Our server may answer a missing key in either form while the change
	// to the contract's form lands, but must use one, and the address hint.
	if embedded && (rep.MissingKey == MissingKeyUnseen || rep.MissingKey == MissingKeyMixed || rep.LeaderHint != LeaderHintAddress) {
		t.Errorf("embedded server's forms = %q, %q; want one missing-key form and %q", rep.MissingKey, rep.LeaderHint, LeaderHintAddress)
	}
}

func externalTarget(t *testing.T) *Target {
	addrs := os.Getenv("NORIKV_CONFORMANCE_TARGET")
	if addrs == "" {
		return nil
	}
	tg := &Target{Token: os.Getenv("NORIKV_CONFORMANCE_TOKEN")}
	for a := range strings.SplitSeq(addrs, ",") {
		if a = strings.TrimSpace(a); a != "" {
			tg.Addrs = append(tg.Addrs, a)
		}
	}
	if s := os.Getenv("NORIKV_CONFORMANCE_SHARDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("NORIKV_CONFORMANCE_SHARDS=%q: want a positive integer", s)
		}
		tg.TotalShards = n
	}
	return tg
}
