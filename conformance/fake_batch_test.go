package conformance

import (
	"context"
	"errors"

	"connectrpc.com/connect"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
)

// Batch: the fake stands for the Rust server, which predates Kv.Batch.
func (n *fakeNode) Batch(context.Context, *v1.BatchRequest) (*v1.BatchResponse, error) {
	return nil, connect.NewError(connect.CodeUnimplemented, errors.New("norikv.v1.Kv/Batch is not implemented"))
}
