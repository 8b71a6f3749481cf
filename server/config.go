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
	// DefaultIdempotencyTTL is how long an idempotency key is remembered.
	DefaultIdempotencyTTL = 10 * time.Minute
	// DefaultIdempotencyMaxEntries bounds the idempotency keys the whole
	// cluster remembers (about 200 bytes each, so about 200 MB at most).
	// Every SDK write carries a key, so under sustained writes faster than
	// MaxEntries/TTL (about 1,700 a second) keys are forgotten, oldest
	// first, before their TTL.
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
	// Host is the address nodes listen on. Default DefaultHost.
	Host string
	// BasePort is node n1's port; node i listens on BasePort+i-1. 0 picks
	// ephemeral ports (a restarted node keeps its port either way).
	BasePort int
	// TLSConfig, if set, makes every node serve TLS (HTTP/1.1 and h2).
	// It must hold a certificate.
	TLSConfig *tls.Config
	// TLSCertFile and TLSKeyFile, if set, name a PEM certificate and key
	// to serve TLS with (added to TLSConfig, or to a new one).
	TLSCertFile, TLSKeyFile string
	// Token, if set, must be carried by every request as
	// "authorization: Bearer <token>"; others get UNAUTHENTICATED.
	Token string
	// IdempotencyTTL is how long a write's idempotency key is remembered.
	// Default DefaultIdempotencyTTL.
	IdempotencyTTL time.Duration
	// IdempotencyMaxEntries bounds the keys remembered by the whole
	// cluster, split evenly over the shards (keys are scoped per shard);
	// each shard forgets its oldest keys first. Default
	// DefaultIdempotencyMaxEntries.
	IdempotencyMaxEntries int
	// ReapInterval is how often expired keys and idempotency entries are
	// reclaimed in the background. Expired keys are invisible to reads at
	// once regardless. Default DefaultReapInterval.
	ReapInterval time.Duration
	// Logger receives node lifecycle events. Default: discard.
	Logger *slog.Logger
	// UI, if set, is served by every node under /ui/ (the web console:
	// web.Handler()) and turns on CORS for the console's own origin.
	UI http.Handler
	// CORSOrigins are further browser origins ("http://host:port") that
	// may call the nodes; "*" allows any. Requests from other origins are
	// refused once UI or CORSOrigins is set.
	CORSOrigins []string
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
	if c.IdempotencyMaxEntries <= 0 {
		c.IdempotencyMaxEntries = DefaultIdempotencyMaxEntries
	}
	if c.ReapInterval <= 0 {
		c.ReapInterval = DefaultReapInterval
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}
