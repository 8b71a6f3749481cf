package conformance

import (
	"crypto/tls"
	"time"
)

// Target names the endpoint under test.
type Target struct {
	// Addrs are the nodes' addresses, "host:port" (a scheme, if present, is
	// ignored: TLS decides between http and https). At least one is
	// required; the rest of the cluster is learnt from Meta.WatchCluster.
	Addrs []string
	// Token, if set, is sent as "authorization: Bearer <Token>" on every
	// request.
	Token string
	// TotalShards is the cluster's shard count. 0 means learn it from the
	// first cluster view; it is needed only when the target has no Meta
	// service.
	TotalShards int
	// AllowTopologyChanges lets the suite move shard leaders with
	// Admin.TransferShard. Leave it off for clusters that serve real
	// traffic; the topology case is then skipped.
	AllowTopologyChanges bool
	// TLS, if set, makes the suite dial https with this configuration
	// (HTTP/2 is then negotiated by ALPN); otherwise it dials cleartext
	// http and uses h2c for HTTP/2.
	TLS *tls.Config
}

// Options tune a run. The zero value runs every case over every transport.
type Options struct {
	// Cases limits the run to these case names (see CaseNames); empty means
	// all.
	Cases []string
	// Transports limits the run to these transport names (see
	// Transport.String); empty means all. Named transports are judged
	// whatever the probes say: one the target does not serve fails with
	// the reason, instead of being skipped.
	Transports []string
	// Speaks, if set, declares what the target speaks instead of leaving
	// it to the probes: other transports are skipped as not declared (and
	// not probed), and a declared one the target does not serve fails.
	// Nil (the default) probes every transport once and judges those the
	// target serves.
	Speaks *Features
	// Parallelism is how many (case, transport) cells run at once; 0 means
	// 8. Cells are independent (each writes its own keys), and the TTL
	// cells spend most of their time waiting, so running them together
	// keeps a full run short.
	Parallelism int
	// CellTimeout bounds one cell; 0 means 30 s.
	CellTimeout time.Duration
}

func (o Options) parallelism() int {
	if o.Parallelism > 0 {
		return o.Parallelism
	}
	return 8
}

func (o Options) cellTimeout() time.Duration {
	if o.CellTimeout > 0 {
		return o.CellTimeout
	}
	return 30 * time.Second
}
