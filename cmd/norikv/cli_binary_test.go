package main

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

// Random bytes through "put -" and "get" come back byte for byte: a pipe
// is not a terminal, so get adds no newline; --json carries a non-UTF-8
// value in value_base64 and a UTF-8 one in value.
func TestBinaryValueRoundTrip(t *testing.T) {
	c, _ := newCLI(t)
	value := make([]byte, 64)
	rand.Read(value)
	value[0] = 0xff // never valid UTF-8
	c.execOK(value, "put", "b", "-")
	if got := c.execOK(nil, "get", "b"); !bytes.Equal(got, value) {
		t.Fatalf("get wrote %d bytes %x; put %d bytes %x", len(got), got, len(value), value)
	}
	var js map[string]any
	if err := json.Unmarshal(c.execOK(nil, "get", "b", "--json"), &js); err != nil {
		t.Fatal(err)
	}
	raw, err := base64.StdEncoding.DecodeString(js["value_base64"].(string))
	if _, has := js["value"]; has || err != nil || !bytes.Equal(raw, value) {
		t.Fatalf("get --json of binary = %v (decoded %x, %v)", js, raw, err)
	}

	text := []byte("line one\nline two\n")
	c.execOK(text, "put", "doc", "-")
	if got := c.execOK(nil, "get", "doc"); !bytes.Equal(got, text) {
		t.Fatalf("get = %q, want %q", got, text)
	}
	js = nil
	if err := json.Unmarshal(c.execOK(nil, "get", "doc", "--json"), &js); err != nil || js["value"] != string(text) || js["value_base64"] != nil {
		t.Fatalf("get --json of text = %v, %v", js, err)
	}
}

// serve's banner says what runs where, how to stop it and what to try
// next; the command it suggests works as printed.
func TestBinaryServeBanner(t *testing.T) {
	p := startBinary(t, "serve", "--nodes", "2", "--shards", "16", "--port", "0", "--token", "tok")
	header := p.waitLine("out: ")
	if !regexp.MustCompile(`^out: NoriKV development cluster: 2 nodes, 16 shards, replication 2 `).MatchString(header) {
		t.Fatalf("first line %q", header)
	}
	var addrs []string
	for _, id := range []string{"n1", "n2"} {
		l := p.waitLine("out: " + id + " ")
		m := regexp.MustCompile(`^out: n\d (127\.0\.0\.1:\d+)$`).FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("node line %q", l)
		}
		addrs = append(addrs, m[1])
	}
	p.waitLine("out: Ctrl-C to stop.")
	next := strings.TrimPrefix(p.waitLine("out:   norikv put "), "out:   norikv ")
	want := "put user:alice Alice --target " + strings.Join(addrs, ",") + " --token tok"
	if next != want {
		t.Fatalf("suggested %q, want %q", next, want)
	}
	// Run it as suggested (exec appends the same --target again).
	c := &cli{t: t, target: strings.Join(addrs, ",")}
	if out := string(c.execOK(nil, strings.Fields(next)...)); !strings.HasPrefix(out, "version ") {
		t.Fatalf("the suggested put printed %q", out)
	}
	if st := p.interrupt(); st != 0 {
		t.Fatalf("serve after Ctrl-C: exit status %d", st)
	}
}
