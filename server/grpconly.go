package server

import (
	"fmt"
	"io"
	"net/http"
	"strings"
)

// This file is the gRPC-only serving mode (Config.GRPCOnly): a node that
// speaks what the production NoriKV server (Rust, tonic) speaks, gRPC with
// binary protobuf over HTTP/2, and refuses everything else the way that
// server does, so clients, the conformance suite and the examples can be
// tested against the production shape. It is one handler wrapper, the
// outermost of a node, so it composes with whatever the node does inside.
//
// How tonic refuses, and so this mode:
//
//   - HTTP/1.1 (cleartext): tonic serves HTTP/2 only; it writes its
//     SETTINGS frame, finds no HTTP/2 preface and ends the connection with
//     GOAWAY PROTOCOL_ERROR. An HTTP/1.1 client reads those frames as a
//     malformed response. Over TLS, ALPN offers h2 only and a client that
//     wants only http/1.1 fails the handshake (node.start).
//   - HTTP/2 without a gRPC content type (Connect, gRPC-Web, anything
//     else): tonic does not look at the content type; it reads the body as
//     gRPC frames and answers 200 with content-type application/grpc and
//     grpc-status INTERNAL. Clients of those protocols see a response of
//     the wrong content type. Here the call is never decoded: tonic would
//     apply a gRPC-Web write it happened to parse and this mode does not.
//   - gRPC with the JSON codec (application/grpc+json): tonic's only codec
//     is binary protobuf, the JSON body does not parse, INTERNAL.
//
// Every gRPC request passes, whatever its service: NoriKV's, health,
// reflection, and any service added later (a dev-only one included).

// grpcOnlyMessage is what every refusal says, besides what was refused.
const grpcOnlyMessage = "this node serves gRPC with binary protobuf over HTTP/2 only (like the NoriKV production server)"

// grpcOnly refuses every request but gRPC with binary protobuf over HTTP/2.
func grpcOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor < 2 {
			refuseHTTP1(w, r)
			return
		}
		ct := r.Header.Get("Content-Type")
		switch codec, grpc := grpcCodec(ct); {
		case !grpc:
			refuseGRPC(w, grpcOnlyMessage+"; content-type "+quoteOrNone(ct)+" is not gRPC")
		case codec != "" && codec != "proto":
			refuseGRPC(w, "failed to decode request: "+grpcOnlyMessage+"; codec "+codec+" is not served")
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// grpcCodec returns the codec of a gRPC content type ("" for plain
// application/grpc, "proto", "json", ...) and whether ct is gRPC at all
// (gRPC-Web is not).
func grpcCodec(ct string) (codec string, ok bool) {
	ct, _, _ = strings.Cut(ct, ";")
	ct = strings.ToLower(strings.TrimSpace(ct))
	rest, ok := strings.CutPrefix(ct, "application/grpc")
	switch {
	case !ok:
		return "", false
	case rest == "":
		return "", true
	case rest[0] == '+':
		return rest[1:], true
	}
	return "", false // application/grpc-web and kin
}

func quoteOrNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return `"` + s + `"`
}

// refuseGRPC answers as tonic does a request it cannot decode: HTTP 200,
// content-type application/grpc, and the status INTERNAL in the headers
// (a trailers-only response).
func refuseGRPC(w http.ResponseWriter, msg string) {
	h := w.Header()
	h.Set("Content-Type", "application/grpc")
	h.Set("Grpc-Status", "13") // INTERNAL
	h.Set("Grpc-Message", percentEncode(msg))
	w.WriteHeader(http.StatusOK)
}

// percentEncode encodes a grpc-message value as the gRPC spec asks:
// printable ASCII but '%' as is, every other byte as %XX.
func percentEncode(s string) string {
	var b strings.Builder
	for i := range len(s) {
		c := s[i]
		if c >= 0x20 && c <= 0x7e && c != '%' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// http2Refusal is what an HTTP/2-only server writes on an HTTP/1.1
// connection before closing it: its SETTINGS frame (here one setting,
// SETTINGS_MAX_FRAME_SIZE 16384, as grpc-go sends), then GOAWAY (last
// stream 0, PROTOCOL_ERROR). A frame is a 9-byte header (length 24 bits,
// type, flags, stream id) and a payload. No debug text: an HTTP/1.1
// client would try to read words of it as a status line.
var http2Refusal = func() []byte {
	frame := func(typ byte, payload ...byte) []byte {
		n := len(payload)
		return append([]byte{byte(n >> 16), byte(n >> 8), byte(n), typ, 0, 0, 0, 0, 0}, payload...)
	}
	const settings, goaway, maxFrameSize, protocolError = 0x4, 0x7, 0x5, 0x1
	return append(frame(settings, 0, maxFrameSize, 0, 0, 0x40, 0),
		frame(goaway, 0, 0, 0, 0, 0, 0, 0, protocolError)...)
}()

// refuseHTTP1 answers an HTTP/1.x request as an HTTP/2-only server does:
// HTTP/2 frames on the raw connection, then close. The request body is
// read first (up to the body cap): a client still writing it would report
// its failed write instead of the frames, depending on timing.
func refuseHTTP1(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, maxBodyBytes))
	hj, ok := w.(http.Hijacker)
	if !ok {
		http.Error(w, "HTTP/1.1 is not served: "+grpcOnlyMessage, http.StatusHTTPVersionNotSupported)
		return
	}
	conn, buf, err := hj.Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	_, _ = buf.Write(http2Refusal)
	_ = buf.Flush()
}
