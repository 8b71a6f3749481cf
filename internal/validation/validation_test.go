package validation

import (
	"strings"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
)

func TestCheck(t *testing.T) {
	cases := []struct {
		name     string
		err      *connect.Error
		wantCode connect.Code
		wantText string
	}{
		{"ok", Check(&v1.PutRequest{Key: []byte("k")}), 0, ""},
		{"empty key", Check(&v1.PutRequest{}), connect.CodeInvalidArgument, "key"},
		{"long key", Check(&v1.GetRequest{Key: make([]byte, 1025)}), connect.CodeInvalidArgument, "1024"},
		{"bad consistency", Check(&v1.GetRequest{Key: []byte("k"), Consistency: "sometimes"}), connect.CodeInvalidArgument, "consistency"},
		{"non-UTF-8 namespace", Check(&v1.VectorGetRequest{Namespace: "a\xff", Id: "x"}), connect.CodeInvalidArgument, "namespace: value must be valid UTF-8"},
		{"non-UTF-8 id", Check(&v1.VectorDeleteRequest{Namespace: "ns", Id: "\xc3"}), connect.CodeInvalidArgument, "id: value must be valid UTF-8"},
	}
	for _, c := range cases {
		if c.wantCode == 0 {
			if c.err != nil {
				t.Errorf("%s: unexpected error %v", c.name, c.err)
			}
			continue
		}
		if c.err == nil || c.err.Code() != c.wantCode || !strings.Contains(c.err.Message(), c.wantText) {
			t.Errorf("%s: got %v, want %v containing %q", c.name, c.err, c.wantCode, c.wantText)
		}
	}
}

// The check runs on every call on both sides: a valid request costs no
// allocation beyond protovalidate's own.
func TestCheckUTF8AllocatesNothing(t *testing.T) {
	m := (&v1.VectorGetRequest{Namespace: "ns", Id: "id", Consistency: "lease"}).ProtoReflect()
	if n := testing.AllocsPerRun(100, func() { _ = checkUTF8(m) }); n != 0 {
		t.Fatalf("checkUTF8 allocates %.0f times per call", n)
	}
}

// Vector components are bounded so that distances cannot overflow float32:
// 4096 squared differences of components within ±1e10 stay below 2e24.
func TestCheckVectorMagnitude(t *testing.T) {
	big := []float32{2e19, 0}
	// 1e10 is exact in float32, so protovalidate prints the bound as written.
	const limit = "less than or equal to 10000000000"
	for name, m := range map[string]proto.Message{
		"vector": &v1.VectorInsertRequest{Namespace: "ns", Id: "a", Vector: big},
		"query":  &v1.VectorSearchRequest{Namespace: "ns", Query: []float32{0, -2e19}, K: 1},
	} {
		err := Check(m)
		idx := map[string]string{"vector": "[0]", "query": "[1]"}[name]
		if err == nil || err.Code() != connect.CodeInvalidArgument ||
			!strings.Contains(err.Message(), name+idx) || !strings.Contains(err.Message(), limit) {
			t.Errorf("%s with a 2e19 component: %v; want INVALID_ARGUMENT naming %s%s and the limit %s", name, err, name, idx, limit)
		}
	}
	for _, x := range []float32{1e10, -1e10} {
		if err := Check(&v1.VectorInsertRequest{Namespace: "ns", Id: "a", Vector: []float32{x, 0}}); err != nil {
			t.Errorf("component %g refused: %v", x, err)
		}
	}
}
