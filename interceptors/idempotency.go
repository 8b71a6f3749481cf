package interceptors

import (
	"crypto/rand"
	"encoding/hex"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
)

// NewIdempotencyKey returns a random 128-bit key, hex-encoded.
func NewIdempotencyKey() string {
	var raw [16]byte
	_, _ = rand.Read(raw[:]) // crypto/rand.Read never fails on supported platforms
	var out [32]byte
	hex.Encode(out[:], raw[:])
	return string(out[:])
}

// StampIdempotencyKey gives a write request without an idempotency key a
// fresh one, and reports whether it did. Reads and unknown messages are
// left alone.
func StampIdempotencyKey(msg any) bool {
	switch m := msg.(type) {
	case *v1.PutRequest:
		if m.IdempotencyKey == "" {
			m.IdempotencyKey = NewIdempotencyKey()
			return true
		}
	case *v1.DeleteRequest:
		if m.IdempotencyKey == "" {
			m.IdempotencyKey = NewIdempotencyKey()
			return true
		}
	case *v1.VectorInsertRequest:
		if m.IdempotencyKey == "" {
			m.IdempotencyKey = NewIdempotencyKey()
			return true
		}
	case *v1.VectorDeleteRequest:
		if m.IdempotencyKey == "" {
			m.IdempotencyKey = NewIdempotencyKey()
			return true
		}
	case *v1.CreateVectorIndexRequest:
		if m.IdempotencyKey == "" {
			m.IdempotencyKey = NewIdempotencyKey()
			return true
		}
	case *v1.DropVectorIndexRequest:
		if m.IdempotencyKey == "" {
			m.IdempotencyKey = NewIdempotencyKey()
			return true
		}
	}
	return false
}
