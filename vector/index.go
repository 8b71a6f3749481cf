package vector

import "strconv"

// Match is one search result.
type Match struct {
	// ID is the id the vector was inserted under.
	ID string
	// Distance from the query under the index metric (smaller is closer).
	Distance float32
	// Vector is a copy of the stored vector, set only when Search was called
	// with includeVectors.
	Vector []float32
}

// Index is a k-nearest-neighbour index over fixed-dimension vectors keyed
// by string id. Implementations are safe for concurrent use.
type Index interface {
	// Config returns the configuration with defaults filled in.
	Config() Config
	// Insert stores a copy of v under id, replacing any vector already
	// stored under id (upsert). It rejects empty/oversized ids, wrong
	// dimensions and NaN/Inf components with an *InvalidArgumentError.
	Insert(id string, v []float32) error
	// InsertBatch upserts ids[i] -> vectors[i] for all i. Either every pair
	// is valid and all are stored, or an error is returned and nothing is
	// changed. If an id repeats, the last vector wins. HNSW builds the
	// batch with several goroutines, so bulk loads should use it.
	InsertBatch(ids []string, vectors [][]float32) error
	// Delete removes id and reports whether it was present.
	Delete(id string) bool
	// Get returns a copy of the vector stored under id.
	Get(id string) ([]float32, bool)
	// Search returns up to k nearest vectors to query, ordered by distance
	// ascending then id ascending. k must be >= 1; k > Len() returns all.
	// includeVectors fills Match.Vector with copies.
	Search(query []float32, k int, includeVectors bool) ([]Match, error)
	// Len returns the number of live (non-deleted) vectors.
	Len() int
	// MemoryBytes approximates the heap bytes held: vectors, ids, the graph
	// and bookkeeping, counted by slice capacity.
	MemoryBytes() int64
}

// New validates cfg and returns an empty index of cfg.Kind.
func New(cfg Config) (Index, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if cfg.Kind == HNSW {
		return newHNSW(cfg), nil
	}
	return newBruteForce(cfg), nil
}

// checkBatch validates a whole batch up front so InsertBatch is all-or-nothing.
func checkBatch(ids []string, vectors [][]float32, dims int) error {
	if len(ids) != len(vectors) {
		return invalid(ErrDimensionMismatch, "vectors", "has %d entries but ids has %d; they must match", len(vectors), len(ids))
	}
	for i := range ids {
		if err := checkID(fieldIdx("ids", i), ids[i]); err != nil {
			return err
		}
		if err := checkVector(fieldIdx("vectors", i), vectors[i], dims); err != nil {
			return err
		}
	}
	return nil
}

func fieldIdx(name string, i int) string {
	return name + "[" + strconv.Itoa(i) + "]"
}
