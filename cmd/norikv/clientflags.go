package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"connectrpc.com/connect"

	norikv "github.com/norikv/norikv-go/client"
	"github.com/norikv/norikv-go/gen/norikv/v1/norikvv1connect"
	"github.com/norikv/norikv-go/interceptors"
	"github.com/norikv/norikv-go/internal/loadgen/targets"
)

// Exit statuses. Scripts can tell "the key is not there" and "someone else
// wrote first" from real failures without parsing stderr.
const (
	exitOK       = 0
	exitError    = 1
	exitUsage    = 2
	exitNotFound = 3 // get / vector get of a missing key or vector
	exitConflict = 4 // --if-match lost: the version changed
)

// exitStatusHelp is printed under every client command's help.
const exitStatusHelp = `
Exit status: 0 ok, 1 error, 2 bad usage, 3 not found, 4 version mismatch (--if-match).
`

// defaultTarget is --target's default: node n1 of a plain "norikv serve".
const defaultTarget = "127.0.0.1:9001"

// clientFlags are the flags every command that talks to a cluster shares.
type clientFlags struct {
	target   string
	protocol string
	shards   int
	timeout  time.Duration
	json     bool
	token    string
	// tokenFlag reports --token on the command line (else token is
	// NORIKV_TOKEN's, if set).
	tokenFlag bool
	caFile    string
	trace     bool
	stderr    io.Writer // where --trace prints (trace.go)
}

// addClientFlags registers the common flags on fs.
func addClientFlags(fs *flagSet) *clientFlags {
	cf := &clientFlags{}
	fs.StringVar(&cf.target, "target", defaultTarget, "connect to the cluster's nodes at `host:port[,host:port...]` (https://host:port for TLS)")
	fs.StringVar(&cf.protocol, "protocol", "grpc", "RPC protocol: grpc, connect or grpcweb")
	fs.IntVar(&cf.shards, "shards", 0, "the cluster's shard count `N` (default: learnt from the cluster; needed only for clusters that do not serve Meta.WatchCluster)")
	fs.durationVar(&cf.timeout, "timeout", norikv.DefaultTimeout, "bound on each call, retries included (a `duration`: 5s, 500ms)")
	fs.BoolVar(&cf.json, "json", false, "print JSON instead of text")
	cf.token = os.Getenv(tokenEnv)
	fs.Func("token", "bearer `token` sent with every request (default: $"+tokenEnv+")", func(v string) error {
		cf.token, cf.tokenFlag = v, true
		return nil
	})
	fs.StringVar(&cf.caFile, "ca", "", "PEM `file` of the CA that signed the servers' certificates (implies TLS)")
	fs.BoolVar(&cf.trace, "trace", false, "print each call with its attempts (node, retry or redirect, timing) to stderr")
	cf.stderr = fs.stderr
	return cf
}

// parseInterspersed parses args allowing flags after positional arguments
// ("norikv get k --json" reads as naturally as "norikv get --json k"),
// which package flag alone does not. "--" ends flag parsing.
func (fs *flagSet) parseInterspersed(args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.help()
				return nil, err
			}
			return nil, usageError{err.Error()}
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		// Parse stopped at a positional argument or after "--".
		consumed := len(args) - len(rest)
		if consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// wantArgs checks the number of positional arguments.
func wantArgs(pos []string, names ...string) error {
	switch {
	case len(pos) < len(names):
		return usagef("missing %s", strings.Join(names[len(pos):], " and "))
	case len(pos) > len(names):
		return usagef("unexpected argument %q", pos[len(names)])
	}
	return nil
}

func (cf *clientFlags) config() (norikv.Config, error) {
	cfg := norikv.Config{
		TotalShards: cf.shards, // 0: the client learns it from the cluster view
		Timeout:     cf.timeout,
		BearerToken: cf.token,
	}
	if cf.trace {
		cfg.Observer = newTraceObserver(cf.stderr)
	}
	for a := range strings.SplitSeq(cf.target, ",") {
		if a = strings.TrimSpace(a); a != "" {
			cfg.Nodes = append(cfg.Nodes, a)
		}
	}
	if len(cfg.Nodes) == 0 {
		return cfg, usagef("--target names no node")
	}
	if cf.timeout < time.Millisecond {
		// The SDK's own message is about Go's time.Duration.
		return cfg, usagef("--timeout %v: want at least 1ms (e.g. 5s or 500ms)", cf.timeout)
	}
	if cf.shards < 0 {
		return cfg, usagef("--shards must not be negative (0, the default: learn it from the cluster)")
	}
	switch cf.protocol {
	case "grpc":
		cfg.Protocol = norikv.ProtocolGRPC
	case "connect":
		cfg.Protocol = norikv.ProtocolConnect
	case "grpcweb", "grpc-web":
		cfg.Protocol = norikv.ProtocolGRPCWeb
	default:
		return cfg, usagef("--protocol %q: want grpc, connect or grpcweb", cf.protocol)
	}
	if cf.caFile != "" {
		pem, err := os.ReadFile(cf.caFile)
		if err != nil {
			return cfg, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return cfg, fmt.Errorf("--ca %s: no PEM certificate in it", cf.caFile)
		}
		cfg.TLS = &tls.Config{RootCAs: pool}
	}
	return cfg, nil
}

// dial builds a client from the flags and connects it, so an unreachable
// cluster is one clear error up front rather than a call's timeout. Unless
// --shards was given it takes the shard count from the cluster view, so
// "norikv get" works against a "norikv serve --shards 64" without
// repeating the number (a wrong --shards is an error naming both counts).
//
// Only watch keeps the SDK's background cluster watch: a one-shot command
// needs one view, and fetching it once fails fast on a bad token or a dead
// node instead of waiting out --timeout for a view that will not come.
func (cf *clientFlags) dial(ctx context.Context, fs *flagSet) (*norikv.Client, error) {
	return cf.dialWatch(ctx, fs, false)
}

func (cf *clientFlags) dialWatch(ctx context.Context, fs *flagSet, watch bool) (*norikv.Client, error) {
	cfg, err := cf.config()
	if err != nil {
		return nil, err
	}
	cfg.DisableWatch = !watch
	c, err := norikv.New(cfg)
	if err != nil {
		return nil, usageError{err.Error()}
	}
	start := time.Now()
	if err := c.Connect(ctx); err != nil {
		c.Close()
		if cf.trace {
			// Connect fetches the view, not a call the observer sees:
			// without this line a dead target traces nothing.
			fmt.Fprintf(cf.stderr, "trace Connect (the cluster view, asked of %s) %s %s\n",
				strings.Join(cfg.Nodes, ","), ms(time.Since(start)), firstLine(err))
		}
		if ce, ok := errors.AsType[*norikv.ConnectionError](err); ok {
			return nil, relabel(err, "%s (is a cluster running there? see 'norikv serve')", firstLine(ce))
		}
		return nil, cf.explainAuth(err)
	}
	return c, nil
}

// tokenEnv is the environment variable --token defaults to.
const tokenEnv = "NORIKV_TOKEN" //nolint:gosec // G101: the name of a variable that holds a token, not a token

// explainAuth turns the cluster's refusal of the bearer token into what to
// do on this command line: the server's own text names an HTTP header,
// which the user never writes here.
func (cf *clientFlags) explainAuth(err error) error {
	var e *norikv.Error
	if !errors.As(err, &e) || (e.Code != norikv.CodeUnauthenticated && e.Code != norikv.CodePermissionDenied) {
		return err
	}
	switch {
	case cf.token == "":
		return relabel(err, "the cluster wants a token: pass --token TOKEN or set %s (the token its 'norikv serve --token' was given)", tokenEnv)
	case cf.token == os.Getenv(tokenEnv) && !cf.tokenFlag:
		return relabel(err, "the cluster refused the token in %s: check it is the one the cluster was started with", tokenEnv)
	default:
		return relabel(err, "the cluster refused the --token given: check it is the one the cluster was started with")
	}
}

// parseVersion reads --if-match: a version as Version.String writes it
// ("term:index"). The "term.index" this command's older releases took
// (and Version.String once printed) is still accepted.
func parseVersion(s string) (norikv.Version, error) {
	v, err := norikv.ParseVersion(s)
	if err == nil {
		return v, nil
	}
	if t, i, ok := strings.Cut(s, "."); ok && !strings.Contains(s, ":") {
		if v, err2 := norikv.ParseVersion(t + ":" + i); err2 == nil {
			return v, nil
		}
	}
	if e, ok := errors.AsType[*norikv.Error](err); ok {
		return norikv.Version{}, usagef("--if-match %s", e.Message)
	}
	return norikv.Version{}, usageError{err.Error()}
}

// admin calls f with a raw Admin client (the SDK has no Admin API: it is
// for operators), speaking as the flags say: protocol, TLS, token, and
// --timeout for the whole call: f must use the ctx it is given, which the
// timeout bounds. Any node serves Admin, so f is tried on each --target
// node in turn until one is reached.
func (cf *clientFlags) admin(ctx context.Context, f func(context.Context, norikvv1connect.AdminClient) error) error {
	cfg, err := cf.config()
	if err != nil {
		return err
	}
	if cf.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cf.timeout)
		defer cancel()
	}
	tr, opts, err := targets.RawTransport(cfg.Protocol.String())
	if err != nil {
		return err
	}
	defer tr.CloseIdleConnections()
	scheme := "http://"
	if cfg.TLS != nil || strings.HasPrefix(cf.target, "https://") {
		scheme = "https://"
		var p http.Protocols
		if cfg.Protocol == norikv.ProtocolGRPC {
			p.SetHTTP2(true)
			tr.ForceAttemptHTTP2 = true
		} else {
			p.SetHTTP1(true)
		}
		tr.Protocols, tr.TLSClientConfig = &p, cfg.TLS
	}
	ics := []connect.Interceptor{interceptors.Errors()}
	if cf.token != "" {
		ics = append(ics, connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
			return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
				req.Header().Set("Authorization", "Bearer "+cf.token)
				return next(ctx, req)
			}
		}))
	}
	opts = append(opts, connect.WithInterceptors(ics...))
	for _, n := range cfg.Nodes {
		a := norikvv1connect.NewAdminClient(&http.Client{Transport: tr}, scheme+interceptors.HostPort(n), opts...)
		var ce *norikv.ConnectionError
		if err = f(ctx, a); !errors.As(err, &ce) {
			return cf.explainAuth(err)
		}
	}
	return err
}

// printJSON writes v as one line of JSON. Every --json output follows
// one convention: snake_case names, durations as numbers of milliseconds
// in fields named *_ms (millis), lists as [] never null (orEmpty).
func printJSON(w io.Writer, v any) error {
	return json.NewEncoder(w).Encode(v)
}

// millis is d in milliseconds, fractions kept.
func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// orEmpty is s, or an empty list where s is nil, so JSON says [] for
// "none" rather than null.
func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// relabeled replaces an error's message with a shorter one for the user
// while keeping it matchable (errors.Is picks the exit status).
type relabeled struct {
	msg string
	err error
}

func (e relabeled) Error() string { return e.msg }
func (e relabeled) Unwrap() error { return e.err }

func relabel(err error, format string, a ...any) error {
	return relabeled{fmt.Sprintf(format, a...), err}
}
