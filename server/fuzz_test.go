package server

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// fuzzProcedures are the unary procedures FuzzHandlers feeds.
var fuzzProcedures = []string{
	"/norikv.v1.Kv/Put", "/norikv.v1.Kv/Get", "/norikv.v1.Kv/Delete",
	"/norikv.v1.Admin/TransferShard", "/norikv.v1.Admin/SnapshotShard",
	"/norikv.v1.Vector/CreateIndex", "/norikv.v1.Vector/DropIndex",
	"/norikv.v1.Vector/Insert", "/norikv.v1.Vector/Delete",
	"/norikv.v1.Vector/Search", "/norikv.v1.Vector/Get",
}

// clientErrorCodes are the codes a request's content can legitimately
// cause. Anything else (internal, unknown, a 5xx) is a server bug.
var clientErrorCodes = map[string]bool{
	"invalid_argument": true, "not_found": true, "failed_precondition": true,
	"already_exists": true, "resource_exhausted": true, "out_of_range": true,
}

// FuzzHandlers sends arbitrary bytes to every unary handler over the
// Connect protocol, in both codecs. A single-node cluster leads every
// shard, so no answer is a NOT_LEADER redirect. Seed corpus:
// testdata/fuzz/FuzzHandlers.
func FuzzHandlers(f *testing.F) {
	f.Add(uint8(0), []byte("\x0a\x01k\x12\x01v"))
	f.Add(uint8(1), []byte("\x0a\x01k\x12\x06strong"))
	f.Add(uint8(11), []byte(`{"key":"aw==","value":"dg==","ttlMs":"5"}`))
	f.Add(uint8(7), []byte("\x0a\x01n\x12\x01i\x1a\x04\x00\x00\xc0\x7f")) // NaN
	c, _ := startTest(f, Config{Nodes: 1, Shards: 4})
	srv := httptest.NewServer(c.nodes[0].handler)
	defer srv.Close()
	client := srv.Client()
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		proc := fuzzProcedures[int(which)%len(fuzzProcedures)]
		ctype := "application/proto"
		if int(which)/len(fuzzProcedures)%2 == 1 {
			ctype = "application/json"
		}
		res, err := client.Post(srv.URL+proc, ctype, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		data, _ := io.ReadAll(res.Body)
		if res.StatusCode == http.StatusOK {
			return
		}
		var e struct{ Code, Message string }
		_ = json.Unmarshal(data, &e)
		if res.StatusCode >= 500 || !clientErrorCodes[e.Code] {
			t.Fatalf("%s %s %q: HTTP %d code %q: %s", proc, ctype, body, res.StatusCode, e.Code, e.Message)
		}
	})
}
