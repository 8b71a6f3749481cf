package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
	"unicode/utf8"

	norikv "github.com/norikv/norikv-go/client"
)

func init() {
	register(&command{Name: "get", Summary: "read a key's value", Run: runGet})
	register(&command{Name: "put", Summary: "write a key (TTL, compare-and-swap, idempotency key)", Run: runPut})
	register(&command{Name: "del", Summary: "delete a key (compare-and-swap, idempotency key)", Run: runDel})
}

// stdin is put's source for the value "-"; a variable so tests can set it.
var stdin io.Reader = os.Stdin

const getExamples = `  norikv get user:alice
      writes the value byte for byte; on a terminal a newline follows it
      (unless the value ends with one), in a pipe or a file nothing does,
      so "norikv get k > f" saves exactly what "norikv put k - < f" wrote
  norikv get user:alice --json
      {"key":"user:alice","found":true,"value":"Alice","version":"1:5"}
      a value that is not UTF-8 comes as "value_base64" instead of "value";
      a missing key prints {"key":"user:alice","found":false} (exit status 3)
  norikv get user:alice --consistency linearizable --target node1:9001,node2:9001
` + exitStatusHelp

// parseConsistency parses a --consistency flag.
func parseConsistency(s string) (norikv.Consistency, error) {
	switch s {
	case "lease":
		return norikv.ConsistencyLease, nil
	case "linearizable":
		return norikv.ConsistencyLinearizable, nil
	case "stale_ok", "stale":
		return norikv.ConsistencyStaleOK, nil
	}
	return 0, usagef("--consistency %q: want lease, linearizable or stale_ok", s)
}

func runGet(ctx context.Context, o IO, args []string) error {
	fs := newFlagSet(o, "get", "<key> [flags]", getExamples)
	cf := addClientFlags(fs)
	consistency := fs.String("consistency", "lease", "read consistency: lease, linearizable or stale_ok")
	pos, err := fs.parseInterspersed(args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, "<key>"); err != nil {
		return err
	}
	level, err := parseConsistency(*consistency)
	if err != nil {
		return err
	}
	c, err := cf.dial(ctx, fs)
	if err != nil {
		return err
	}
	defer c.Close()
	res, err := c.Get(ctx, pos[0], norikv.WithConsistency(level))
	if errors.Is(err, norikv.ErrKeyNotFound) {
		if cf.json {
			if err := printJSON(o.Stdout, getJSON{Key: pos[0]}); err != nil {
				return err
			}
		}
		return relabel(err, "key %q not found", pos[0])
	}
	if err != nil {
		return err
	}
	if cf.json {
		out := getJSON{Key: pos[0], Found: true, Version: res.Version.String(), Meta: res.Meta}
		if utf8.Valid(res.Value) {
			out.Value = new(string(res.Value))
		} else {
			// JSON strings are UTF-8: encoding/json would replace every
			// invalid byte with U+FFFD, corrupting the value.
			out.ValueBase64 = res.Value
		}
		return printJSON(o.Stdout, out)
	}
	if _, err := o.Stdout.Write(res.Value); err != nil {
		return err
	}
	// The newline is for a person reading a terminal only: in a pipe or a
	// file the value must be byte-exact (binary values, round trips).
	if isTerminal(o.Stdout) && !bytes.HasSuffix(res.Value, []byte("\n")) {
		_, err = io.WriteString(o.Stdout, "\n")
	}
	return err
}

// getJSON is get --json's object. Exactly one of Value and ValueBase64 is
// set when Found.
type getJSON struct {
	Key         string            `json:"key"`
	Found       bool              `json:"found"`
	Value       *string           `json:"value,omitempty"`
	ValueBase64 []byte            `json:"value_base64,omitempty"` // encoding/json writes []byte as base64
	Version     string            `json:"version,omitempty"`
	Meta        map[string]string `json:"meta,omitempty"`
}

const putExamples = `  norikv put user:alice Alice
      prints the new version, e.g. "version 1:5"
  norikv put session:abc token --ttl 30s
  norikv put counter 42 --if-match 1:5
      compare-and-swap: fails with exit status 4 if counter is no longer at version 1:5
  norikv put order:7 paid --idempotency-key order-7-paid
      repeating this applies it once and prints the same version
  echo -n 'from stdin' | norikv put doc:1 -
` + exitStatusHelp

func runPut(ctx context.Context, o IO, args []string) error {
	fs := newFlagSet(o, "put", "<key> <value|-> [flags]", putExamples)
	cf := addClientFlags(fs)
	var ttl time.Duration
	fs.durationVar(&ttl, "ttl", 0, "expire the key after this `duration` (with its unit: 30s, 500ms, 5m)")
	w := addWriteFlags(fs)
	pos, err := fs.parseInterspersed(args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, "<key>", "<value>"); err != nil {
		return err
	}
	if ttl < 0 {
		return usagef("--ttl must not be negative")
	}
	opts, err := w.options()
	if err != nil {
		return err
	}
	value := []byte(pos[1])
	if pos[1] == "-" {
		if value, err = io.ReadAll(stdin); err != nil {
			return err
		}
	}
	putOpts := make([]norikv.PutOption, 0, len(opts)+1)
	for _, op := range opts {
		putOpts = append(putOpts, op)
	}
	if ttl > 0 {
		putOpts = append(putOpts, norikv.WithTTL(ttl))
	}
	c, err := cf.dial(ctx, fs)
	if err != nil {
		return err
	}
	defer c.Close()
	v, err := c.Put(ctx, pos[0], value, putOpts...)
	if err != nil {
		return w.explain(err)
	}
	if cf.json {
		return printJSON(o.Stdout, struct {
			Key     string  `json:"key"`
			Version string  `json:"version"`
			TTL     float64 `json:"ttl_ms,omitempty"`
		}{pos[0], v.String(), millis(ttl)})
	}
	_, err = fmt.Fprintf(o.Stdout, "version %s\n", v.String())
	return err
}

const delExamples = `  norikv del user:alice
      prints "deleted", or "not found (nothing deleted)" for a missing key
      (exit status 0 either way: the key is gone)
  norikv del counter --if-match 1:7
      only if counter is still at version 1:7 (else exit status 4)
` + exitStatusHelp

func runDel(ctx context.Context, o IO, args []string) error {
	fs := newFlagSet(o, "del", "<key> [flags]", delExamples)
	cf := addClientFlags(fs)
	w := addWriteFlags(fs)
	pos, err := fs.parseInterspersed(args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, "<key>"); err != nil {
		return err
	}
	opts, err := w.options()
	if err != nil {
		return err
	}
	delOpts := make([]norikv.DeleteOption, 0, len(opts))
	for _, op := range opts {
		delOpts = append(delOpts, op)
	}
	c, err := cf.dial(ctx, fs)
	if err != nil {
		return err
	}
	defer c.Close()
	// A batch of one is sent as a single Delete call; unlike
	// Client.Delete, its result says whether a live key was removed
	// (DeleteResponse.tombstoned).
	var b norikv.Batch
	d := b.Delete(pos[0], delOpts...)
	_ = c.Do(ctx, &b) // its error is d's
	deleted, err := d.Result()
	if err != nil {
		return w.explain(err)
	}
	return report(o, cf, struct {
		Key     string `json:"key"`
		Deleted bool   `json:"deleted"`
	}{pos[0], deleted},
		ifElse(deleted, "deleted", "not found (nothing deleted)"))
}

// writeFlags are the flags put and del share.
type writeFlags struct {
	ifMatch, idemKey string
}

func addWriteFlags(fs *flagSet) *writeFlags {
	w := &writeFlags{}
	fs.StringVar(&w.ifMatch, "if-match", "", "compare-and-swap: apply only if the key is at `term:index`")
	fs.StringVar(&w.idemKey, "idempotency-key", "", "apply the write once under this `key`, however often it is repeated")
	return w
}

// writeOption is an option valid for both Put and Delete.
type writeOption interface {
	norikv.PutOption
	norikv.DeleteOption
}

func (w *writeFlags) options() ([]writeOption, error) {
	var opts []writeOption
	if w.ifMatch != "" {
		v, err := parseVersion(w.ifMatch)
		if err != nil {
			return nil, err
		}
		opts = append(opts, norikv.IfMatch(v))
	}
	if w.idemKey != "" {
		opts = append(opts, norikv.WithIdempotencyKey(w.idemKey))
	}
	return opts, nil
}

// explain turns a lost compare-and-swap into a sentence that says what to
// do; the exit status (4) still comes from the wrapped sentinel.
func (w *writeFlags) explain(err error) error {
	if errors.Is(err, norikv.ErrVersionMismatch) {
		return relabel(err, "version mismatch: the key is no longer at version %s (read it again)", w.ifMatch)
	}
	return err
}
