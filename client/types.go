package norikv

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/connect"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
	"github.com/norikv/norikv-go/interceptors"
	"github.com/norikv/norikv-go/internal/wire"
)

// Version identifies one write: the shard's Raft term and the log index
// of the write. Compare-and-swap (IfMatch) compares both.
type Version struct {
	Term  uint64
	Index uint64
}

// IsZero reports whether v is the zero Version (no version).
func (v Version) IsZero() bool { return v == Version{} }

// String formats v as "term:index" (e.g. "3:17"), the one textual form
// of a version: the norikv command prints and reads it, server messages
// use it, and ParseVersion inverts it.
func (v Version) String() string {
	return strconv.FormatUint(v.Term, 10) + ":" + strconv.FormatUint(v.Index, 10)
}

// ParseVersion reads a version written by Version.String ("term:index",
// both decimal unsigned integers, no spaces). Bad input is an
// InvalidArgument *Error naming the part that is wrong.
func ParseVersion(s string) (Version, error) {
	bad := func(format string, a ...any) (Version, error) {
		msg := fmt.Sprintf("version %q: ", s) + fmt.Sprintf(format, a...) + " (want term:index, e.g. 3:17)"
		e := interceptors.NewError(connect.CodeInvalidArgument, msg, nil, nil)
		e.Operation = "ParseVersion"
		return Version{}, e
	}
	if s == "" {
		return bad("empty")
	}
	t, i, ok := strings.Cut(s, ":")
	if !ok {
		return bad(`missing ":index"`)
	}
	term, err := strconv.ParseUint(t, 10, 64)
	if err != nil {
		return bad("term %q is not an unsigned integer", t)
	}
	index, err := strconv.ParseUint(i, 10, 64)
	if err != nil {
		return bad("index %q is not an unsigned integer", i)
	}
	return Version{Term: term, Index: index}, nil
}

func versionFrom(p *v1.Version) Version {
	return Version{Term: p.GetTerm(), Index: p.GetIndex()}
}

func (v Version) proto() *v1.Version { return &v1.Version{Term: v.Term, Index: v.Index} }

// GetResult is what Get returns.
type GetResult struct {
	Value   []byte
	Version Version
	// Meta is server-provided metadata; may be nil.
	Meta map[string]string
}

// Consistency is a read's consistency level.
type Consistency int

const (
	// ConsistencyLease is a leader read under its lease: fast and
	// consistent except across a lease-clock anomaly. The default.
	ConsistencyLease Consistency = iota
	// ConsistencyLinearizable is a leader read confirmed with a quorum.
	ConsistencyLinearizable
	// ConsistencyStaleOK may be served by any replica and may be stale.
	ConsistencyStaleOK
)

// wire spelling sent for c; the client sends what every server
// understands (see internal/wire).
func (c Consistency) spelling() string {
	switch c {
	case ConsistencyLinearizable:
		return wire.Linearizable.Spelling()
	case ConsistencyStaleOK:
		return wire.StaleOK.Spelling()
	}
	return wire.Lease.Spelling()
}

// String returns the level's SDK name: "lease", "linearizable" or
// "stale_ok" (the wire spelling differs; see internal/wire).
func (c Consistency) String() string {
	switch c {
	case ConsistencyLease:
		return "lease"
	case ConsistencyLinearizable:
		return "linearizable"
	case ConsistencyStaleOK:
		return "stale_ok"
	}
	return fmt.Sprintf("Consistency(%d)", int(c))
}

// DistanceFunction is a vector index's distance.
type DistanceFunction int

const (
	// DistanceEuclidean is L2 distance.
	DistanceEuclidean DistanceFunction = DistanceFunction(v1.DistanceFunction_DISTANCE_FUNCTION_EUCLIDEAN)
	// DistanceCosine is 1 - cosine similarity.
	DistanceCosine DistanceFunction = DistanceFunction(v1.DistanceFunction_DISTANCE_FUNCTION_COSINE)
	// DistanceInnerProduct is the negative inner product.
	DistanceInnerProduct DistanceFunction = DistanceFunction(v1.DistanceFunction_DISTANCE_FUNCTION_INNER_PRODUCT)
)

// String returns "euclidean", "cosine" or "inner_product".
func (d DistanceFunction) String() string {
	switch d {
	case DistanceEuclidean:
		return "euclidean"
	case DistanceCosine:
		return "cosine"
	case DistanceInnerProduct:
		return "inner_product"
	}
	return fmt.Sprintf("DistanceFunction(%d)", int(d))
}

// VectorIndexType is a vector index's structure.
type VectorIndexType int

const (
	// IndexBruteForce is an exact linear scan.
	IndexBruteForce VectorIndexType = VectorIndexType(v1.VectorIndexType_VECTOR_INDEX_TYPE_BRUTE_FORCE)
	// IndexHNSW is an approximate HNSW graph.
	IndexHNSW VectorIndexType = VectorIndexType(v1.VectorIndexType_VECTOR_INDEX_TYPE_HNSW)
)

// String returns "brute_force" or "hnsw".
func (t VectorIndexType) String() string {
	switch t {
	case IndexBruteForce:
		return "brute_force"
	case IndexHNSW:
		return "hnsw"
	}
	return fmt.Sprintf("VectorIndexType(%d)", int(t))
}

// VectorMatch is one search hit.
type VectorMatch struct {
	ID       string
	Distance float32
	// Vector is set only when the search used WithIncludeVectors.
	Vector []float32
}

// VectorSearchResult is what VectorSearch returns: the nearest matches,
// nearest first, and the server's search time.
type VectorSearchResult struct {
	Matches    []VectorMatch
	SearchTime time.Duration
}
