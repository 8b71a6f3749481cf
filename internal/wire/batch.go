package wire

import (
	"errors"
	"fmt"
	"strings"

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
	// BatchMaxAnswerBytes bounds the values one Kv.Batch answer carries:
	// the server answers no more reads once it is reached (NotRun), the
	// first read of a batch excepted, and the client cuts its batches by
	// an estimate of it. Like a request, an answer then stays under a
	// 4 MiB message cap.
	BatchMaxAnswerBytes = 3 << 20
)

// NotRunPrefix starts the message of a batch operation the server did not
// run (code ABORTED): an earlier operation on its key in the batch was not
// applied and will be sent again (so this one must follow it, not overtake
// it), or the answer reached BatchMaxAnswerBytes. Nothing was applied, so
// the client sends it again at no cost; a client that does not know the
// prefix retries it as any ABORTED.
const NotRunPrefix = "NOT_RUN: "

// NotRun is the per-operation error of an operation the server did not
// run; why says why.
func NotRun(why string) *v1.BatchError {
	return &v1.BatchError{Code: uint32(connect.CodeAborted), Message: NotRunPrefix + why}
}

// IsNotRun reports whether be is NotRun's.
func IsNotRun(be *v1.BatchError) bool {
	return connect.Code(be.GetCode()) == connect.CodeAborted && strings.HasPrefix(be.GetMessage(), NotRunPrefix)
}

// BatchResent reports whether a batch operation that failed with code is
// sent again by the client (its retryable codes: NOT_LEADER is
// UNAVAILABLE), so a later operation on its key must not run before it.
func BatchResent(code connect.Code) bool {
	switch code {
	case connect.CodeUnavailable, connect.CodeAborted, connect.CodeResourceExhausted, connect.CodeDeadlineExceeded:
		return true
	}
	return false
}

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
