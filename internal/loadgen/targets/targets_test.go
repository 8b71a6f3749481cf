package targets

import (
	"strings"
	"testing"
)

// Every name norikv.Protocol.String prints (and bench's aliases) picks a
// transport; anything else is refused by name rather than silently
// falling back to Connect.
func TestRawTransportProtocols(t *testing.T) {
	for name, wantH2C := range map[string]bool{
		"grpc": true, "": true, "GRPC": true,
		"connect": false, "grpcweb": false, "grpc-web": false,
	} {
		tr, opts, err := RawTransport(name)
		if err != nil {
			t.Fatalf("%q: %v", name, err)
		}
		if got := tr.Protocols.UnencryptedHTTP2(); got != wantH2C {
			t.Errorf("%q: h2c %v, want %v", name, got, wantH2C)
		}
		if got := tr.Protocols.HTTP1(); got == wantH2C {
			t.Errorf("%q: HTTP/1.1 %v, want %v", name, got, !wantH2C)
		}
		if len(opts) == 0 {
			t.Errorf("%q: no client options", name)
		}
	}
	if _, _, err := RawTransport("http3"); err == nil || !strings.Contains(err.Error(), `"http3"`) {
		t.Fatalf("RawTransport(http3) = %v, want an error naming it", err)
	}
}
