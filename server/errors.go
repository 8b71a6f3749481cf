package server

import (
	"errors"

	"connectrpc.com/connect"
)

var errClosed = errors.New("server: cluster is closed")

func invalidArgument(msg string) error {
	return connect.NewError(connect.CodeInvalidArgument, errors.New(msg))
}

func failedPrecondition(msg string) error {
	return connect.NewError(connect.CodeFailedPrecondition, errors.New(msg))
}

func notFound(msg string) error {
	return connect.NewError(connect.CodeNotFound, errors.New(msg))
}
