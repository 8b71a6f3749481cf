package main

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
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
