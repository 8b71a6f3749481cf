package conformance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
	"github.com/norikv/norikv-go/interceptors"
)

// This file decides which transports a target speaks, before any case
// judges it. A NoriKV server need not speak the whole matrix: the
// production server (Rust, tonic) speaks gRPC with binary protobuf over
// HTTP/2 only. Judging it over Connect or JSON would blame it for a
// protocol it never offered, so each transport is probed once with a
// cheap call, and a transport the target does not serve is skipped with
// the reason instead of failing every case. A target may instead declare
// what it speaks (Features), as implementations declare their features
// to connect-go's conformance suite.

// Features declares what a target speaks: the protocols, codecs and HTTP
// versions it serves, like the features section of connect-go's
// conformance configuration. An empty list means any of its kind. A
// transport is declared when its protocol, codec and HTTP version all are.
type Features struct {
	Protocols    []Protocol    `json:"protocols"`
	Codecs       []Codec       `json:"codecs"`
	HTTPVersions []HTTPVersion `json:"versions"`
}

// Speaks reports whether f declares t.
func (f Features) Speaks(t Transport) bool {
	return (len(f.Protocols) == 0 || slices.Contains(f.Protocols, t.Protocol)) &&
		(len(f.Codecs) == 0 || slices.Contains(f.Codecs, t.Codec)) &&
		(len(f.HTTPVersions) == 0 || slices.Contains(f.HTTPVersions, t.HTTP))
}

// featureNames maps every accepted spelling of a feature to its dimension
// and value: the matrix's short names, and connect-go conformance's
// enum names.
var featureNames = map[string]any{
	"grpc": ProtocolGRPC, "web": ProtocolGRPCWeb, "conn": ProtocolConnect,
	"PROTOCOL_GRPC": ProtocolGRPC, "PROTOCOL_GRPC_WEB": ProtocolGRPCWeb, "PROTOCOL_CONNECT": ProtocolConnect,
	"pb": CodecProto, "json": CodecJSON, "CODEC_PROTO": CodecProto, "CODEC_JSON": CodecJSON,
	"h1": HTTP1, "h2": HTTP2, "HTTP_VERSION_1": HTTP1, "HTTP_VERSION_2": HTTP2,
}

func (f *Features) add(name string) error {
	switch v := featureNames[strings.TrimSpace(name)].(type) {
	case Protocol:
		f.Protocols = append(f.Protocols, v)
	case Codec:
		f.Codecs = append(f.Codecs, v)
	case HTTPVersion:
		f.HTTPVersions = append(f.HTTPVersions, v)
	default:
		return fmt.Errorf("conformance: unknown feature %q (protocols grpc, web, conn; codecs pb, json; HTTP versions h1, h2; or connect-go's PROTOCOL_*, CODEC_*, HTTP_VERSION_*)", name)
	}
	return nil
}

// ParseFeatures reads a comma-separated list of features: "grpc,pb,h2"
// declares gRPC with binary protobuf over HTTP/2 only; "conn,grpc"
// declares both protocols with any codec over any HTTP version.
func ParseFeatures(list string) (Features, error) {
	var f Features
	for name := range strings.SplitSeq(list, ",") {
		if err := f.add(name); err != nil {
			return Features{}, err
		}
	}
	return f, nil
}

// ReadFeatures reads a features file: JSON with the lists "protocols",
// "codecs" and "versions" (HTTP versions), at the top level or under
// "features" as in connect-go's conformance configuration, in either
// spelling ParseFeatures takes, e.g.
//
//	{"features": {"versions": ["HTTP_VERSION_2"], "protocols": ["PROTOCOL_GRPC"], "codecs": ["CODEC_PROTO"]}}
func ReadFeatures(path string) (Features, error) {
	b, err := os.ReadFile(path) //nolint:gosec // G304: reading the file the caller names is this function's job
	if err != nil {
		return Features{}, err
	}
	type lists struct {
		Protocols []string `json:"protocols"`
		Codecs    []string `json:"codecs"`
		Versions  []string `json:"versions"`
	}
	var doc struct {
		lists
		Features *lists `json:"features"`
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return Features{}, fmt.Errorf("conformance: features file %s: %w", path, err)
	}
	l := doc.lists
	if doc.Features != nil {
		l = *doc.Features
	}
	var f Features
	for _, name := range slices.Concat(l.Protocols, l.Codecs, l.Versions) {
		if err := f.add(name); err != nil {
			return Features{}, fmt.Errorf("%w in %s", err, path)
		}
	}
	return f, nil
}

// served is what the run knows of one transport before judging it.
type served struct {
	ok     bool
	reason string // why not, when !ok
}

// probeWait bounds one probe: a served transport answers a Get at once.
const probeWait = 5 * time.Second

// probe sends one cheap call, Kv.Get of a key nobody wrote, over each
// transport in ts to the first address that answers any of them, and
// says which transports the target serves. Transports the declared
// features leave out are not probed. It fails when no address answers
// at all, or when one answers but serves none of the transports.
func (r *runner) probe(ctx context.Context, ts []Transport) (map[Transport]served, error) {
	runnable := runnable(ts)
	var lastErr error
	for _, addr := range r.target.Addrs {
		errs := make([]error, len(runnable))
		var wg sync.WaitGroup
		for i, t := range runnable {
			wg.Go(func() {
				pctx, cancel := context.WithTimeout(ctx, probeWait)
				defer cancel()
				_, errs[i] = r.dialers[t].to(addr).kv.Get(pctx, &v1.GetRequest{Key: []byte(r.prefix + "probe")})
			})
		}
		wg.Wait()
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		out, reached := judgeProbes(runnable, errs)
		if !reached {
			lastErr = errs[0]
			continue
		}
		if !slices.ContainsFunc(runnable, func(t Transport) bool { return out[t].ok }) && len(runnable) > 0 {
			// One line, as the CLI prints errors: the reasons are the
			// point of this error.
			reasons := make([]string, len(runnable))
			for i, t := range runnable {
				reasons[i] = t.String() + ": " + out[t].reason
			}
			return nil, fmt.Errorf("conformance: %s serves none of the transports tried (%s)", addr, strings.Join(reasons, "; "))
		}
		r.probeAddr = addr
		return out, nil
	}
	if lastErr == nil {
		return map[Transport]served{}, nil // nothing runnable to probe
	}
	return nil, fmt.Errorf("conformance: cannot reach %v: %w", r.target.Addrs, lastErr)
}

// judgeProbes turns one address's probe replies into what each transport
// serves. reached is false when no transport got any answer from the
// server (the address is down). A connection that failed on one
// transport while another got answers means that transport is not
// served; so does UNIMPLEMENTED for Kv.Get while another transport
// serves it.
func judgeProbes(ts []Transport, errs []error) (out map[Transport]served, reached bool) {
	out = map[Transport]served{}
	answered := false // the server answered some transport in its own terms
	getServed := false
	for i, t := range ts {
		switch err := errs[i]; {
		case err == nil:
			out[t] = served{ok: true}
			answered, getServed = true, true
		case notServed(t, err) != "":
			out[t] = served{reason: notServed(t, err)}
			answered = true
		case isNetError(err) || connect.CodeOf(err) == connect.CodeUnavailable && !isServerAnswer(err):
			out[t] = served{reason: "not served: the connection failed over " + t.String() + " while other transports reach the target: " + describe(err)}
		case isUnimplemented(err):
			out[t] = served{reason: "not served: Kv.Get answered " + describe(err) + " over " + t.String() + " while other transports serve it"}
			answered = true
		default:
			// The server answered in NoriKV's terms (NOT_FOUND, NOT_LEADER,
			// UNAUTHENTICATED, ...): it speaks the transport; the cases
			// judge what it said.
			out[t] = served{ok: true}
			answered, getServed = true, true
		}
	}
	for i, t := range ts {
		if isUnimplemented(errs[i]) && !getServed {
			// Kv.Get is missing everywhere: not a transport matter; the
			// cases will say so.
			out[t] = served{ok: true}
		}
	}
	return out, answered
}

// isServerAnswer reports whether err carries a server's own answer
// rather than a client-side transport failure: connect-go marks errors
// it received from the wire.
func isServerAnswer(err error) bool {
	var ce *connect.Error
	return errors.As(err, &ce) && connect.IsWireError(ce)
}

// notServed recognises the ways a server refuses a protocol, codec or
// HTTP version it does not speak, and says which, or returns "". These
// are what servers do at the protocol layer, before any NoriKV rule:
//
//   - an HTTP/2-only server (tonic, grpc-go, a gRPC-only NoriKV node)
//     answers an HTTP/1.1 request with HTTP/2 frames (interceptors.HTTP2Reply);
//   - a server answers in another protocol than asked (tonic answers
//     Connect and gRPC-Web requests in gRPC): connect-go's client reports
//     "invalid content-type";
//   - a server refuses the content type: HTTP 415 (grpc-go, connect-go);
//   - a binary-only server cannot parse a JSON message: "unmarshal",
//     "cannot parse", "failed to decode" with the JSON codec.
func notServed(t Transport, err error) string {
	msg := err.Error()
	if ce, ok := errors.AsType[*connect.Error](err); ok {
		msg = ce.Message()
	}
	switch {
	case t.HTTP == HTTP1 && http2Reply(msg):
		return "not served: the target answered HTTP/1.1 with HTTP/2 frames (it speaks HTTP/2 only)"
	case t.HTTP == HTTP1 && strings.Contains(msg, "no application protocol"):
		return "not served: the target's TLS offers no HTTP/1.1 (ALPN): " + msg
	case strings.Contains(msg, "invalid content-type:"):
		return "not served: the target answered in another protocol or codec: " + msg
	case strings.Contains(msg, "HTTP status 415") || strings.Contains(msg, "Unsupported Media Type"):
		// connect-go's words for the status; a bare "415" would also
		// match a port in a NOT_LEADER hint (127.0.0.1:41537).
		return "not served: the target refused the content type: " + describe(err)
	case t.Codec == CodecJSON && codecFailure(msg):
		return "not served: the target could not parse the JSON codec (binary protobuf only?): " + describe(err)
	}
	return ""
}

// http2Reply is interceptors.HTTP2Reply: the SDK and the suite read an
// HTTP/2-only server's answer to HTTP/1.1 alike.
func http2Reply(msg string) bool { return interceptors.HTTP2Reply(msg) }

func codecFailure(msg string) bool {
	msg = strings.ToLower(msg)
	for _, s := range []string{"unmarshal", "cannot parse", "failed to decode", "invalid wire", "wire-format", "codec"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// runnable is ts without the combinations that cannot exist (gRPC over
// HTTP/1.1).
func runnable(ts []Transport) []Transport {
	var out []Transport
	for _, t := range ts {
		if t.unsupported() == "" {
			out = append(out, t)
		}
	}
	return out
}

// speaksText says which transports a target speaks, for people: "all 10
// transports", "grpc/pb/h2 only", or the list.
func speaksText(ts []string, all int) string {
	switch {
	case len(ts) == 0:
		return "none of the transports"
	case len(ts) == all:
		return fmt.Sprintf("all %d transports", all)
	case len(ts) == 1:
		return ts[0] + " only"
	}
	return strings.Join(ts, ", ")
}

// speaks returns the transports r serves, in matrix order.
func (r *runner) speaks() []string {
	var out []string
	for _, t := range AllTransports() {
		if s, ok := r.served[t]; ok && s.ok && (r.opts.Speaks == nil || r.opts.Speaks.Speaks(t)) {
			out = append(out, t.String())
		}
	}
	return out
}

// viewOrder is the order transports are tried for the cluster view: gRPC
// over HTTP/2 first (every NoriKV server serves it), then the others
// the target serves, in matrix order.
func (r *runner) viewOrder() []Transport {
	first := Transport{ProtocolGRPC, CodecProto, HTTP2}
	var out []Transport
	if r.served[first].ok {
		out = append(out, first)
	}
	for _, t := range AllTransports() {
		if t != first && r.served[t].ok {
			out = append(out, t)
		}
	}
	return out
}
