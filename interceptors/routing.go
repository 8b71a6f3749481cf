package interceptors

import (
	"context"
	"errors"
	"strings"

	"connectrpc.com/connect"

	"github.com/norikv/norikv-go/internal/routing"
	"github.com/norikv/norikv-go/internal/topology"
	"github.com/norikv/norikv-go/internal/wire"
)

// Router picks the node for each attempt and learns from failures. The
// norikv client's topology manager implements it; NewRouter returns a
// standalone one.
type Router interface {
	// TotalShards is the cluster's shard count.
	TotalShards() int
	// Route returns host:port for a request to shard. needLeader is false
	// only for stale_ok reads, which any replica may serve.
	Route(shard int, needLeader bool) string
	// NotLeader records a NOT_LEADER reply naming the leader (either may
	// be empty) and returns the address to try next, or "". It must not
	// trust an address it does not already know (a seed or a node of the
	// view): a reply must not be able to send traffic, and credentials,
	// to any host it names.
	NotLeader(shard int, leaderID, leaderAddr string) string
	// Unreachable records that addr could not be reached.
	Unreachable(shard int, addr string)
}

// HealthRouter is implemented by Routers that track nodes which stopped
// answering; the Routing interceptor feeds it when it is there. The
// topology manager behind NewRouter and the norikv client implements it.
type HealthRouter interface {
	// Suspect records that an attempt to addr for shard timed out: the
	// node accepted the request (or the connection) and did not answer
	// in time. It should be tried last until it answers again.
	Suspect(shard int, addr string)
	// Answered records any reply from addr, an error reply included. It
	// is called on every attempt, so it must be cheap.
	Answered(addr string)
}

// NewRouter returns a Router over the seed nodes (host:port) that learns
// each shard's leader from NOT_LEADER hints. It follows a hint only to one
// of nodes: a reply naming any other host is ignored, so give it every
// node of the cluster. It starts no goroutines. The norikv client adds a
// cluster watch on top of the same mechanics (and trusts the nodes of the
// view as well).
func NewRouter(nodes []string, totalShards int) Router {
	seeds := make([]string, len(nodes))
	for i, n := range nodes {
		seeds[i] = HostPort(n)
	}
	return topology.New(topology.Config{Seeds: seeds, TotalShards: totalShards})
}

// HostPort strips an http:// or https:// scheme and any path from addr.
func HostPort(addr string) string {
	if i := strings.Index(addr, "://"); i >= 0 {
		addr = addr[i+3:]
	}
	if i := strings.IndexByte(addr, '/'); i >= 0 {
		addr = addr[:i]
	}
	return addr
}

// Routing returns the interceptor that sends each attempt of a keyed
// request to the right node: the key's (GetKey) or namespace's
// (GetNamespace) shard by the contract hash, then the shard's leader from
// r, or any replica for stale_ok reads (GetConsistency). It stores the
// node in the attempt's ctx for the HTTP client from NewHTTPClient, and
// feeds NOT_LEADER hints and connection failures back to r, and, if r is a
// HealthRouter, attempts that timed out and replies. Requests with neither
// a key nor a namespace go to the base URL unchanged.
func Routing(r Router) connect.Interceptor {
	h, _ := r.(HealthRouter)
	return routingInterceptor{r: r, h: h}
}

type routingInterceptor struct {
	r Router
	h HealthRouter // nil if r does not track node health
}

func (ri routingInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		shard, needLeader, ok := ShardOf(req.Any(), ri.r.TotalShards())
		if !ok {
			return next(ctx, req)
		}
		addr := ri.r.Route(shard, needLeader)
		res, err := next(WithTarget(ctx, addr), req)
		answered := true
		if err != nil {
			if h, nl := wire.ParseNotLeader(err); nl {
				ri.r.NotLeader(shard, h.LeaderID, h.LeaderAddr)
			} else if IsConnectionFailure(err) {
				ri.r.Unreachable(shard, addr)
				answered = false
			} else if ctx.Err() != nil {
				// The attempt's (or the call's) deadline passed, or the
				// caller gave up: no reply came.
				answered = false
				if ri.h != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
					ri.h.Suspect(shard, addr)
				}
			}
		}
		if answered && ri.h != nil {
			ri.h.Answered(addr)
		}
		return res, err
	}
}

func (routingInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (routingInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

// ShardOf returns the shard of a request message: by its key if it has one,
// else by its vector namespace. needLeader is false for stale_ok reads. ok
// is false for messages with neither.
func ShardOf(msg any, totalShards int) (shard int, needLeader bool, ok bool) {
	switch m := msg.(type) {
	case interface{ GetKey() []byte }:
		shard = routing.Shard(m.GetKey(), totalShards)
	case interface{ GetNamespace() string }:
		shard = routing.ShardString(m.GetNamespace(), totalShards)
	default:
		return 0, true, false
	}
	needLeader = true
	if c, isRead := msg.(interface{ GetConsistency() string }); isRead {
		if cl, valid := wire.ParseConsistency(c.GetConsistency()); valid {
			needLeader = cl.NeedsLeader()
		}
	}
	return shard, needLeader, true
}
