package webtest

import (
	"testing"

	"go.uber.org/goleak"
)

// The cluster, the Go client and chromedp all start goroutines; each
// must be gone when the test ends.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
