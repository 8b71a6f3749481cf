package wire

import (
	"errors"
	"strings"
	"testing"

	"connectrpc.com/connect"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
)

// A per-operation error carries what the unary error did: code, message
// and the NOT_LEADER hint in both forms.
func TestBatchErrorRoundTrip(t *testing.T) {
	be := BatchErrorOf(NewNotLeaderError(7, "n2", "127.0.0.1:9002"))
	back := BatchErrorToError(be)
	h, ok := ParseNotLeader(back)
	if !ok || h.LeaderID != "n2" || h.LeaderAddr != "127.0.0.1:9002" || back.Code() != connect.CodeUnavailable {
		t.Fatalf("NOT_LEADER through a BatchError = %v (%+v, %v)", back, h, ok)
	}
	cas := BatchErrorToError(BatchErrorOf(connect.NewError(connect.CodeFailedPrecondition, errors.New("version mismatch: 1:2"))))
	if cas.Code() != connect.CodeFailedPrecondition || cas.Message() != "version mismatch: 1:2" {
		t.Fatalf("CAS mismatch through a BatchError = %v", cas)
	}
	if got := BatchErrorToError(&v1.BatchError{Code: 99, Message: "x"}).Code(); got != connect.CodeUnknown {
		t.Fatalf("an unknown code = %v, want unknown", got)
	}
}

func TestCheckBatchBytes(t *testing.T) {
	big := &v1.BatchOp{Op: &v1.BatchOp_Put{Put: &v1.PutRequest{Key: []byte("k"), Value: make([]byte, BatchMaxBytes-1)}}}
	if err := CheckBatch(&v1.BatchRequest{Ops: []*v1.BatchOp{big}}); err != nil {
		t.Fatalf("a batch at the limit: %v", err)
	}
	over := &v1.BatchOp{Op: &v1.BatchOp_Get{Get: &v1.GetRequest{Key: []byte("k")}}}
	err := CheckBatch(&v1.BatchRequest{Ops: []*v1.BatchOp{big, over}})
	if err == nil || err.Code() != connect.CodeInvalidArgument || !strings.Contains(err.Message(), "ops") || !strings.Contains(err.Message(), "3145728") {
		t.Fatalf("a batch one byte over: %v, want INVALID_ARGUMENT naming ops and the limit", err)
	}
}
