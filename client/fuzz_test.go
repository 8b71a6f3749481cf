package norikv_test

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"connectrpc.com/connect"

	norikv "github.com/norikv/norikv-go/client"
	"github.com/norikv/norikv-go/server"
)

// FuzzClientValidation drives the SDK with arbitrary keys, values,
// namespaces, ids, vectors and k against a one-node embedded cluster. No
// input may panic; every error must be an *norikv.Error; an input the
// schema's limits reject must fail with InvalidArgument naming the field,
// and an input within them must not.
func FuzzClientValidation(f *testing.F) {
	f.Add(uint8(0), "k", []byte("v"), "fz", "id", []byte{0, 0, 128, 63}, 1)
	f.Add(uint8(0), "", []byte("v"), "", "", []byte{}, 0)
	f.Add(uint8(0), strings.Repeat("k", 1025), []byte{}, "", "", []byte{}, 0)
	f.Add(uint8(1), "\xff\xfe", []byte{}, "", "", []byte{}, 0)
	f.Add(uint8(3), "", []byte{}, "fz", "a", []byte{0, 0, 192, 127, 0, 0, 128, 63, 0, 0, 128, 63, 0, 0, 128, 63}, 0) // NaN
	f.Add(uint8(4), "", []byte{}, "fz", "", []byte{0, 0, 128, 127, 0, 0, 128, 63, 0, 0, 128, 63, 0, 0, 128, 63}, 5)  // Inf
	f.Add(uint8(4), "", []byte{}, "fz", "", []byte{0, 0, 128, 63}, 1<<40)
	f.Add(uint8(3), "", []byte{}, "\xff", "a", []byte{0, 0, 128, 63}, 0)
	f.Add(uint8(5), "", []byte{}, "new", "", []byte{}, 4097)

	c, err := server.Start(server.Config{Nodes: 1, Shards: 8})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { c.Close() })
	cl, err := norikv.New(norikv.Config{Nodes: c.Addrs(), TotalShards: 8, DisableWatch: true, Timeout: 5 * time.Second,
		Retry: norikv.RetryConfig{MaxAttempts: 1}})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { cl.Close() })
	ctx := context.Background()
	if _, err := cl.VectorCreateIndex(ctx, "fz", 4, norikv.DistanceEuclidean, norikv.IndexBruteForce); err != nil {
		f.Fatal(err)
	}

	f.Fuzz(func(t *testing.T, op uint8, key string, value []byte, ns, id string, raw []byte, k int) {
		vec := make([]float32, len(raw)/4)
		// inRange: every component finite and within the schema's ±1e10.
		inRange := true
		for i := range vec {
			vec[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
			if x := float64(vec[i]); math.IsNaN(x) || x < -1e10 || x > 1e10 {
				inRange = false
			}
		}
		// bad lists the fields out of their size or value limits; the
		// message must name each. nonUTF8 lists string fields that are
		// not UTF-8 (protobuf cannot carry them).
		var bad, nonUTF8 []string
		mismatch := false // within the schema, but not the index's dimensions: the server refuses it
		check := func(isBad bool, name string) {
			if isBad {
				bad = append(bad, name)
			}
		}
		utf := func(v, name string) {
			if !utf8.ValidString(v) {
				nonUTF8 = append(nonUTF8, name)
			}
		}
		var err error
		switch op % 6 {
		case 0:
			check(keyBad(key), "key")
			check(len(value) > 1<<20, "value")
			_, err = cl.Put(ctx, key, value)
		case 1:
			check(keyBad(key), "key")
			_, err = cl.Get(ctx, key)
		case 2:
			check(keyBad(key), "key")
			err = cl.Delete(ctx, key)
		case 3:
			check(nsBad(ns), "namespace")
			check(len(id) < 1 || len(id) > 512, "id")
			check(len(vec) < 1 || len(vec) > 4096 || !inRange, "vector")
			mismatch = ns == "fz" && len(vec) != 4
			utf(ns, "namespace")
			utf(id, "id")
			_, err = cl.VectorInsert(ctx, ns, id, vec)
		case 4:
			check(nsBad(ns), "namespace")
			check(len(vec) < 1 || len(vec) > 4096 || !inRange, "query")
			mismatch = ns == "fz" && len(vec) != 4
			check(k < 1 || k > 1024, "k")
			utf(ns, "namespace")
			_, err = cl.VectorSearch(ctx, ns, vec, k)
		case 5:
			if ns == "fz" {
				return // keep the shared index
			}
			check(nsBad(ns), "namespace")
			check(k < 1 || k > 4096, "dimensions")
			utf(ns, "namespace")
			_, err = cl.VectorCreateIndex(ctx, ns, k, norikv.DistanceCosine, norikv.IndexHNSW)
			if err == nil {
				_, _ = cl.VectorDropIndex(ctx, ns)
			}
		}
		invalid := len(bad) > 0 || len(nonUTF8) > 0 || mismatch
		if err == nil {
			if invalid {
				t.Fatalf("op %d accepted though %v are out of their limits (%v not UTF-8)", op%6, bad, nonUTF8)
			}
			return
		}
		var e *norikv.Error
		if !errors.As(err, &e) {
			t.Fatalf("op %d: error %T %v is not a *norikv.Error", op%6, err, err)
		}
		switch {
		case invalid && e.Code != connect.CodeInvalidArgument:
			t.Fatalf("op %d: %v out of limits, %v not UTF-8: got %v %q, want invalid_argument", op%6, bad, nonUTF8, e.Code, e.Message)
		case !invalid && e.Code == connect.CodeInvalidArgument:
			t.Fatalf("op %d: valid input refused: %q", op%6, e.Message)
		case !invalid && e.Code != connect.CodeNotFound && e.Code != connect.CodeFailedPrecondition:
			// Valid input: the only failures are a missing index
			// or a dimension mismatch with the shared index.
			t.Fatalf("op %d: unexpected %v %q", op%6, e.Code, e.Message)
		}
		for _, f := range bad {
			if !strings.Contains(e.Message, f) {
				t.Fatalf("op %d: message %q does not name %s", op%6, e.Message, f)
			}
		}
	})
}

func keyBad(k string) bool { return len(k) < 1 || len(k) > 1024 }

func nsBad(ns string) bool { return len(ns) < 1 || len(ns) > 256 }
