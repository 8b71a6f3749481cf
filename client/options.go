package norikv

import "time"

// PutOption configures Put.
type PutOption interface{ applyPut(*putOptions) }

// GetOption configures Get.
type GetOption interface{ applyGet(*getOptions) }

// DeleteOption configures Delete.
type DeleteOption interface{ applyDelete(*deleteOptions) }

// VectorWriteOption configures VectorCreateIndex, VectorDropIndex,
// VectorInsert and VectorDelete.
type VectorWriteOption interface{ applyVectorWrite(*vectorWriteOptions) }

// VectorReadOption configures VectorGet.
type VectorReadOption interface{ applyVectorRead(*vectorReadOptions) }

// VectorSearchOption configures VectorSearch.
type VectorSearchOption interface{ applyVectorSearch(*vectorSearchOptions) }

type putOptions struct {
	ttlMs      uint64
	idemKey    string
	ifMatch    Version
	hasIfMatch bool
}

type getOptions struct{ consistency Consistency }

type deleteOptions struct {
	idemKey    string
	ifMatch    Version
	hasIfMatch bool
}

type vectorWriteOptions struct{ idemKey string }

type vectorReadOptions struct{ consistency Consistency }

type vectorSearchOptions struct {
	consistency    Consistency
	includeVectors bool
}

// TTLOption is WithTTL's option: a PutOption.
type TTLOption interface{ PutOption }

// WithTTL makes a Put expire after d (rounded up to a millisecond). d <= 0
// means no expiry.
func WithTTL(d time.Duration) TTLOption { return ttlOption(d) }

type ttlOption time.Duration

func (o ttlOption) applyPut(p *putOptions) {
	if o <= 0 {
		p.ttlMs = 0
		return
	}
	p.ttlMs = uint64((time.Duration(o) + time.Millisecond - 1) / time.Millisecond)
}

// IdempotencyKeyOption is WithIdempotencyKey's option: it applies to
// every write.
type IdempotencyKeyOption interface {
	PutOption
	DeleteOption
	VectorWriteOption
}

// WithIdempotencyKey makes a write idempotent under key: the server applies
// the first request with a key once and answers repeats with the first
// result (an idempotent Put returns the first Version). The key is sent to
// every server, and the call's retries are then safe whatever the server.
// Set one yourself to make retries across calls (or processes) safe.
//
// Without it, the client keys the write only for a cluster that announces
// client sessions (docs/idempotency-sessions.md; the embedded server
// does): an automatic session key, shared by the call's retries, applied
// once. Against any other cluster (the Rust NoriKV server today, which
// keeps every key forever) the write goes without a key: it is retried
// only after a failure that proves it was not applied, and any other
// failure returns an error matching ErrOutcomeUnknown. A caller's key is
// kept in the server's TTL cache (server.Config.IdempotencyMaxEntries),
// not in a session.
//
// Use a key for one write only. A server that follows the contract (the
// embedded server, norikvtest) refuses a different request under a used
// key with an InvalidArgument *Error. The Rust NoriKV server does not: its
// cache ignores whether a repeat is the same request and never expires,
// so a different write sent with a used key is not applied, yet answered
// with the first write's result as if it had succeeded. A server that
// ignores keys altogether applies a retried write twice. To learn what a
// cluster does, run "norikv conformance --target host:port": it reports
// these as the findings "idempotency key reuse unchecked" and
// "idempotency keys ignored".
func WithIdempotencyKey(key string) IdempotencyKeyOption { return idemOption(key) }

type idemOption string

func (o idemOption) applyPut(p *putOptions)                 { p.idemKey = string(o) }
func (o idemOption) applyDelete(p *deleteOptions)           { p.idemKey = string(o) }
func (o idemOption) applyVectorWrite(p *vectorWriteOptions) { p.idemKey = string(o) }

// IfMatchOption is IfMatch's option: a PutOption and a DeleteOption.
type IfMatchOption interface {
	PutOption
	DeleteOption
}

// IfMatch makes a Put or Delete a compare-and-swap: it applies only if the
// key's current version is v, and otherwise fails with ErrVersionMismatch.
//
// On Delete it protects data only where the server honours it. The Rust
// NoriKV server accepts if_match on Delete and ignores it: the key is
// deleted whatever its version, with no error, so a Delete meant to remove
// only the version you read also removes a value written since (data
// loss). The embedded server (norikvtest) refuses a stale Delete as the
// contract says. Run "norikv conformance --target host:port" to check a
// cluster: it reports the finding "if_match on Delete ignored". Against
// such a server, a Put with IfMatch of a value your readers treat as
// deleted is a compare-and-swap delete that holds, if the cluster passes
// the suite's cas_put case.
func IfMatch(v Version) IfMatchOption { return ifMatchOption(v) }

type ifMatchOption Version

func (o ifMatchOption) applyPut(p *putOptions) {
	p.ifMatch, p.hasIfMatch = Version(o), true
}

func (o ifMatchOption) applyDelete(p *deleteOptions) {
	p.ifMatch, p.hasIfMatch = Version(o), true
}

// ConsistencyOption is WithConsistency's option: for every read.
type ConsistencyOption interface {
	GetOption
	VectorReadOption
	VectorSearchOption
}

// WithConsistency sets a read's consistency. Default ConsistencyLease.
// ConsistencyStaleOK reads go to the shard's fastest replicas, and Get
// hedges them (Config.StaleReads).
func WithConsistency(c Consistency) ConsistencyOption { return consistencyOption(c) }

type consistencyOption Consistency

func (o consistencyOption) applyGet(p *getOptions) { p.consistency = Consistency(o) }
func (o consistencyOption) applyVectorRead(p *vectorReadOptions) {
	p.consistency = Consistency(o)
}
func (o consistencyOption) applyVectorSearch(p *vectorSearchOptions) {
	p.consistency = Consistency(o)
}

// HedgingOption is WithHedging's option: a GetOption.
type HedgingOption interface{ GetOption }

// WithHedging turns hedging on or off for one stale_ok Get, whatever
// Config.StaleReads.DisableHedging says (see StaleReadConfig). It does
// nothing for other reads: only stale_ok ones may be served by another
// replica.
func WithHedging(on bool) HedgingOption { return hedgingOption(on) }

type hedgingOption bool

func (hedgingOption) applyGet(*getOptions) {} // read by Get itself: hedgeWanted

// WithIncludeVectors makes VectorSearch return each match's vector.
func WithIncludeVectors() VectorSearchOption { return includeVectorsOption{} }

type includeVectorsOption struct{}

func (includeVectorsOption) applyVectorSearch(p *vectorSearchOptions) { p.includeVectors = true }
