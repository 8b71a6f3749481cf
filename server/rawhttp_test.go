package server

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"
)

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// stall is a body that blocks until release is closed, then fails.
type stall chan struct{}

func (s stall) Read([]byte) (int, error) {
	<-s
	return 0, io.ErrUnexpectedEOF
}

// postConnect sends one Connect-protocol unary request and returns the
// error code from the body ("" on success) and the HTTP status.
func postConnect(t testing.TB, addr, path, ctype string, body []byte) (string, int) {
	t.Helper()
	res, err := httpClient(t, false).Post("http://"+addr+path, ctype, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if res.StatusCode == http.StatusOK {
		return "", res.StatusCode
	}
	var e struct{ Code string }
	_ = json.Unmarshal(data, &e)
	return e.Code, res.StatusCode
}
