package mocks

// Regenerate with `go generate ./mocks`; CI fails if the committed mocks
// drift from what mockgen (run through the tools module) writes.

// The SDK's public interfaces: what users' code should depend on.
//go:generate go tool -modfile=../tools/go.mod go.uber.org/mock/mockgen -typed -destination=client_mocks.go -package=mocks github.com/norikv/norikv-go/client API,KV,Batches,Vectors

// The generated Connect clients, in their simple form.
//go:generate go tool -modfile=../tools/go.mod go.uber.org/mock/mockgen -typed -destination=connect_mocks.go -package=mocks github.com/norikv/norikv-go/gen/norikv/v1/norikvv1connect KvClient,MetaClient,AdminClient,VectorClient
