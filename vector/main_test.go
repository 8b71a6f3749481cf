package vector

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if any goroutine (e.g. a parallel HNSW builder)
// outlives the test that started it.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
