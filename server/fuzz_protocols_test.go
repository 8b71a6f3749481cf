package server

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Codes a handler may answer to arbitrary bytes: the request's fault
// (malformed, out of limits), or an ordinary answer to a request that
// happened to decode. Internal, Unknown and DataLoss mean a bug — connect's
// recover hook turns a handler panic into Internal, so a panic fails too.
var anyProtocolAllowed = map[string]bool{
	"":                    true, // OK
	"invalid_argument":    true,
	"not_found":           true,
	"failed_precondition": true, // CAS lost, dimension mismatch, ...
	"already_exists":      true,
	"resource_exhausted":  true,
	"out_of_range":        true,
	"unimplemented":       true, // unsupported compression or codec
}

var grpcCodeNames = map[int]string{
	0: "", 1: "canceled", 2: "unknown", 3: "invalid_argument", 4: "deadline_exceeded", 5: "not_found",
	6: "already_exists", 7: "permission_denied", 8: "resource_exhausted", 9: "failed_precondition",
	10: "aborted", 11: "out_of_range", 12: "unimplemented", 13: "internal", 14: "unavailable",
	15: "data_loss", 16: "unauthenticated",
}

var (
	grpcStatusRE  = regexp.MustCompile(`(?i)grpc-status: ?(\d+)`)
	grpcMessageRE = regexp.MustCompile(`(?i)grpc-message: ?([^\r\n]*)`)
)

// FuzzHandlersAllProtocols extends FuzzHandlers (Connect only) to every
// protocol: arbitrary bytes go to every unary procedure over gRPC,
// gRPC-Web and Connect, binary and JSON, framed (a correct gRPC length
// prefix around the bytes) or raw (so the fuzzer also writes the
// envelopes), straight into a node's HTTP handler. The node leads every
// shard (one node), so requests that decode are served for real.
func FuzzHandlersAllProtocols(f *testing.F) {
	f.Add(uint8(0), uint8(0), true, false, []byte("\x0a\x01k\x12\x01v")) // Put k=v over gRPC
	f.Add(uint8(1), uint8(1), true, false, []byte("\x0a\x01k"))          // Get k over gRPC-Web
	f.Add(uint8(2), uint8(2), false, false, []byte("\x0a\x00"))          // Delete empty key over Connect
	f.Add(uint8(0), uint8(1), true, true, []byte(`{"key":"aw==","value":""}`))
	f.Add(uint8(5), uint8(0), true, true, []byte(`{"namespace":"n","dimensions":2,"distance":"DISTANCE_FUNCTION_COSINE","indexType":"VECTOR_INDEX_TYPE_HNSW"}`))
	f.Add(uint8(7), uint8(0), true, false, []byte("\x0a\x01n\x12\x01a\x1a\x08\x00\x00\xc0\x7f\x00\x00\x80\x7f")) // NaN, Inf
	f.Add(uint8(9), uint8(1), true, false, []byte("\x0a\x01n\x12\x04\x00\x00\x80\x3f\x18\xff\xff\xff\xff\x0f"))
	f.Add(uint8(3), uint8(0), true, false, []byte("\x08\xff\xff\xff\xff\x0f"))
	f.Add(uint8(0), uint8(0), false, false, []byte("\x00\x00\x00\x00\x64garbage")) // prefix promises 100 bytes
	f.Add(uint8(0), uint8(1), false, false, []byte("\x01\x00\x00\x00\x01x"))       // compressed flag, no encoding
	f.Add(uint8(0), uint8(0), false, false, []byte("\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"))

	c, err := Start(Config{Nodes: 1, Shards: 8})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { c.Close() })
	h := c.nodes[0].handler

	f.Fuzz(func(t *testing.T, proc, protocol uint8, frame, useJSON bool, body []byte) {
		path := fuzzProcedures[int(proc)%len(fuzzProcedures)]
		codec := "proto"
		if useJSON {
			codec = "json"
		}
		var ctype string
		switch protocol % 3 {
		case 0:
			ctype = "application/grpc+" + codec
		case 1:
			ctype = "application/grpc-web+" + codec
		case 2:
			ctype = "application/" + codec
			frame = false // Connect unary bodies are not enveloped
		}
		if frame {
			var prefix [5]byte
			binary.BigEndian.PutUint32(prefix[1:], uint32(len(body)))
			body = append(prefix[:], body...)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		req := httptest.NewRequestWithContext(ctx, http.MethodPost, path, bytes.NewReader(body))
		req.Header.Set("Content-Type", ctype)
		switch protocol % 3 {
		case 0:
			req.Proto, req.ProtoMajor, req.ProtoMinor = "HTTP/2.0", 2, 0
			req.Header.Set("Te", "trailers")
		case 2:
			req.Header.Set("Connect-Protocol-Version", "1")
		}
		rec := httptest.NewRecorder()
		// The fuzzer has no per-input timeout: a handler stuck on one
		// input would stall the run silently. Crash instead, naming it.
		watchdog := time.AfterFunc(20*time.Second, func() {
			panic(fmt.Sprintf("%s %s: handler stuck for 20s on %q", path, ctype, body))
		})
		h.ServeHTTP(rec, req)
		watchdog.Stop()
		code, msg := protocolCode(t, protocol%3, rec)
		// connect-go (like grpc-go) answers a broken envelope — a length
		// prefix promising more bytes than sent, a compressed flag with
		// no compression — with INTERNAL "protocol error: ...", and bytes
		// after a unary request's one message with INTERNAL "corrupt
		// response: N extra bytes" (gRPC-Web: "gRPC-Web protocol error: ...").
		// Those are the caller's fault, not a
		// server bug, so they pass; any other INTERNAL (a recovered panic
		// says "internal error") fails.
		framing := code == "internal" && (strings.Contains(msg, "protocol error:") || strings.HasPrefix(msg, "corrupt response:"))
		if !anyProtocolAllowed[code] && !framing {
			t.Fatalf("%s %s (%d bytes): code %q (%q); body %q", path, ctype, len(body), code, msg, rec.Body.Bytes())
		}
	})
}

// protocolCode extracts the status code name and message from a recorded
// response in any of the three protocols.
func protocolCode(t *testing.T, protocol uint8, rec *httptest.ResponseRecorder) (code, msg string) {
	res := rec.Result()
	if protocol == 2 { // Connect: HTTP status, error JSON in the body
		if res.StatusCode == http.StatusOK {
			return "", ""
		}
		var e struct{ Code, Message string }
		if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Code == "" {
			// Not a Connect error: an HTTP-level refusal (415, 405, ...).
			if res.StatusCode >= 400 && res.StatusCode < 500 {
				return "invalid_argument", http.StatusText(res.StatusCode)
			}
			t.Fatalf("HTTP %d with body %q", res.StatusCode, rec.Body.Bytes())
		}
		return e.Code, e.Message
	}
	// gRPC: grpc-status in trailers, or in headers (trailers-only);
	// gRPC-Web: in the trailer frame at the end of the body.
	s, msg := res.Trailer.Get("Grpc-Status"), res.Trailer.Get("Grpc-Message")
	if s == "" {
		s, msg = res.Header.Get("Grpc-Status"), res.Header.Get("Grpc-Message")
	}
	if s == "" {
		if m := grpcStatusRE.FindSubmatch(rec.Body.Bytes()); m != nil {
			s = string(m[1])
		}
		if m := grpcMessageRE.FindSubmatch(rec.Body.Bytes()); m != nil {
			msg = string(m[1])
		}
	}
	if s == "" {
		if res.StatusCode >= 400 && res.StatusCode < 500 {
			return "invalid_argument", http.StatusText(res.StatusCode)
		}
		t.Fatalf("no grpc-status; HTTP %d, header %v, body %q", res.StatusCode, res.Header, rec.Body.Bytes())
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("grpc-status %q", s)
	}
	if m, err := url.PathUnescape(msg); err == nil {
		msg = m
	}
	return grpcCodeNames[n], msg
}
