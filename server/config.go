package server

import (
	"crypto/tls"
	"log/slog"
	"net/http"
	"time"
)

// Defaults applied to zero Config fields.
const (
	// DefaultNodes is the number of nodes of a cluster.
	DefaultNodes = 3
	// DefaultShards is the number of shards keys are spread over.
	DefaultShards = 1024
	// DefaultHost is the interface nodes listen on.
	DefaultHost = "127.0.0.1"
	// DefaultIdempotencyTTL is how long an idempotency key is remembered
	// while the budget allows.
	DefaultIdempotencyTTL = 10 * time.Minute
	// DefaultIdempotencyRetryWindow is how long an idempotency key is
	// guaranteed to be remembered: six times the SDK's default 5 s call
	// timeout, the longest a default client keeps retrying one write.
	DefaultIdempotencyRetryWindow = 30 * time.Second
	// DefaultIdempotencyMaxEntries bounds the idempotency keys the whole
	// cluster remembers, whichever shards they were written to: about 200
	// bytes each with a 36-byte key, so about 200 MB when full. Every SDK
	// write carries a key. At the default TTL, keys live their full ten
	// minutes while keyed writes stay under MaxEntries/TTL, about 1,700 a
	// second for the whole cluster (not per shard: one hot shard may use
	// the whole budget). Faster, the oldest keys are forgotten first, but
	// never one younger than the retry window: up to MaxEntries/RetryWindow,
	// about 33,000 keyed writes a second, every retry still replays; beyond
	// that, writes are refused with RESOURCE_EXHAUSTED until entries age
	// out of the window.
	DefaultIdempotencyMaxEntries = 1_000_000
	// DefaultReapInterval is how often expired keys are reclaimed.
	DefaultReapInterval = 100 * time.Millisecond
	// MaxRequestBytes caps a request message: a 1 MiB value plus a
	// generous allowance for the key and framing. Larger bodies are refused
	// before they are buffered.
	MaxRequestBytes = 4 << 20
	// maxBodyBytes bounds the HTTP body: one message at the cap plus
	// framing (the one streaming call, WatchCluster, has one small request).
	maxBodyBytes = MaxRequestBytes + 64<<10
	// compressMinBytes keeps small responses uncompressed: gzip costs more
	// than it saves below about a kilobyte.
	compressMinBytes = 1024
)

// Config describes a cluster. The zero value is a valid configuration: three
// nodes on ephemeral loopback ports, 1024 shards, three replicas per shard.
type Config struct {
	// Nodes is the number of nodes (ids n1..nN). Default DefaultNodes.
	Nodes int
	// Shards is the number of shards. Default DefaultShards.
	Shards int
	// ReplicationFactor is the number of replicas per shard, at most
	// Nodes. Default min(3, Nodes).
	ReplicationFactor int
	// Leader, if set, is the id of the node ("n1") that leads every shard
	// it holds a replica of at start, for tests that want to know where
	// each call lands. Default: leaderships are spread evenly.
	Leader string
	// Host is the address nodes listen on. Default DefaultHost.
	Host string
	// BasePort is node n1's port; node i listens on BasePort+i-1. 0 picks
	// ephemeral ports (a restarted node keeps its port either way).
	BasePort int
	// Addrs, if set, are the nodes' addresses ("host:port"), one per node
	// in order, instead of Host and BasePort: to start a cluster again
	// where a closed one listened (norikvtest's Cluster.Restart).
	Addrs []string
	// TLSConfig, if set, makes every node serve TLS (HTTP/1.1 and h2).
	// It must hold a certificate.
	TLSConfig *tls.Config
	// TLSCertFile and TLSKeyFile, if set, name a PEM certificate and key
	// to serve TLS with (added to TLSConfig, or to a new one).
	TLSCertFile, TLSKeyFile string
	// Token, if set, must be carried by every request as
	// "authorization: Bearer <token>"; others get UNAUTHENTICATED.
	Token string
	// IdempotencyTTL is how long a write's idempotency key is remembered,
	// budget permitting: a retry within it replays the first result.
	// Default DefaultIdempotencyTTL.
	IdempotencyTTL time.Duration
	// IdempotencyRetryWindow is the client-visible retry window: how long
	// a client may go on retrying one write (an SDK's call timeout, 5 s by
	// default, which bounds all its attempts). A key younger than this is
	// never evicted to make room, so a retry within it always replays. Set
	// it at least to the longest Config.Timeout of the clients. Capped at
	// IdempotencyTTL. Default DefaultIdempotencyRetryWindow.
	IdempotencyRetryWindow time.Duration
	// IdempotencyMaxEntries bounds the idempotency keys remembered by the
	// whole cluster, in one budget shared by all shards (keys are scoped
	// per shard). When it is full, the oldest key older than
	// IdempotencyRetryWindow is forgotten; if every key is younger, a new
	// keyed write is refused with RESOURCE_EXHAUSTED (clients retry it)
	// without being applied. Default DefaultIdempotencyMaxEntries.
	IdempotencyMaxEntries int
	// SessionIdleTimeout is how long a client session without writes is
	// kept (session.go); at least IdempotencyRetryWindow. Default
	// DefaultSessionIdleTimeout.
	SessionIdleTimeout time.Duration
	// SessionMax bounds the client sessions kept. When it is full, the
	// least recently used session idle for longer than
	// IdempotencyRetryWindow is forgotten; if none is, a write opening a
	// new session is refused with RESOURCE_EXHAUSTED. Default
	// DefaultSessionMax.
	SessionMax int
	// SessionMaxAnswers bounds the answers one session keeps: a client
	// whose window (newest sequence minus watermark) outgrows it has its
	// lowest answers dropped, and a retry of one is refused
	// (OUT_OF_RANGE), never applied again. Default
	// DefaultSessionMaxAnswers.
	SessionMaxAnswers int
	// ReapInterval is how often expired keys and idempotency entries are
	// reclaimed in the background. Expired keys are invisible to reads at
	// once regardless. Default DefaultReapInterval.
	ReapInterval time.Duration
	// ReplicationLag, if positive, gives every replica its own copy of
	// each shard: a write is acknowledged once the leader and enough
	// followers for a majority hold it, and the other followers apply it
	// this long after the leader, so stale_ok reads they serve can return
	// older versions (see replica.go for the model). 0 (the default): all
	// replicas share one copy and every read sees the latest write.
	ReplicationLag time.Duration
	// DataDir, if set, keeps every shard's state in this directory (one
	// bbolt file, created if missing) and loads it on start: keys,
	// versions, TTL deadlines, idempotency keys within their TTL, vector
	// indexes. A write is acknowledged once it is on disk as Sync says.
	// The directory is for one cluster shape: starting with other Nodes,
	// Shards or ReplicationFactor fails. Default: in memory only.
	DataDir string
	// Sync is when durable mode fsyncs. Default SyncBatch.
	Sync SyncMode
	// Logger receives node lifecycle events. Default: discard.
	Logger *slog.Logger
	// UI, if set, is served by every node under /ui/ (the web console:
	// web.Handler()) and turns on CORS for the console's own origin.
	UI http.Handler
	// CORSOrigins are further browser origins ("http://host:port") that
	// may call the nodes; "*" allows any. Requests from other origins are
	// refused once UI or CORSOrigins is set.
	CORSOrigins []string
	// Console serves the web console's dev-only service
	// (norikv.console.v1.ConsoleService) on every node, behind Token: one
	// stream per page of live counters (the ones /metrics exports), cluster
	// events and views, and the vector namespaces. The NoriKV servers do
	// not have it; the console falls back to Meta.WatchCluster there.
	Console bool
	// ConsoleControls, with Console, turns on the console's controls that
	// break the cluster on purpose: stop and restart a node, delay every
	// call to a node, run a load generator in the server process. For
	// development clusters only (`norikv serve` turns it off with
	// --no-faults).
	ConsoleControls bool
	// GRPCOnly serves as the production NoriKV server (Rust, tonic) does:
	// gRPC with binary protobuf over HTTP/2 only. Connect, gRPC-Web, the
	// JSON codec and HTTP/1.1 are refused the way that server refuses
	// them (see grpconly.go), so clients and suites can be tested against
	// the production shape. It is a serving mode, not a defect: the
	// production server's behaviour is legitimate, and "norikv serve
	// --grpc-only" offers it. It cannot be combined with UI or
	// CORSOrigins (browsers speak Connect and gRPC-Web).
	GRPCOnly bool

	// Faults, if set, runs before every unary call a node receives and
	// may delay it, fail it, fail it after applying it, or break its
	// connection (see FaultHook). For tests of clients; change it on a
	// running cluster with Cluster.SetFaults.
	Faults FaultHook
	// Defects switches on deviations from the contract, for tests of
	// clients and of conformance suites (see Defects). The zero value is
	// a conforming server; change it with Cluster.SetDefects.
	Defects Defects
}

func (c Config) withDefaults() Config {
	if c.Nodes <= 0 {
		c.Nodes = DefaultNodes
	}
	if c.Shards <= 0 {
		c.Shards = DefaultShards
	}
	if c.ReplicationFactor <= 0 {
		c.ReplicationFactor = min(3, c.Nodes)
	}
	if c.Host == "" {
		c.Host = DefaultHost
	}
	if c.IdempotencyTTL <= 0 {
		c.IdempotencyTTL = DefaultIdempotencyTTL
	}
	if c.IdempotencyRetryWindow <= 0 {
		c.IdempotencyRetryWindow = DefaultIdempotencyRetryWindow
	}
	if c.IdempotencyMaxEntries <= 0 {
		c.IdempotencyMaxEntries = DefaultIdempotencyMaxEntries
	}
	if c.SessionIdleTimeout <= 0 {
		c.SessionIdleTimeout = DefaultSessionIdleTimeout
	}
	if c.SessionMax <= 0 {
		c.SessionMax = DefaultSessionMax
	}
	if c.SessionMaxAnswers <= 0 {
		c.SessionMaxAnswers = DefaultSessionMaxAnswers
	}
	if c.ReapInterval <= 0 {
		c.ReapInterval = DefaultReapInterval
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}
