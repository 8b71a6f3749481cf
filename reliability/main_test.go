package reliability

import (
	"testing"

	"go.uber.org/goleak"
)

// Every test here starts clusters, proxies and clients; all of them must
// be gone when the tests end.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
