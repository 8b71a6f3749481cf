package wire

import (
	"errors"
	"fmt"

	"connectrpc.com/connect"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
)

// Limits of one Kv.Batch request. BatchMaxOps is also the schema's
// max_items rule; BatchMaxBytes is checked by CheckBatch because CEL
// cannot sum a list. 1000 operations of 3 MiB keys and values, with their
// idempotency keys and framing, stay under the server's 4 MiB message cap.
const (
	BatchMaxOps   = 1000
	BatchMaxBytes = 3 << 20
)

// BatchOpBytes is what op counts against BatchMaxBytes: its key and value.
func BatchOpBytes(op *v1.BatchOp) int {
	switch o := op.GetOp().(type) {
	case *v1.BatchOp_Get:
		return len(o.Get.GetKey())
	case *v1.BatchOp_Put:
		return len(o.Put.GetKey()) + len(o.Put.GetValue())
	case *v1.BatchOp_Delete:
		return len(o.Delete.GetKey())
	}
	return 0
}

// CheckBatch enforces BatchMaxBytes (the schema's rules enforce the rest),
// as INVALID_ARGUMENT naming the field and the limit.
func CheckBatch(req *v1.BatchRequest) *connect.Error {
	total := 0
	for _, op := range req.GetOps() {
		total += BatchOpBytes(op)
	}
	if total > BatchMaxBytes {
		return connect.NewError(connect.CodeInvalidArgument,
			fmt.Errorf("ops: total key and value bytes must be at most %d (got %d)", BatchMaxBytes, total))
	}
	return nil
}

// BatchErrorOf is the per-operation form of err, an operation's unary
// error: its code, message and NOT_LEADER hint.
func BatchErrorOf(err error) *v1.BatchError {
	be := &v1.BatchError{Code: uint32(connect.CodeOf(err)), Message: err.Error()}
	if ce, ok := errors.AsType[*connect.Error](err); ok {
		be.Message = ce.Message()
	}
	if h, ok := ParseNotLeader(err); ok {
		be.LeaderId, be.LeaderAddr = h.LeaderID, h.LeaderAddr
	}
	return be
}

// BatchErrorToError is the inverse of BatchErrorOf: the *connect.Error the
// operation's unary call would have failed with, NOT_LEADER hint included,
// so ParseNotLeader and every error mapping treat both alike.
func BatchErrorToError(be *v1.BatchError) *connect.Error {
	code := connect.Code(be.GetCode())
	if code == 0 || code > connect.CodeUnauthenticated {
		code = connect.CodeUnknown
	}
	err := connect.NewWireError(code, fmt.Errorf("%s", be.GetMessage()))
	if be.GetLeaderAddr() != "" {
		err.Meta().Set(HeaderLeaderHint, be.GetLeaderAddr())
		err.Meta().Set(HeaderLeaderAddr, be.GetLeaderAddr())
	}
	if be.GetLeaderId() != "" {
		err.Meta().Set(HeaderLeaderID, be.GetLeaderId())
	}
	return err
}
