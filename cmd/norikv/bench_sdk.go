package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	norikv "github.com/norikv/norikv-go/client"
	"github.com/norikv/norikv-go/internal/loadgen"
)

// sdkTarget is the SDK client as the load generator's Target: what
// norikv bench measures. A missing key is a miss, not an error. It lives
// here, not in internal/loadgen, because packages under internal/ sit
// below the SDK and do not import it.
type sdkTarget struct {
	c       *norikv.Client
	getOpts []norikv.GetOption // bench's --consistency
}

var (
	_ loadgen.Target       = sdkTarget{}
	_ loadgen.RetryCounter = sdkTarget{}
)

func (s sdkTarget) Put(ctx context.Context, key string, value []byte) error {
	_, err := s.c.Put(ctx, key, value)
	return err
}

func (s sdkTarget) Get(ctx context.Context, key string) (bool, error) {
	_, err := s.c.Get(ctx, key, s.getOpts...)
	if errors.Is(err, norikv.ErrKeyNotFound) {
		return false, nil
	}
	return err == nil, err
}

// RetryCounts reads the client's Stats.
func (s sdkTarget) RetryCounts() (retries, redirects uint64) {
	st := s.c.Stats().Requests
	return st.Retries, st.Redirects
}

// parseProtocol parses bench's --protocol: "grpc" (also ""), "connect" or
// "grpcweb" (also "grpc-web"), in any case.
func parseProtocol(s string) (norikv.Protocol, error) {
	switch strings.ToLower(s) {
	case "grpc", "":
		return norikv.ProtocolGRPC, nil
	case "connect":
		return norikv.ProtocolConnect, nil
	case "grpcweb", "grpc-web":
		return norikv.ProtocolGRPCWeb, nil
	}
	return 0, fmt.Errorf("unknown protocol %q (want grpc, connect or grpcweb)", s)
}
