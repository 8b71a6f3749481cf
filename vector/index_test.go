package vector

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
)

var allKinds = []Kind{BruteForce, HNSW}

func ids(ms []Match) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}

func TestOrderingAndTies(t *testing.T) {
	for _, kind := range allKinds {
		idx := mustNew(t, Config{Dimensions: 2, Kind: kind})
		// "m" and "b" and "z" are all at distance 1 from the origin; ties go
		// by id ascending. "far" is at 3, "near" at 0.5.
		for id, v := range map[string][]float32{
			"z": {1, 0}, "m": {0, 1}, "b": {-1, 0}, "far": {3, 0}, "near": {0.5, 0},
		} {
			if err := idx.Insert(id, v); err != nil {
				t.Fatal(err)
			}
		}
		got, err := idx.Search([]float32{0, 0}, 10, false)
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"near", "b", "m", "z", "far"}; !slices.Equal(ids(got), want) {
			t.Errorf("%v: order %v, want %v", kind, ids(got), want)
		}
		// k cuts inside the tie group: the smallest ids win.
		got, _ = idx.Search([]float32{0, 0}, 3, false)
		if want := []string{"near", "b", "m"}; !slices.Equal(ids(got), want) {
			t.Errorf("%v: k=3 order %v, want %v", kind, ids(got), want)
		}
		if got[0].Vector != nil {
			t.Errorf("%v: vector returned without includeVectors", kind)
		}
		got, _ = idx.Search([]float32{0, 0}, 1, true)
		if !slices.Equal(got[0].Vector, []float32{0.5, 0}) {
			t.Errorf("%v: includeVectors gave %v", kind, got[0].Vector)
		}
	}
}

func TestUpsertDeleteGet(t *testing.T) {
	for _, kind := range allKinds {
		idx := mustNew(t, Config{Dimensions: 2, Kind: kind})
		_ = idx.Insert("a", []float32{1, 1})
		_ = idx.Insert("b", []float32{5, 5})
		_ = idx.Insert("a", []float32{9, 9}) // upsert replaces
		if idx.Len() != 2 {
			t.Errorf("%v: Len %d after upsert, want 2", kind, idx.Len())
		}
		if v, ok := idx.Get("a"); !ok || !slices.Equal(v, []float32{9, 9}) {
			t.Errorf("%v: Get(a) = %v %v, want [9 9]", kind, v, ok)
		}
		got, _ := idx.Search([]float32{1, 1}, 10, false)
		if !slices.Equal(ids(got), []string{"b", "a"}) || len(got) != 2 {
			t.Errorf("%v: after upsert search %v, want [b a]", kind, ids(got))
		}
		if !idx.Delete("b") || idx.Delete("b") || idx.Delete("nope") {
			t.Errorf("%v: Delete return values wrong", kind)
		}
		if _, ok := idx.Get("b"); ok {
			t.Errorf("%v: deleted id still returned by Get", kind)
		}
		got, _ = idx.Search([]float32{5, 5}, 10, false)
		if !slices.Equal(ids(got), []string{"a"}) {
			t.Errorf("%v: after delete search %v, want [a]", kind, ids(got))
		}
		// Re-inserting a deleted id brings back only the new vector.
		_ = idx.Insert("b", []float32{0, 0})
		got, _ = idx.Search([]float32{5, 5}, 10, true)
		if !slices.Equal(ids(got), []string{"a", "b"}) || !slices.Equal(got[1].Vector, []float32{0, 0}) {
			t.Errorf("%v: re-insert search %v", kind, got)
		}
		if idx.Len() != 2 || idx.MemoryBytes() <= 0 {
			t.Errorf("%v: Len %d MemoryBytes %d", kind, idx.Len(), idx.MemoryBytes())
		}
	}
}

func TestCopySemantics(t *testing.T) {
	for _, kind := range allKinds {
		idx := mustNew(t, Config{Dimensions: 2, Kind: kind})
		v := []float32{1, 2}
		_ = idx.Insert("a", v)
		v[0] = 100 // caller's slice must not alias the index
		got, _ := idx.Get("a")
		if got[0] != 1 {
			t.Errorf("%v: Insert did not copy", kind)
		}
		got[1] = 100
		again, _ := idx.Get("a")
		if again[1] != 2 {
			t.Errorf("%v: Get did not return a copy", kind)
		}
		res, _ := idx.Search([]float32{0, 0}, 1, true)
		res[0].Vector[0] = 100
		again, _ = idx.Get("a")
		if again[0] != 1 {
			t.Errorf("%v: Search vector aliases storage", kind)
		}
	}
}

func TestInputErrors(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	for _, kind := range allKinds {
		idx := mustNew(t, Config{Dimensions: 3, Kind: kind})
		cases := []struct {
			name     string
			err      error
			sentinel error
			mention  string
		}{
			{"short vector", idx.Insert("a", []float32{1, 2}), ErrDimensionMismatch, "requires exactly 3"},
			{"NaN", idx.Insert("a", []float32{1, nan, 2}), ErrNonFinite, "vector[1]"},
			{"Inf", idx.Insert("a", []float32{1, 2, -inf}), ErrNonFinite, "vector[2]"},
			{"empty id", idx.Insert("", []float32{1, 2, 3}), ErrInvalidID, "id"},
			{"long id", idx.Insert(strings.Repeat("x", MaxIDLength+1), []float32{1, 2, 3}), ErrInvalidID, "4096"},
			{"batch dims", idx.InsertBatch([]string{"a", "b"}, [][]float32{{1, 2, 3}, {1}}), ErrDimensionMismatch, "vectors[1]"},
			{"batch len", idx.InsertBatch([]string{"a"}, nil), ErrDimensionMismatch, "ids"},
			{"k=0", searchErr(idx, []float32{1, 2, 3}, 0), ErrInvalidK, "at least 1"},
			{"query dims", searchErr(idx, []float32{1, 2, 3, 4}, 1), ErrDimensionMismatch, "query"},
			{"query NaN", searchErr(idx, []float32{nan, 2, 3}, 1), ErrNonFinite, "query[0]"},
		}
		for _, c := range cases {
			var iae *InvalidArgumentError
			if !errors.Is(c.err, c.sentinel) || !errors.As(c.err, &iae) || !strings.Contains(c.err.Error(), c.mention) {
				t.Errorf("%v %s: got %v, want %v mentioning %q", kind, c.name, c.err, c.sentinel, c.mention)
			}
		}
		if idx.Len() != 0 {
			t.Errorf("%v: rejected input was stored (Len %d)", kind, idx.Len())
		}
	}
}

func searchErr(idx Index, q []float32, k int) error {
	_, err := idx.Search(q, k, false)
	return err
}

func TestKLargerThanLenAndEmpty(t *testing.T) {
	for _, kind := range allKinds {
		idx := mustNew(t, Config{Dimensions: 1, Kind: kind})
		got, err := idx.Search([]float32{0}, 5, false)
		if err != nil || len(got) != 0 {
			t.Errorf("%v: empty index search = %v, %v", kind, got, err)
		}
		_ = idx.InsertBatch([]string{"a", "b", "a"}, [][]float32{{1}, {2}, {3}})
		got, _ = idx.Search([]float32{0}, 100, false)
		if len(got) != 2 || got[0].ID != "b" || got[1].Distance != 3 {
			t.Errorf("%v: batch with duplicate id / k>len: %v", kind, got)
		}
	}
}

func TestConfigValidation(t *testing.T) {
	bad := []struct {
		cfg   Config
		field string
	}{
		{Config{Dimensions: 0}, "Config.Dimensions"},
		{Config{Dimensions: MaxDimensions + 1}, "Config.Dimensions"},
		{Config{Dimensions: 4, Distance: 7}, "Config.Distance"},
		{Config{Dimensions: 4, Kind: -1}, "Config.Kind"},
		{Config{Dimensions: 4, Kind: HNSW, HNSW: HNSWConfig{M: 1}}, "Config.HNSW.M"},
		{Config{Dimensions: 4, Kind: HNSW, HNSW: HNSWConfig{EfConstruction: -1}}, "Config.HNSW.EfConstruction"},
		{Config{Dimensions: 4, Kind: HNSW, HNSW: HNSWConfig{EfSearch: MaxEf + 1}}, "Config.HNSW.EfSearch"},
	}
	for _, c := range bad {
		_, err := New(c.cfg)
		var iae *InvalidArgumentError
		if !errors.Is(err, ErrInvalidConfig) || !errors.As(err, &iae) || iae.Field != c.field {
			t.Errorf("New(%+v) = %v, want ErrInvalidConfig on %s", c.cfg, err, c.field)
		}
	}
	idx, err := New(Config{Dimensions: MaxDimensions, Kind: HNSW})
	if err != nil {
		t.Fatal(err)
	}
	h := idx.Config().HNSW
	if h.M != DefaultM || h.EfConstruction != DefaultEfConstruction || h.EfSearch != DefaultEfSearch || h.Seed != DefaultSeed {
		t.Errorf("defaults not applied: %+v", h)
	}
}
