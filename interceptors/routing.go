package interceptors

import (
	"context"
	"errors"
	"strings"
	"time"

	"connectrpc.com/connect"

	"github.com/norikv/norikv-go/internal/routing"
	"github.com/norikv/norikv-go/internal/topology"
	"github.com/norikv/norikv-go/internal/wire"
)

// ShardCounter is implemented by Routers whose shard count may have to be
// learnt from the cluster, or may turn out wrong. The Routing interceptor
// asks it, instead of Router.TotalShards, on every attempt.
type ShardCounter interface {
	// Shards returns the shard count to route by, waiting within ctx
	// while it is not known yet. A non-nil error fails the attempt as it
	// is (INVALID_ARGUMENT for a count that contradicts the cluster's).
	Shards(ctx context.Context) (int, error)
}

// Router picks the node for each attempt and learns from failures. The
// norikv client's topology.Manager implements it; NewRouter returns the
// standalone topology.Router under it (no watch).
type Router interface {
	// TotalShards is the cluster's shard count (0 while unknown, for a
	// Router that is also a ShardCounter).
	TotalShards() int
	// Route returns host:port for a request to shard. needLeader is false
	// only for stale_ok reads, which any replica may serve.
	Route(shard int, needLeader bool) string
	// NotLeader is the reaction to a failed attempt for shard (-1 for a
	// request not routed by shard). If err is a NOT_LEADER reply it
	// records the leader the reply names and returns notLeader true and
	// the address the next attempt goes to, or "" if there is none to
	// redirect to. It must not trust an address it does not already know
	// (a seed or a node of the view): a reply must not be able to send
	// traffic, and credentials, to any host it names.
	NotLeader(shard int, err error) (next string, notLeader bool)
	// Unreachable records that addr could not be reached.
	Unreachable(shard int, addr string)
}

// HealthRouter is implemented by Routers that track nodes which stopped
// answering; the Routing interceptor feeds it when it is there. The
// topology router behind NewRouter and the norikv client implements it.
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
	return topology.NewRouter(topology.RouterConfig{Seeds: seeds, TotalShards: totalShards})
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
// r, or any replica for stale_ok reads (GetConsistency): if r is a
// ReplicaRouter, the one it picks by latency, fed with each stale
// attempt's time (and sent away from the first request's replica for a
// hedge: WithHedge). It stores the
// node in the attempt's ctx for the HTTP client from NewHTTPClient, and
// feeds NOT_LEADER replies and connection failures back to r, and, if r is
// a HealthRouter, attempts that timed out and replies. Requests with
// neither a key nor a namespace go to the base URL unchanged.
//
// A NOT_LEADER reply comes back from the attempt carrying r's decision
// (see Router.NotLeader), which the Retry interceptor outside acts on: it
// redirects at once only when r named somewhere to go.
func Routing(r Router) connect.Interceptor {
	h, _ := r.(HealthRouter)
	sc, _ := r.(ShardCounter)
	rr, _ := r.(ReplicaRouter)
	return routingInterceptor{r: r, h: h, sc: sc, rr: rr}
}

type routingInterceptor struct {
	r  Router
	h  HealthRouter  // nil if r does not track node health
	sc ShardCounter  // nil if r's count is fixed
	rr ReplicaRouter // nil if r does not choose replicas by latency (latency.go)
}

// totalShards is the shard count for one attempt.
func (ri routingInterceptor) totalShards(ctx context.Context) (int, error) {
	if ri.sc != nil {
		return ri.sc.Shards(ctx)
	}
	return ri.r.TotalShards(), nil
}

func (ri routingInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if !keyed(req.Any()) {
			res, err := next(ctx, req)
			if err != nil {
				if pm := ProtocolMismatch(req.Peer().Protocol, TargetFrom(ctx), err); pm != nil {
					return res, pm
				}
				if _, nl := ri.r.NotLeader(-1, err); nl {
					err = &redirect{err: err} // nowhere to go: not routed
				}
			}
			return res, err
		}
		n, err := ri.totalShards(ctx)
		if err != nil {
			return nil, err
		}
		shard, needLeader, _ := ShardOf(req.Any(), n)
		var addr string
		var stale time.Time // set for a stale read fed to rr
		switch to := redirectTarget(ctx); {
		case to != "":
			addr = to // Retry redirects this attempt: the router's decision stands
		case !needLeader && ri.rr != nil:
			addr, stale = routeStale(ctx, ri.rr, shard), time.Now()
		default:
			addr = ri.r.Route(shard, needLeader)
		}
		res, err := next(WithTarget(ctx, addr), req)
		answered := true
		if err != nil {
			if pm := ProtocolMismatch(req.Peer().Protocol, addr, err); pm != nil {
				err = pm // the node answered, in a protocol the client does not speak
			} else if to, nl := ri.r.NotLeader(shard, err); nl {
				err = &redirect{err: err, to: to}
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
		if !stale.IsZero() {
			ri.rr.ReadEnded(addr, time.Since(stale), answered)
		}
		return res, err
	}
}

// redirect is a NOT_LEADER attempt error with the router's decision on
// it, so that Retry acts on the decision instead of reading the reply
// again. It wraps the reply: errors.As, errors.Is and connect.CodeOf see
// through it, and Retry returns the reply itself, not the wrapper. It is
// made only on the NOT_LEADER path, never for a successful attempt.
type redirect struct {
	err error
	to  string // the next attempt's address; "" if the router has none
}

func (r *redirect) Error() string { return r.err.Error() }
func (r *redirect) Unwrap() error { return r.err }

// redirectKey is the ctx key of the address Retry redirects an attempt
// to (redirect.to), which Routing sends it to as it is.
type redirectKey struct{}

func withRedirect(ctx context.Context, to string) context.Context {
	return context.WithValue(ctx, redirectKey{}, to)
}

// redirectTarget returns the address the attempt of ctx is redirected to,
// or "" if it is not a redirect.
func redirectTarget(ctx context.Context) string {
	to, _ := ctx.Value(redirectKey{}).(string)
	return to
}

// redirectOf returns the router's decision on a failed attempt: ok is
// false unless err is a NOT_LEADER reply that passed through Routing.
func redirectOf(err error) (rd *redirect, ok bool) {
	ok = errors.As(err, &rd)
	return rd, ok
}

func (routingInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (routingInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

// keyed reports whether msg is routed by shard: it has a key or a vector
// namespace.
func keyed(msg any) bool {
	switch msg.(type) {
	case interface{ GetKey() []byte }, interface{ GetNamespace() string }:
		return true
	}
	return false
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
