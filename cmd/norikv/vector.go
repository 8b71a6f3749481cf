package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"

	norikv "github.com/norikv/norikv-go/client"
)

func init() {
	register(&command{Name: "vector", Summary: "vector indexes: create, insert, search, get, del, drop", Run: runVector})
}

// vectorVerbs are vector's own subcommands, in the order help lists them.
type vectorVerb struct {
	name, synopsis, summary string
	run                     func(ctx context.Context, o IO, fs *flagSet, cf *clientFlags, vf *vecFlags, pos []string) error
	flags                   func(fs *flagSet, vf *vecFlags) // the verb's own flags
}

var vectorVerbs = []vectorVerb{
	{"create", "<namespace> --dims N [--distance D] [--index T]", "create a namespace's index", vectorCreate, vectorCreateFlags},
	{"insert", "<namespace> <id> <v1,v2,...>", "insert or replace a vector", vectorInsert, nil},
	{"search", "<namespace> <v1,v2,...> [--k N]", "print the k nearest vectors", vectorSearch, vectorSearchFlags},
	{"get", "<namespace> <id>", "print a vector (exit 3 if absent)", vectorGet, nil},
	{"del", "<namespace> <id>", "delete a vector", vectorDel, nil},
	{"drop", "<namespace>", "drop an index and its vectors", vectorDrop, nil},
}

const vectorExamples = `  norikv vector create products --dims 3 --distance cosine --index hnsw
  norikv vector insert products shoe-red 1,0,0 --idempotency-key insert-shoe-red
  norikv vector search products 0.9,0.1,0 --k 2
  norikv vector get products shoe-red
  norikv vector del products shoe-red
  norikv vector drop products
` + exitStatusHelp

func runVector(ctx context.Context, o IO, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
		fmt.Fprintln(o.Stdout, "Usage: norikv vector <verb> [arguments] [flags]\n\nVerbs:")
		for _, v := range vectorVerbs {
			fmt.Fprintf(o.Stdout, "  %-7s %-48s %s\n", v.name, v.synopsis, v.summary)
		}
		fmt.Fprintf(o.Stdout, "\nRun 'norikv vector <verb> --help' for its flags.\n\nExamples:\n%s", vectorExamples)
		if len(args) == 0 {
			return usagef("missing verb (create, insert, search, get, del or drop)")
		}
		return nil
	}
	for _, v := range vectorVerbs {
		if v.name != args[0] {
			continue
		}
		fs := newFlagSet(o, "vector "+v.name, v.synopsis+" [flags]", vectorExamples)
		cf := addClientFlags(fs)
		vf := &vecFlags{}
		if v.flags != nil {
			v.flags(fs, vf)
		}
		if v.name != "search" && v.name != "get" { // the writes
			fs.StringVar(&vf.idemKey, "idempotency-key", "", "apply the write once under this `key`, however often it is repeated")
		}
		pos, err := fs.parseInterspersed(args[1:])
		if err != nil {
			return err
		}
		return vectorError(v.run(ctx, o, fs, cf, vf, pos), pos)
	}
	return usagef("unknown verb %q (want create, insert, search, get, del or drop)", args[0])
}

// vecFlags are the flags of single verbs, one set per invocation.
type vecFlags struct {
	dims            int
	distance, index string
	k               int
	include         bool
	idemKey         string
}

// writeOpts are the options of a vector write.
func (vf *vecFlags) writeOpts() []norikv.VectorWriteOption {
	if vf.idemKey == "" {
		return nil
	}
	return []norikv.VectorWriteOption{norikv.WithIdempotencyKey(vf.idemKey)}
}

func vectorCreateFlags(fs *flagSet, vf *vecFlags) {
	fs.IntVar(&vf.dims, "dims", 0, "dimensions of the vectors (required)")
	fs.StringVar(&vf.distance, "distance", "cosine", "distance: cosine, euclidean or inner_product")
	fs.StringVar(&vf.index, "index", "hnsw", "index type: hnsw or brute_force")
}

func vectorSearchFlags(fs *flagSet, vf *vecFlags) {
	fs.IntVar(&vf.k, "k", 10, "number of nearest vectors to return")
	fs.BoolVar(&vf.include, "include-vectors", false, "print each match's vector too")
}

// withClient dials, runs f and closes the client.
func withClient(ctx context.Context, fs *flagSet, cf *clientFlags, f func(c *norikv.Client) error) error {
	c, err := cf.dial(ctx, fs)
	if err != nil {
		return err
	}
	defer c.Close()
	return f(c)
}

func vectorCreate(ctx context.Context, o IO, fs *flagSet, cf *clientFlags, vf *vecFlags, pos []string) error {
	if err := wantArgs(pos, "<namespace>"); err != nil {
		return err
	}
	dimsSet := false
	fs.Visit(func(f *flag.Flag) { dimsSet = dimsSet || f.Name == "dims" })
	switch {
	case !dimsSet:
		return usagef("missing --dims (the vectors' dimensions, e.g. --dims 384)")
	case vf.dims < 1:
		return usagef("--dims must be at least 1")
	}
	var dist norikv.DistanceFunction
	switch vf.distance {
	case "cosine":
		dist = norikv.DistanceCosine
	case "euclidean", "l2":
		dist = norikv.DistanceEuclidean
	case "inner_product", "dot":
		dist = norikv.DistanceInnerProduct
	default:
		return usagef("--distance %q: want cosine, euclidean or inner_product", vf.distance)
	}
	var typ norikv.VectorIndexType
	switch vf.index {
	case "hnsw":
		typ = norikv.IndexHNSW
	case "brute_force", "brute":
		typ = norikv.IndexBruteForce
	default:
		return usagef("--index %q: want hnsw or brute_force", vf.index)
	}
	return withClient(ctx, fs, cf, func(c *norikv.Client) error {
		created, err := c.VectorCreateIndex(ctx, pos[0], vf.dims, dist, typ, vf.writeOpts()...)
		if err != nil {
			return err
		}
		return report(o, cf, map[string]any{"namespace": pos[0], "created": created},
			ifElse(created, "created", "already exists"))
	})
}

func vectorInsert(ctx context.Context, o IO, fs *flagSet, cf *clientFlags, vf *vecFlags, pos []string) error {
	if err := wantArgs(pos, "<namespace>", "<id>", "<vector>"); err != nil {
		return err
	}
	vec, err := parseVector(pos[2])
	if err != nil {
		return err
	}
	return withClient(ctx, fs, cf, func(c *norikv.Client) error {
		v, err := c.VectorInsert(ctx, pos[0], pos[1], vec, vf.writeOpts()...)
		if err != nil {
			return err
		}
		return report(o, cf, map[string]any{"namespace": pos[0], "id": pos[1], "version": v.String()},
			"version "+v.String())
	})
}

func vectorSearch(ctx context.Context, o IO, fs *flagSet, cf *clientFlags, vf *vecFlags, pos []string) error {
	if err := wantArgs(pos, "<namespace>", "<vector>"); err != nil {
		return err
	}
	if vf.k < 1 {
		return usagef("--k must be at least 1")
	}
	q, err := parseVector(pos[1])
	if err != nil {
		return err
	}
	var opts []norikv.VectorSearchOption
	if vf.include {
		opts = append(opts, norikv.WithIncludeVectors())
	}
	return withClient(ctx, fs, cf, func(c *norikv.Client) error {
		res, err := c.VectorSearch(ctx, pos[0], q, vf.k, opts...)
		if err != nil {
			return err
		}
		if cf.json {
			type match struct {
				ID       string    `json:"id"`
				Distance float32   `json:"distance"`
				Vector   []float32 `json:"vector,omitempty"`
			}
			ms := []match{}
			for _, m := range res.Matches {
				ms = append(ms, match(m))
			}
			return printJSON(o.Stdout, map[string]any{"matches": ms, "search_time_ms": millis(res.SearchTime)})
		}
		tw := tabwriter.NewWriter(o.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tDISTANCE"+ifElse(vf.include, "\tVECTOR", ""))
		for _, m := range res.Matches {
			fmt.Fprintf(tw, "%s\t%.4f", m.ID, m.Distance)
			if vf.include {
				fmt.Fprintf(tw, "\t%s", formatVector(m.Vector))
			}
			fmt.Fprintln(tw)
		}
		return tw.Flush()
	})
}

func vectorGet(ctx context.Context, o IO, fs *flagSet, cf *clientFlags, vf *vecFlags, pos []string) error {
	if err := wantArgs(pos, "<namespace>", "<id>"); err != nil {
		return err
	}
	return withClient(ctx, fs, cf, func(c *norikv.Client) error {
		vec, found, err := c.VectorGet(ctx, pos[0], pos[1])
		if err != nil {
			return err
		}
		if !found {
			return statusError{exitNotFound, fmt.Sprintf("vector %q not found in %q", pos[1], pos[0])}
		}
		return report(o, cf, map[string]any{"namespace": pos[0], "id": pos[1], "vector": orEmpty(vec)}, formatVector(vec))
	})
}

func vectorDel(ctx context.Context, o IO, fs *flagSet, cf *clientFlags, vf *vecFlags, pos []string) error {
	if err := wantArgs(pos, "<namespace>", "<id>"); err != nil {
		return err
	}
	return withClient(ctx, fs, cf, func(c *norikv.Client) error {
		deleted, err := c.VectorDelete(ctx, pos[0], pos[1], vf.writeOpts()...)
		if err != nil {
			return err
		}
		return report(o, cf, map[string]any{"namespace": pos[0], "id": pos[1], "deleted": deleted},
			ifElse(deleted, "deleted", "not found (nothing deleted)"))
	})
}

func vectorDrop(ctx context.Context, o IO, fs *flagSet, cf *clientFlags, vf *vecFlags, pos []string) error {
	if err := wantArgs(pos, "<namespace>"); err != nil {
		return err
	}
	return withClient(ctx, fs, cf, func(c *norikv.Client) error {
		dropped, err := c.VectorDropIndex(ctx, pos[0], vf.writeOpts()...)
		if err != nil {
			return err
		}
		return report(o, cf, map[string]any{"namespace": pos[0], "dropped": dropped},
			ifElse(dropped, "dropped", "no such index (nothing dropped)"))
	})
}

// vectorError rewords the SDK's errors for this command's users, who know
// "norikv vector create", not the RPCs: a missing index says how to
// create it, and the rest name the namespace without the RPC. Exit
// statuses are unchanged (the SDK error is still wrapped).
func vectorError(err error, pos []string) error {
	var e *norikv.Error
	switch {
	case err == nil:
		return nil
	case errors.Is(err, norikv.ErrIndexNotFound) && len(pos) > 0:
		return relabel(err, "no vector index %q: create it with 'norikv vector create %s --dims N'", pos[0], pos[0])
	case errors.As(err, &e) && e.Operation != "":
		return relabel(err, "%s", withoutOperation(e))
	}
	return err
}

// withoutOperation is e's message without the RPC's name, which means
// nothing to someone typing commands.
func withoutOperation(e *norikv.Error) string {
	bare := *e
	bare.Operation = ""
	return firstLine(&bare)
}

// report prints obj as JSON under --json, else the text line.
func report(o IO, cf *clientFlags, obj any, text string) error {
	if cf.json {
		return printJSON(o.Stdout, obj)
	}
	_, err := fmt.Fprintln(o.Stdout, text)
	return err
}

// parseVector reads "0.1,0.2,0.3" (spaces allowed, brackets optional, so a
// JSON array pasted from --json output works too).
func parseVector(s string) ([]float32, error) {
	s = strings.Trim(strings.TrimSpace(s), "[]")
	if s == "" {
		return nil, usagef("empty vector: want numbers separated by commas, e.g. 0.1,0.2,0.3")
	}
	parts := strings.Split(s, ",")
	vec := make([]float32, len(parts))
	for i, p := range parts {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 32)
		if err != nil {
			return nil, usagef("vector component %d %q is not a number", i+1, p)
		}
		vec[i] = float32(f)
	}
	return vec, nil
}

func formatVector(v []float32) string {
	parts := make([]string, len(v))
	for i, f := range v {
		parts[i] = strconv.FormatFloat(float64(f), 'g', -1, 32)
	}
	return strings.Join(parts, ",")
}

func ifElse(cond bool, a, b string) string {
	if cond {
		return a
	}
	return b
}
