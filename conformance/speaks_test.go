package conformance

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"connectrpc.com/connect"

	"github.com/norikv/norikv-go/norikvtest"
	"github.com/norikv/norikv-go/server"
)

// TestSuiteAgainstGRPCOnly: against a cluster that speaks what the
// production server speaks (gRPC, binary protobuf, HTTP/2 only), the
// default run finds that out, judges grpc/pb/h2 alone with no failure or
// finding, reads the view over gRPC so not_leader, watch and topology
// run, and skips every other transport once with the reason.
func TestSuiteAgainstGRPCOnly(t *testing.T) {
	t.Parallel()
	fc := norikvtest.Start(t, norikvtest.WithNodes(3), norikvtest.WithShards(8), norikvtest.WithGRPCOnly(),
		norikvtest.WithDefects(server.Defects{NoVector: true, NoBatch: true}))
	// Every case but those that time themselves (ttl) or move megabytes
	// (limits): they judge the server, not what it speaks, and are slow
	// under -race on a loaded machine.
	rep, err := Run(context.Background(), Target{Addrs: fc.Addrs()[:1], AllowTopologyChanges: true}, Options{
		Cases: []string{"versions", "cas_put", "cas_delete", "delete", "idempotency", "consistency", "vector_data", "not_leader", "watch", "topology", "batch"},
	})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	_ = rep.WriteTable(&b)
	t.Log("\n" + b.String())
	if rep.Failed() || len(rep.Findings()) > 0 {
		t.Fatalf("the suite fails a conforming gRPC-only server (findings %v)", rep.Findings())
	}
	if !strings.HasPrefix(b.String(), "case        grpc/pb/h2 \n") {
		t.Errorf("the table shows other columns than grpc/pb/h2")
	}
	if !slices.Equal(rep.Speaks, []string{"grpc/pb/h2"}) || rep.ViewOver != "grpc/pb/h2" {
		t.Errorf("Speaks %v, ViewOver %q; want [grpc/pb/h2] and the view read over it", rep.Speaks, rep.ViewOver)
	}
	for _, c := range []string{"not_leader", "watch", "topology", "versions"} {
		if res, _ := rep.Lookup(c, "grpc/pb/h2"); res.Status != StatusPass {
			t.Errorf("%s over grpc/pb/h2 = %v %q, want pass", c, res.Status, res.Reason)
		}
	}
	for tr, want := range map[string]string{
		"conn/pb/h1":   "HTTP/2 frames",
		"web/json/h1":  "HTTP/2 frames",
		"conn/pb/h2":   `answered in another protocol or codec: invalid content-type: "application/grpc"`,
		"web/pb/h2":    `answered in another protocol or codec`,
		"grpc/json/h2": `answered in another protocol or codec`,
	} {
		for _, c := range rep.Cases {
			if res, _ := rep.Lookup(c, tr); res.Status != StatusSkip || !strings.Contains(res.Reason, want) {
				t.Fatalf("%s over %s = %v %q, want skip naming %q", c, tr, res.Status, res.Reason, want)
			}
		}
	}
	for _, line := range []string{"target speaks: grpc/pb/h2 only (probed; the others are not judged)", "cluster view: read over grpc/pb/h2",
		"all cases × conn/json/h1, conn/pb/h1, web/json/h1, web/pb/h1"} {
		if !strings.Contains(b.String(), line) {
			t.Errorf("table lacks %q", line)
		}
	}
}

// TestForcedUnservedTransport: a transport named in Options.Transports is
// judged even when the target does not serve it, and fails saying so.
func TestForcedUnservedTransport(t *testing.T) {
	t.Parallel()
	fc := norikvtest.Start(t, norikvtest.WithNodes(1), norikvtest.WithShards(2), norikvtest.WithGRPCOnly())
	rep, err := Run(context.Background(), Target{Addrs: fc.Addrs()}, Options{Cases: []string{"versions"}, Transports: []string{"grpc/pb/h2", "conn/pb/h1"}})
	if err != nil {
		t.Fatal(err)
	}
	if res, _ := rep.Lookup("versions", "grpc/pb/h2"); res.Status != StatusPass {
		t.Errorf("grpc/pb/h2 = %v %q, want pass", res.Status, res.Reason)
	}
	res, _ := rep.Lookup("versions", "conn/pb/h1")
	if want := "conn/pb/h1 was asked for (--transports) but the target answered HTTP/1.1 with HTTP/2 frames"; res.Status != StatusFail || !strings.HasPrefix(res.Reason, want) {
		t.Errorf("conn/pb/h1 = %v %q, want a failure starting %q", res.Status, res.Reason, want)
	}
}

// TestDeclaredFeatures: with features declared, other transports are
// skipped as not declared (a full server included), and a declared
// transport the target does not serve fails.
func TestDeclaredFeatures(t *testing.T) {
	t.Parallel()
	full := norikvtest.Start(t, norikvtest.WithNodes(1), norikvtest.WithShards(2))
	f, err := ParseFeatures("grpc,pb,h2")
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Run(context.Background(), Target{Addrs: full.Addrs()}, Options{Cases: []string{"versions"}, Speaks: &f})
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range rep.Transports {
		res, _ := rep.Lookup("versions", tr)
		switch {
		case tr == "grpc/pb/h2" && res.Status != StatusPass:
			t.Errorf("%s = %v %q, want pass", tr, res.Status, res.Reason)
		case tr != "grpc/pb/h2" && tr != "grpc/pb/h1" && tr != "grpc/json/h1" &&
			(res.Status != StatusSkip || res.Reason != "not declared: the target declares it speaks grpc/pb/h2 only"):
			t.Errorf("%s = %v %q, want skipped as not declared", tr, res.Status, res.Reason)
		}
	}
	if !rep.SpeaksDeclared || !slices.Equal(rep.Speaks, []string{"grpc/pb/h2"}) {
		t.Errorf("SpeaksDeclared %v Speaks %v", rep.SpeaksDeclared, rep.Speaks)
	}

	only := norikvtest.Start(t, norikvtest.WithNodes(1), norikvtest.WithShards(2), norikvtest.WithGRPCOnly())
	f, _ = ParseFeatures("grpc,conn,pb,h2")
	rep, err = Run(context.Background(), Target{Addrs: only.Addrs()}, Options{Cases: []string{"versions"}, Speaks: &f})
	if err != nil {
		t.Fatal(err)
	}
	if res, _ := rep.Lookup("versions", "conn/pb/h2"); res.Status != StatusFail || !strings.HasPrefix(res.Reason, "conn/pb/h2 is declared (--speaks) but the target answered in another protocol or codec") {
		t.Errorf("declared but unserved conn/pb/h2 = %v %q, want a failure saying so", res.Status, res.Reason)
	}
}

// TestFeatures: the flag and file forms, in our names and connect-go's.
func TestFeatures(t *testing.T) {
	want := Features{Protocols: []Protocol{ProtocolGRPC}, Codecs: []Codec{CodecProto}, HTTPVersions: []HTTPVersion{HTTP2}}
	if f, err := ParseFeatures("grpc,pb,h2"); err != nil || !reflect.DeepEqual(f, want) {
		t.Errorf("ParseFeatures = %+v, %v", f, err)
	}
	if _, err := ParseFeatures("grpc,xml"); err == nil || !strings.Contains(err.Error(), `unknown feature "xml"`) {
		t.Errorf("ParseFeatures(xml) = %v", err)
	}
	dir := t.TempDir()
	for name, body := range map[string]string{
		"connect.json": `{"features": {"versions": ["HTTP_VERSION_2"], "protocols": ["PROTOCOL_GRPC"], "codecs": ["CODEC_PROTO"]}}`,
		"short.json":   `{"protocols": ["grpc"], "codecs": ["pb"], "versions": ["h2"]}`,
	} {
		p := filepath.Join(dir, name)
		_ = os.WriteFile(p, []byte(body), 0o600)
		if f, err := ReadFeatures(p); err != nil || !reflect.DeepEqual(f, want) {
			t.Errorf("ReadFeatures(%s) = %+v, %v", name, f, err)
		}
	}
	p := filepath.Join(dir, "bad.json")
	_ = os.WriteFile(p, []byte(`{"protocol": ["grpc"]}`), 0o600)
	if _, err := ReadFeatures(p); err == nil || !strings.Contains(err.Error(), "protocol") {
		t.Errorf("ReadFeatures(misspelt) = %v, want an error naming the field", err)
	}
	if !want.Speaks(Transport{ProtocolGRPC, CodecProto, HTTP2}) || want.Speaks(Transport{ProtocolGRPC, CodecJSON, HTTP2}) || !(Features{}).Speaks(Transport{ProtocolConnect, CodecJSON, HTTP1}) {
		t.Error("Features.Speaks")
	}
}

// TestNotServed: the refusals seen from real gRPC-only servers (grpc-go,
// tonic) are recognised as "not served"; contract answers are not.
func TestNotServed(t *testing.T) {
	h1 := Transport{ProtocolConnect, CodecProto, HTTP1}
	cj := Transport{ProtocolConnect, CodecJSON, HTTP2}
	gj := Transport{ProtocolGRPC, CodecJSON, HTTP2}
	for _, tc := range []struct {
		t    Transport
		err  error
		want string
	}{
		{h1, connect.NewError(connect.CodeUnavailable, errors.New(`net/http: HTTP/1.x transport connection broken: malformed HTTP response "\x00\x00\x06\x04\x00\x00\x00\x00\x00\x00\x05\x00\x00@\x00"`)), "HTTP/2 frames"},
		{cj, connect.NewError(connect.CodeUnknown, errors.New("HTTP status 415 Unsupported Media Type")), "refused the content type"},
		{gj, connect.NewError(connect.CodeInternal, errors.New("grpc: error unmarshalling request: proto: cannot parse invalid wire-format data")), "could not parse the JSON codec"},
		{cj, connect.NewError(connect.CodeInternal, errors.New(`invalid content-type: "application/grpc"; expecting "application/json"`)), "another protocol"},
		{gj, connect.NewError(connect.CodeNotFound, errors.New("key not found")), ""},
		{h1, connect.NewError(connect.CodeUnavailable, errors.New("NOT_LEADER: shard 3")), ""},
		// A hint's port may hold the digits 415: it is no HTTP status.
		{h1, connect.NewError(connect.CodeUnavailable, errors.New("NOT_LEADER: this node does not lead shard 7; leader is n2 at 127.0.0.1:41537")), ""},
		{Transport{ProtocolGRPC, CodecProto, HTTP2}, connect.NewError(connect.CodeInternal, errors.New("proto: cannot parse invalid wire-format data")), ""},
	} {
		if got := notServed(tc.t, tc.err); (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("notServed(%s, %v) = %q, want %q", tc.t, tc.err, got, tc.want)
		}
	}
}

// TestJudgeProbes: a connection that fails on one transport while others
// get answers is "not served"; failing everywhere is an unreachable
// address; an answer in NoriKV's terms (NOT_FOUND, UNAUTHENTICATED) is
// served; UNIMPLEMENTED counts against a transport only when another
// serves Kv.Get.
func TestJudgeProbes(t *testing.T) {
	h1 := Transport{ProtocolConnect, CodecProto, HTTP1}
	h2 := Transport{ProtocolGRPC, CodecProto, HTTP2}
	web := Transport{ProtocolGRPCWeb, CodecProto, HTTP2}
	reset := &net.OpError{Op: "read", Net: "tcp", Err: errors.New("connection reset by peer")}
	out, reached := judgeProbes([]Transport{h1, h2, web}, []error{reset, nil, connect.NewError(connect.CodeUnimplemented, errors.New("404"))})
	if !reached || out[h1].ok || !strings.HasPrefix(out[h1].reason, "not served: the connection failed over conn/pb/h1") || !out[h2].ok || out[web].ok {
		t.Errorf("reset h1, served h2, unimplemented web: %+v, %v", out, reached)
	}
	if _, reached := judgeProbes([]Transport{h1, h2}, []error{reset, reset}); reached {
		t.Error("every transport reset: want unreached")
	}
	unimpl := connect.NewError(connect.CodeUnimplemented, errors.New("no Kv"))
	out, _ = judgeProbes([]Transport{h1, h2, web}, []error{connect.NewError(connect.CodeUnauthenticated, errors.New("token")), unimpl, unimpl})
	if !out[h1].ok || out[h2].ok {
		t.Errorf("UNAUTHENTICATED, UNIMPLEMENTED: %+v, want the first served (the cases judge the token), the second not", out)
	}
	out, _ = judgeProbes([]Transport{h1, h2}, []error{unimpl, unimpl})
	if !out[h1].ok || !out[h2].ok {
		t.Errorf("UNIMPLEMENTED everywhere: %+v, want both served (no Kv is for the cases to say)", out)
	}
}
