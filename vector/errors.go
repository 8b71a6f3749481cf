package vector

import (
	"errors"
	"fmt"
)

// Sentinel errors wrapped by [*InvalidArgumentError]; test with errors.Is.
var (
	// ErrDimensionMismatch: a vector or query has the wrong number of
	// components for the index.
	ErrDimensionMismatch = errors.New("vector: dimension mismatch")
	// ErrNonFinite: a vector or query contains NaN or ±Inf, which would
	// poison every distance it takes part in.
	ErrNonFinite = errors.New("vector: non-finite component")
	// ErrInvalidK: Search was asked for fewer than one result.
	ErrInvalidK = errors.New("vector: invalid k")
	// ErrInvalidID: an id is empty or longer than MaxIDLength bytes.
	ErrInvalidID = errors.New("vector: invalid id")
	// ErrInvalidConfig: a Config field is out of range.
	ErrInvalidConfig = errors.New("vector: invalid config")
	// ErrCapacity: the insert would exceed an index's addressing limits
	// (2^31-1 vectors for BruteForce; 2^32-2 nodes including tombstones and
	// 4 GiB of id bytes for HNSW). It is not an InvalidArgumentError.
	ErrCapacity = errors.New("vector: index capacity exceeded")
)

// InvalidArgumentError describes rejected input. Field names the offending
// argument ("vector", "vectors[3]", "query", "k", "id", "Config.Dimensions",
// ...), Reason says what was wrong including the limit, and Err is one of the
// sentinel errors above (returned by Unwrap, so errors.Is works).
type InvalidArgumentError struct {
	Field  string
	Reason string
	Err    error
}

// Error implements error.
func (e *InvalidArgumentError) Error() string {
	return fmt.Sprintf("vector: invalid %s: %s", e.Field, e.Reason)
}

// Unwrap returns the sentinel error so errors.Is(err, ErrNonFinite) etc. work.
func (e *InvalidArgumentError) Unwrap() error { return e.Err }

func invalid(sentinel error, field, format string, args ...any) error {
	return &InvalidArgumentError{Field: field, Reason: fmt.Sprintf(format, args...), Err: sentinel}
}

// MaxIDLength is the longest id accepted, in bytes. It bounds the memory a
// single bad request can pin in the id store.
const MaxIDLength = 4096

func checkID(field, id string) error {
	if id == "" {
		return invalid(ErrInvalidID, field, "must not be empty")
	}
	if len(id) > MaxIDLength {
		return invalid(ErrInvalidID, field, "length %d bytes exceeds the limit of %d", len(id), MaxIDLength)
	}
	return nil
}

// checkVector validates dimensionality and finiteness of v.
func checkVector(field string, v []float32, dims int) error {
	if len(v) != dims {
		return invalid(ErrDimensionMismatch, field, "has %d dimensions, index requires exactly %d", len(v), dims)
	}
	for i, x := range v {
		// x-x is NaN for both NaN and ±Inf: one compare instead of two calls.
		if x-x != 0 {
			return invalid(ErrNonFinite, fmt.Sprintf("%s[%d]", field, i), "value %v is not finite (NaN and ±Inf are rejected)", float64(x))
		}
	}
	return nil
}

func checkK(k int) error {
	if k < 1 {
		return invalid(ErrInvalidK, "k", "is %d, must be at least 1", k)
	}
	return nil
}
