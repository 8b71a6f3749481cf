// Package norikvotel instruments the NoriKV Go client with OpenTelemetry:
// a span per SDK call with a child span per attempt, trace context sent to
// the server, and metrics of calls, attempts, retries, redirects, the
// retry budget, idempotency keys, the topology and the connection pool.
//
//	cfg := norikv.Config{Nodes: []string{"127.0.0.1:9001"}}
//	if err := norikvotel.Instrument(&cfg); err != nil { ... }
//	client, err := norikv.New(cfg)
//
// It is a module of its own, like go-redis's extra/redisotel, so that the
// client's module carries no OpenTelemetry dependency: it implements the
// client's Observer hook (norikv.Config.Observer). README.md lists every
// span attribute and instrument.
package norikvotel

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	norikv "github.com/norikv/norikv-go/client"
	"github.com/norikv/norikv-go/interceptors"
)

// ScopeName is the instrumentation scope of the tracer and the meter.
const ScopeName = "github.com/norikv/norikv-go/otel"

// MaxKeyAttributeBytes is how much of a key WithKeyAttribute records.
const MaxKeyAttributeBytes = 64

// Option configures Instrument.
type Option func(*options)

type options struct {
	tp      trace.TracerProvider
	mp      metric.MeterProvider
	prop    propagation.TextMapPropagator
	keyAttr bool
}

// WithTracerProvider sets the tracer provider. Default: otel's global one.
func WithTracerProvider(tp trace.TracerProvider) Option { return func(o *options) { o.tp = tp } }

// WithMeterProvider sets the meter provider. Default: otel's global one.
func WithMeterProvider(mp metric.MeterProvider) Option { return func(o *options) { o.mp = mp } }

// WithPropagators sets how trace context is written into each attempt's
// request headers. Default: otel's global propagator.
func WithPropagators(p propagation.TextMapPropagator) Option {
	return func(o *options) { o.prop = p }
}

// WithKeyAttribute records each call's key on its span as norikv.key, cut
// to MaxKeyAttributeBytes bytes. Off by default: keys may be personal data,
// and are unbounded in number, so they are never metric attributes.
func WithKeyAttribute() Option { return func(o *options) { o.keyAttr = true } }

// Instrument sets cfg.Observer to an OpenTelemetry observer. Call it before
// norikv.New(*cfg). It fails if cfg.Observer is already set (it would be
// replaced) or an instrument cannot be created.
func Instrument(cfg *norikv.Config, opts ...Option) error {
	if cfg.Observer != nil {
		return errors.New("norikvotel: Config.Observer is already set")
	}
	o, err := NewObserver(cfg.Protocol, opts...)
	if err != nil {
		return err
	}
	cfg.Observer = o
	return nil
}

// NewObserver returns the observer Instrument installs, for a client
// speaking protocol (it names rpc.system).
func NewObserver(protocol norikv.Protocol, opts ...Option) (norikv.Observer, error) {
	o := options{}
	for _, opt := range opts {
		opt(&o)
	}
	if o.tp == nil {
		o.tp = otel.GetTracerProvider()
	}
	if o.mp == nil {
		o.mp = otel.GetMeterProvider()
	}
	if o.prop == nil {
		o.prop = otel.GetTextMapPropagator()
	}
	ob := &observer{
		tracer:  o.tp.Tracer(ScopeName),
		prop:    o.prop,
		keyAttr: o.keyAttr,
		system:  rpcSystem(protocol),
	}
	if err := ob.instruments(o.mp.Meter(ScopeName)); err != nil {
		return nil, err
	}
	return ob, nil
}

func rpcSystem(p norikv.Protocol) attribute.KeyValue {
	switch p {
	case norikv.ProtocolConnect:
		return attribute.String("rpc.system", "connect_rpc")
	case norikv.ProtocolGRPCWeb:
		return attribute.String("rpc.system", "grpc_web")
	}
	return attribute.String("rpc.system", "grpc")
}

// Attribute keys of NoriKV's own (not in the semantic conventions).
const (
	keyShard       = attribute.Key("norikv.shard")
	keyConsistency = attribute.Key("norikv.consistency")
	keyOperations  = attribute.Key("norikv.operations")
	keyKey         = attribute.Key("norikv.key")
	keyAttempts    = attribute.Key("norikv.attempts")
	keyRetries     = attribute.Key("norikv.retries")
	keyRedirects   = attribute.Key("norikv.redirects")
	keyBudget      = attribute.Key("norikv.retry_budget.rejected")
	keyStamped     = attribute.Key("norikv.idempotency_key.stamped")
	keyCode        = attribute.Key("norikv.code")
	keyNode        = attribute.Key("norikv.node")
	keyAttempt     = attribute.Key("norikv.attempt")
	keyReason      = attribute.Key("norikv.attempt.reason")
	keyNotLeader   = attribute.Key("norikv.not_leader")
	keySuspect     = attribute.Key("norikv.suspect")
	keyHedged      = attribute.Key("norikv.hedged")
	keyHedgeWon    = attribute.Key("norikv.hedge_won")
)

var dbSystem = attribute.String("db.system.name", "norikv")

type observer struct {
	norikv.BaseObserver

	tracer  trace.Tracer
	prop    propagation.TextMapPropagator
	keyAttr bool
	system  attribute.KeyValue

	callDuration    metric.Float64Histogram
	attemptDuration metric.Float64Histogram
	attempts        metric.Int64Counter
	retries         metric.Int64Counter
	redirects       metric.Int64Counter
	budget          metric.Int64Counter
	stamped         metric.Int64Counter
	unkeyed         metric.Int64Counter
	epoch           metric.Int64Gauge
	leaderChanges   metric.Int64Counter
	suspects        metric.Int64Counter
	connections     metric.Int64UpDownCounter

	sets setCache
}

// setKey names a metric attribute set: its kind and up to three strings.
type setKey struct {
	kind    int
	a, b, c string
}

// setCache keeps the attribute sets recorded with: building one sorts and
// allocates, and their number is bounded (operations × codes × nodes).
type setCache struct {
	mu sync.RWMutex
	m  map[setKey]attribute.Set
}

func (c *setCache) get(k setKey, build func() attribute.Set) attribute.Set {
	c.mu.RLock()
	s, ok := c.m[k]
	c.mu.RUnlock()
	if ok {
		return s
	}
	s = build()
	c.mu.Lock()
	if c.m == nil {
		c.m = map[setKey]attribute.Set{}
	}
	c.m[k] = s
	c.mu.Unlock()
	return s
}

func (o *observer) instruments(m metric.Meter) error {
	var errs []error
	add := func(err error) { errs = append(errs, err) }
	var err error
	o.callDuration, err = m.Float64Histogram("db.client.operation.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of NoriKV client calls, retries and redirects included."),
		metric.WithExplicitBucketBoundaries(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10))
	add(err)
	o.attemptDuration, err = m.Float64Histogram("rpc.client.duration", metric.WithUnit("ms"),
		metric.WithDescription("Duration of each RPC attempt, on the wire."))
	add(err)
	counter := func(dst *metric.Int64Counter, name, unit, desc string) {
		*dst, err = m.Int64Counter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		add(err)
	}
	counter(&o.attempts, "norikv.client.attempts", "{attempt}", "RPC attempts sent, redirects included.")
	counter(&o.retries, "norikv.client.retries", "{retry}", "Attempts made after a backoff.")
	counter(&o.redirects, "norikv.client.redirects", "{redirect}", "Attempts made after a NOT_LEADER reply.")
	counter(&o.budget, "norikv.client.retry_budget.rejections", "{call}", "Calls whose retry the retry budget refused.")
	counter(&o.stamped, "norikv.client.idempotency_keys.stamped", "{key}", "Writes the client gave an automatic (session) idempotency key.")
	counter(&o.unkeyed, "norikv.client.idempotency_keys.unkeyed", "{write}", "Writes sent without any idempotency key: the cluster does not announce client sessions.")
	counter(&o.leaderChanges, "norikv.client.leader_changes", "{change}", "Shard leader changes seen in cluster views.")
	counter(&o.suspects, "norikv.client.node.suspects", "{event}", "Attempts that timed out unanswered, making their node suspect.")
	o.epoch, err = m.Int64Gauge("norikv.client.topology.epoch", metric.WithUnit("{epoch}"),
		metric.WithDescription("Epoch of the latest cluster view."))
	add(err)
	o.connections, err = m.Int64UpDownCounter("norikv.client.connections", metric.WithUnit("{connection}"),
		metric.WithDescription("TCP connections the client's pool holds open."))
	add(err)
	return errors.Join(errs...)
}

// codeName is "ok" for success, else the Connect code ("unavailable").
func codeName(c connect.Code) string {
	if c == 0 {
		return "ok"
	}
	return c.String()
}

func (o *observer) CallStart(ctx context.Context, call *interceptors.Call) context.Context {
	attrs := make([]attribute.KeyValue, 0, 6)
	attrs = append(attrs, dbSystem, attribute.String("db.operation.name", call.Operation))
	if call.Shard >= 0 {
		attrs = append(attrs, keyShard.Int(call.Shard))
	}
	if call.Consistency != "" {
		attrs = append(attrs, keyConsistency.String(call.Consistency))
	}
	if call.Operations > 1 {
		attrs = append(attrs, keyOperations.Int(call.Operations))
	}
	if o.keyAttr && call.Key != nil {
		attrs = append(attrs, keyKey.String(keyAttribute(call.Key)))
	}
	ctx, _ = o.tracer.Start(ctx, "norikv."+call.Operation,
		trace.WithSpanKind(trace.SpanKindInternal), trace.WithTimestamp(call.Start), trace.WithAttributes(attrs...))
	return ctx
}

// keyAttribute is key cut to MaxKeyAttributeBytes, as valid UTF-8.
func keyAttribute(key []byte) string {
	if len(key) > MaxKeyAttributeBytes {
		key = key[:MaxKeyAttributeBytes]
	}
	return strings.ToValidUTF8(string(key), "\uFFFD")
}

func (o *observer) CallEnd(ctx context.Context, call *interceptors.Call) {
	code := codeName(call.Code)
	span := trace.SpanFromContext(ctx)
	if span.IsRecording() {
		// One SetAttributes call: each grows the span's attribute slice.
		var buf [10]attribute.KeyValue
		attrs := append(buf[:0],
			keyAttempts.Int(call.Attempts),
			keyRetries.Int(call.Retries),
			keyRedirects.Int(call.Redirects),
			keyCode.String(code),
		)
		if call.Shard >= 0 {
			attrs = append(attrs, keyShard.Int(call.Shard))
		}
		if call.BudgetRejected {
			attrs = append(attrs, keyBudget.Bool(true))
		}
		if call.IdempotencyKeyStamped {
			attrs = append(attrs, keyStamped.Bool(true))
		}
		if call.Hedged {
			attrs = append(attrs, keyHedged.Bool(true), keyHedgeWon.Bool(call.HedgeWon))
		}
		if call.Err != nil {
			attrs = append(attrs, attribute.String("error.type", code))
			span.SetStatus(codes.Error, call.Err.Error())
		}
		span.SetAttributes(attrs...)
	}
	span.End(trace.WithTimestamp(call.Start.Add(call.Duration)))

	set := metric.WithAttributeSet(o.sets.get(setKey{a: call.Operation, b: code}, func() attribute.Set {
		return attribute.NewSet(dbSystem, attribute.String("db.operation.name", call.Operation), keyCode.String(code))
	}))
	o.callDuration.Record(ctx, call.Duration.Seconds(), set)
	opSet := metric.WithAttributeSet(o.sets.get(setKey{a: call.Operation, kind: 1}, func() attribute.Set {
		return attribute.NewSet(attribute.String("db.operation.name", call.Operation))
	}))
	if call.Retries > 0 {
		o.retries.Add(ctx, int64(call.Retries), opSet)
	}
	if call.Redirects > 0 {
		o.redirects.Add(ctx, int64(call.Redirects), opSet)
	}
	if call.BudgetRejected {
		o.budget.Add(ctx, 1, opSet)
	}
	if call.IdempotencyKeyStamped {
		o.stamped.Add(ctx, 1, opSet)
	}
	if call.Unkeyed {
		o.unkeyed.Add(ctx, 1, opSet)
	}
}

func (o *observer) AttemptStart(ctx context.Context, call *interceptors.Call, a *interceptors.Attempt) context.Context {
	service, method := splitProcedure(a.Procedure)
	attrs := []attribute.KeyValue{
		o.system,
		attribute.String("rpc.service", service),
		attribute.String("rpc.method", method),
		keyAttempt.Int(a.N),
		keyReason.String(a.Reason.String()),
	}
	if a.Node != "" {
		attrs = append(attrs, keyNode.String(a.Node))
		if host, port, err := net.SplitHostPort(a.Node); err == nil {
			attrs = append(attrs, attribute.String("server.address", host))
			if p, err := strconv.Atoi(port); err == nil {
				attrs = append(attrs, attribute.Int("server.port", p))
			}
		}
	}
	if a.Shard >= 0 {
		attrs = append(attrs, keyShard.Int(a.Shard))
	}
	ctx, _ = o.tracer.Start(ctx, service+"/"+method,
		trace.WithSpanKind(trace.SpanKindClient), trace.WithTimestamp(a.Start), trace.WithAttributes(attrs...))
	if a.Header != nil {
		o.prop.Inject(ctx, propagation.HeaderCarrier(a.Header))
	}
	return ctx
}

func (o *observer) AttemptEnd(ctx context.Context, call *interceptors.Call, a *interceptors.Attempt) {
	code := codeName(a.Code)
	span := trace.SpanFromContext(ctx)
	if span.IsRecording() {
		var buf [4]attribute.KeyValue
		attrs := append(buf[:0], keyCode.String(code))
		if a.NotLeader {
			attrs = append(attrs, keyNotLeader.Bool(true))
		}
		if a.Suspect {
			attrs = append(attrs, keySuspect.Bool(true))
		}
		if a.Err != nil {
			attrs = append(attrs, attribute.String("error.type", code))
			span.SetStatus(codes.Error, a.Err.Error())
		}
		span.SetAttributes(attrs...)
	}
	span.End(trace.WithTimestamp(a.Start.Add(a.Duration)))

	o.attemptDuration.Record(ctx, float64(a.Duration)/float64(time.Millisecond), metric.WithAttributeSet(
		o.sets.get(setKey{a: a.Procedure, b: a.Node, c: code, kind: 2}, func() attribute.Set {
			service, method := splitProcedure(a.Procedure)
			return attribute.NewSet(
				o.system,
				attribute.String("rpc.service", service),
				attribute.String("rpc.method", method),
				attribute.String("server.address", a.Node),
				keyCode.String(code),
			)
		})))
	reason := a.Reason.String()
	o.attempts.Add(ctx, 1, metric.WithAttributeSet(o.sets.get(setKey{a: call.Operation, b: reason, kind: 3}, func() attribute.Set {
		return attribute.NewSet(attribute.String("db.operation.name", call.Operation), keyReason.String(reason))
	})))
	if a.Suspect {
		o.suspects.Add(ctx, 1, metric.WithAttributes(attribute.String("server.address", a.Node)))
	}
}

func (o *observer) TopologyChanged(e norikv.TopologyEvent) {
	ctx := context.Background()
	o.epoch.Record(ctx, int64(e.CurrentEpoch))
	if n := len(e.LeaderChanges); n > 0 {
		o.leaderChanges.Add(ctx, int64(n))
	}
}

func (o *observer) ConnectionOpened(addr string) {
	o.connections.Add(context.Background(), 1, metric.WithAttributes(attribute.String("server.address", addr)))
}

func (o *observer) ConnectionClosed(addr string) {
	o.connections.Add(context.Background(), -1, metric.WithAttributes(attribute.String("server.address", addr)))
}

// splitProcedure turns "/norikv.v1.Kv/Put" into "norikv.v1.Kv", "Put".
func splitProcedure(p string) (service, method string) {
	p = strings.TrimPrefix(p, "/")
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[:i], p[i+1:]
	}
	return p, ""
}
