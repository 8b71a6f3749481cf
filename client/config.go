package norikv

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"time"

	"connectrpc.com/connect"
)

// Protocol selects the RPC protocol. The embedded server speaks all three
// (unless started gRPC-only); the production NoriKV server speaks gRPC
// only, and a client set to another protocol gets an error matching
// ErrProtocolNotServed from Connect and every call.
type Protocol int

const (
	// ProtocolGRPC is gRPC over HTTP/2 (h2c without TLS). The default.
	ProtocolGRPC Protocol = iota
	// ProtocolConnect is the Connect protocol, over HTTP/1.1 or HTTP/2.
	ProtocolConnect
	// ProtocolGRPCWeb is gRPC-Web, over HTTP/1.1 or HTTP/2.
	ProtocolGRPCWeb
)

// String returns "grpc", "connect" or "grpcweb".
func (p Protocol) String() string {
	switch p {
	case ProtocolGRPC:
		return "grpc"
	case ProtocolConnect:
		return "connect"
	case ProtocolGRPCWeb:
		return "grpcweb"
	}
	return fmt.Sprintf("Protocol(%d)", int(p))
}

// connectName is the protocol's name in connect-go (Peer.Protocol).
func (p Protocol) connectName() string {
	switch p {
	case ProtocolConnect:
		return connect.ProtocolConnect
	case ProtocolGRPCWeb:
		return connect.ProtocolGRPCWeb
	}
	return connect.ProtocolGRPC
}

// HTTPVersion selects the HTTP version under the protocol.
type HTTPVersion int

const (
	// HTTPAuto is HTTP/2 for gRPC and HTTP/1.1 for Connect and gRPC-Web.
	HTTPAuto HTTPVersion = iota
	// HTTP1 is HTTP/1.1. Not valid with ProtocolGRPC.
	HTTP1
	// HTTP2 is HTTP/2: over TLS when Config.TLS is set or a node is
	// https://, else cleartext h2c.
	HTTP2
)

// RetryConfig configures retries. Zero fields take the defaults below.
// Values that cannot be what was meant make New fail with INVALID_ARGUMENT
// naming the field: a duration above 0 but under 1ms (time.Duration counts
// nanoseconds: 100 is 100ns, not 100ms), a negative duration or count
// where negative means nothing.
type RetryConfig struct {
	// MaxAttempts bounds attempts per call, the first included.
	// Default 5; 1 disables retries. Not negative.
	MaxAttempts int
	// InitialDelay is the first backoff; it doubles per retry. Default
	// 50ms. At least 1ms if set.
	InitialDelay time.Duration
	// MaxDelay caps one backoff. Default 2s. At least 1ms and not below
	// InitialDelay if set.
	MaxDelay time.Duration
	// Jitter adds uniform random [0, Jitter) to each backoff. Default
	// 100ms; negative disables.
	Jitter time.Duration
	// AttemptTimeout bounds one attempt. An attempt that hits it is
	// retried on another node, and its node is marked suspect: tried last
	// until it answers again. Default: a quarter of Config.Timeout, 1.25s
	// with the default 5s (at least 50ms, at most Timeout); none if
	// Timeout is negative. A healthy node answers in milliseconds; a hung
	// one (it accepts connections and never replies) then costs a quarter
	// of the call's time, leaving room for three more attempts. Set it
	// above your slowest legitimate call (a large vector search, say), or
	// negative for no per-attempt bound.
	AttemptTimeout time.Duration
	// MaxRedirects bounds NOT_LEADER redirects per call; they are followed
	// without backoff and do not count as attempts. Default 3.
	MaxRedirects int
	// BudgetRatio is the share of calls that may be retried (token
	// bucket): 0.2 is 20%. Default 0.2; negative disables the budget.
	// At least 0.001 and at most 1 if positive.
	BudgetRatio float64
	// BudgetFloor is the retries available before traffic earns any.
	// Default 10. Not negative.
	BudgetFloor int
}

// Config configures a Client. Only Nodes is required.
type Config struct {
	// Nodes are seed nodes, "host:port" or "http(s)://host:port". At least
	// one. The client learns the rest of the cluster from them.
	Nodes []string
	// TotalShards is the cluster's shard count, which keys are routed by.
	// 0 (the default) learns it from the cluster view: Connect fetches
	// it, or the first call waits for it within its deadline. A cluster
	// that does not serve Meta.WatchCluster cannot tell: there, set it,
	// or Connect and calls fail with INVALID_ARGUMENT saying so. When set
	// and the view says otherwise, Connect and calls fail with
	// INVALID_ARGUMENT naming both counts, rather than misrouting.
	TotalShards int
	// Timeout bounds each call, retries included, unless the ctx has an
	// earlier deadline. Default 5s; negative means no bound beyond ctx.
	// At least 1ms if positive: 5000 is 5µs, write 5 * time.Second.
	Timeout time.Duration
	// Retry is the retry policy.
	Retry RetryConfig
	// Protocol is the RPC protocol. Default ProtocolGRPC.
	Protocol Protocol
	// HTTPVersion is the HTTP version. Default HTTPAuto.
	HTTPVersion HTTPVersion
	// JSON sends protobuf JSON instead of binary protobuf.
	JSON bool
	// TLS enables TLS with this configuration. Nodes given as https://
	// enable TLS with the default configuration.
	TLS *tls.Config
	// BearerToken, if set, is sent as "Authorization: Bearer <token>" on
	// every request.
	BearerToken string
	// Logger receives debug logs about topology and connections. Default:
	// discard.
	Logger *slog.Logger
	// DisableWatch turns off the background Meta.WatchCluster stream. The
	// watch is on by default (hence a Disable field: the zero Config is
	// the recommended one). Without it the client learns leaders from
	// NOT_LEADER hints only, and Connect fetches one view.
	DisableWatch bool
	// Interceptors are extra Connect interceptors, run innermost: once
	// per attempt, after routing (interceptors.TargetFrom(ctx) names the
	// node).
	Interceptors []connect.Interceptor
	// Observer, if set, is told of every call, attempt, topology change
	// and pool connection (see Observer): the hook tracing and metrics
	// use (github.com/norikv/norikv-go/otel). Nil costs nothing.
	Observer Observer
	// MaxIdleConnsPerHost bounds pooled idle connections per node, and
	// connections per node (a call beyond it waits for a free one).
	// Default 64. Not negative.
	MaxIdleConnsPerHost int
	// StaleReads tunes ConsistencyStaleOK reads: which replica serves
	// them (by default the fastest) and hedging (on by default). The
	// zero value is the recommended one.
	StaleReads StaleReadConfig
	// DisableAutoBatch sends every Put, Get and Delete as its own call.
	// By default, while an exchange to a node is in flight, concurrent
	// calls for that node queue and leave together as one Kv.Batch when
	// it returns (a call with nothing ahead of it leaves at once); each
	// keeps its own ctx and result. Nodes without Kv.Batch get single
	// calls either way.
	DisableAutoBatch bool
}

// StaleReadConfig configures ConsistencyStaleOK reads, which any replica
// of the key's shard may serve (see hedge.go). Zero fields take the
// defaults; leader reads and writes are never affected.
type StaleReadConfig struct {
	// RoundRobin spreads stale reads evenly over the replicas. By default
	// the client keeps an estimate of each node's latency and sends a
	// stale read to the faster of two replicas picked at random (counting
	// reads in flight), so one slow replica stops setting the tail
	// latency; a node left alone for being slow is probed again within
	// seconds and wins its traffic back when it recovers.
	RoundRobin bool
	// DisableHedging turns hedged Gets off; WithHedging(true) turns them
	// on for one call. By default a stale_ok Get still unanswered after
	// HedgeDelay is sent to a second replica: the first answer wins and
	// the other request is cancelled. Stale reads have no side effects,
	// and HedgeBudget bounds the extra load, so it is on by default.
	DisableHedging bool
	// HedgeDelay is how long a stale_ok Get waits before its hedge is
	// sent. Default 0: the 99th percentile of the client's recent stale
	// reads, tracked as they complete, and at least 1ms; on a healthy
	// cluster about 1 read in 100 is hedged. At least 1ms if set.
	HedgeDelay time.Duration
	// HedgeBudget caps hedges as a share of stale_ok Gets (token
	// bucket, like Config.Retry.BudgetRatio): 0.05 lets at most about 5%
	// extra requests, however slow every node is, so hedging cannot
	// double the load of a sick cluster. Default 0.05; at most 1.
	HedgeBudget float64
}

// DefaultTimeout is Config.Timeout's default.
const DefaultTimeout = 5 * time.Second

// validate checks cfg and returns the seeds as host:port and whether TLS is
// on.
func (cfg *Config) validate() (seeds []string, useTLS bool, err error) {
	if len(cfg.Nodes) == 0 {
		return nil, false, errors.New("norikv: Config.Nodes needs at least one node")
	}
	if err := cfg.checkNumbers(); err != nil {
		return nil, false, err
	}
	if cfg.Protocol < ProtocolGRPC || cfg.Protocol > ProtocolGRPCWeb {
		return nil, false, fmt.Errorf("norikv: Config.Protocol: unknown %v", cfg.Protocol)
	}
	if cfg.HTTPVersion < HTTPAuto || cfg.HTTPVersion > HTTP2 {
		return nil, false, fmt.Errorf("norikv: Config.HTTPVersion: unknown HTTPVersion(%d)", int(cfg.HTTPVersion))
	}
	if cfg.Protocol == ProtocolGRPC && cfg.HTTPVersion == HTTP1 {
		return nil, false, errors.New("norikv: Config.HTTPVersion: HTTP1 with ProtocolGRPC; gRPC needs HTTP/2")
	}
	useTLS = cfg.TLS != nil
	for _, n := range cfg.Nodes {
		hp := n
		switch {
		case strings.HasPrefix(n, "https://"):
			useTLS = true
			hp = n[len("https://"):]
		case strings.HasPrefix(n, "http://"):
			hp = n[len("http://"):]
		case strings.Contains(n, "://"):
			return nil, false, fmt.Errorf("norikv: Config.Nodes: node %q: only http:// and https:// are supported", n)
		}
		hp = strings.TrimRight(hp, "/")
		if hp == "" || strings.ContainsAny(hp, "/ ") || !strings.Contains(hp, ":") {
			return nil, false, fmt.Errorf("norikv: Config.Nodes: node %q is not host:port", n)
		}
		seeds = append(seeds, hp)
	}
	return seeds, useTLS, nil
}

// checkNumbers rejects numeric fields that cannot mean what their user
// meant. The commonest trap is a plain number in a time.Duration field,
// in milliseconds as other SDKs take it: Timeout: 5000 is 5µs and fails
// every call. Every duration the SDK uses is far above 1ms, so anything
// under it is taken for that mistake.
func (cfg *Config) checkNumbers() error {
	r := &cfg.Retry
	durations := []struct {
		field string
		d     time.Duration
		negOK bool // negative has a documented meaning
	}{
		{"Config.Timeout", cfg.Timeout, true},
		{"Config.Retry.InitialDelay", r.InitialDelay, false},
		{"Config.Retry.MaxDelay", r.MaxDelay, false},
		{"Config.Retry.Jitter", r.Jitter, true},
		{"Config.Retry.AttemptTimeout", r.AttemptTimeout, true},
		{"Config.StaleReads.HedgeDelay", cfg.StaleReads.HedgeDelay, false},
	}
	for _, f := range durations {
		switch {
		case f.d < 0 && !f.negOK:
			return fmt.Errorf("norikv: %s is %v; want a positive duration, or 0 for the default", f.field, f.d)
		case f.d > 0 && f.d < time.Millisecond:
			return fmt.Errorf("norikv: %s is %v; durations are time.Duration: did you mean %s?", f.field, f.d, asMillis(f.d))
		}
	}
	if r.InitialDelay > 0 && r.MaxDelay > 0 && r.MaxDelay < r.InitialDelay {
		return fmt.Errorf("norikv: Config.Retry.MaxDelay (%v) is below Config.Retry.InitialDelay (%v)", r.MaxDelay, r.InitialDelay)
	}
	counts := []struct {
		field string
		n     int
		what  string
	}{
		{"Config.TotalShards", cfg.TotalShards, "the cluster's shard count, or 0 to learn it"},
		{"Config.Retry.MaxAttempts", r.MaxAttempts, "at least 1 (1 disables retries), or 0 for the default 5"},
		{"Config.Retry.MaxRedirects", r.MaxRedirects, "at least 1, or 0 for the default 3"},
		{"Config.Retry.BudgetFloor", r.BudgetFloor, "at least 1, or 0 for the default 10"},
		{"Config.MaxIdleConnsPerHost", cfg.MaxIdleConnsPerHost, "at least 1, or 0 for the default 64"},
	}
	for _, f := range counts {
		if f.n < 0 {
			return fmt.Errorf("norikv: %s is %d; want %s", f.field, f.n, f.what)
		}
	}
	if br := r.BudgetRatio; math.IsNaN(br) || math.IsInf(br, 0) || (br > 0 && (br < 0.001 || br > 1)) {
		return fmt.Errorf("norikv: Config.Retry.BudgetRatio is %v; want a share between 0.001 and 1 (0.2 is 20%%), 0 for the default 0.2, or negative for no budget", br)
	}
	if hb := cfg.StaleReads.HedgeBudget; math.IsNaN(hb) || hb < 0 || hb > 1 || (hb > 0 && hb < 0.001) {
		return fmt.Errorf("norikv: Config.StaleReads.HedgeBudget is %v; want a share between 0.001 and 1 (0.05 is 5%%), or 0 for the default 0.05", hb)
	}
	return nil
}

// asMillis reads d's nanoseconds as the milliseconds they were probably
// meant to be, as Go code: 5000 → "5 * time.Second".
func asMillis(d time.Duration) string {
	n := int64(d)
	if n%1000 == 0 {
		return fmt.Sprintf("%d * time.Second", n/1000)
	}
	return fmt.Sprintf("%d * time.Millisecond", n)
}

// attemptTimeout is RetryConfig.AttemptTimeout with its default; 0 means
// none.
func (cfg *Config) attemptTimeout() time.Duration {
	switch at := cfg.Retry.AttemptTimeout; {
	case at > 0:
		return at
	case at < 0:
		return 0
	}
	t := cfg.timeout()
	if t == 0 {
		return 0 // no client-side bound asked for
	}
	return max(t/4, min(t, 50*time.Millisecond))
}

func (cfg *Config) timeout() time.Duration {
	switch {
	case cfg.Timeout == 0:
		return DefaultTimeout
	case cfg.Timeout < 0:
		return 0
	}
	return cfg.Timeout
}
