package testserver

import (
	"context"
	"errors"

	"connectrpc.com/connect"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
)

// Batch is not served: the fake stands for servers that predate it.
func (h *handler) Batch(context.Context, *v1.BatchRequest) (*v1.BatchResponse, error) {
	return nil, connect.NewError(connect.CodeUnimplemented, errors.New("norikv.v1.Kv/Batch is not implemented"))
}
