package vector

import (
	"errors"
	"fmt"
	"sync"
	"testing"
)

// buildPair loads the same data into a brute-force and an HNSW index.
func buildPair(t testing.TB, data [][]float32, cfg Config) (bf, hn Index) {
	t.Helper()
	cfg.Kind = BruteForce
	bf = mustNew(t, cfg)
	cfg.Kind = HNSW
	hn = mustNew(t, cfg)
	ids := seqIDs(len(data))
	if err := bf.InsertBatch(ids, data); err != nil {
		t.Fatal(err)
	}
	if err := hn.InsertBatch(ids, data); err != nil {
		t.Fatal(err)
	}
	return bf, hn
}

func measureRecall(t testing.TB, bf, hn Index, queries [][]float32, k int) float64 {
	t.Helper()
	exact := make([][]Match, len(queries))
	approx := make([][]Match, len(queries))
	for i, q := range queries {
		var err error
		if exact[i], err = bf.Search(q, k, false); err != nil {
			t.Fatal(err)
		}
		if approx[i], err = hn.Search(q, k, false); err != nil {
			t.Fatal(err)
		}
	}
	return recallAt(exact, approx)
}

// TestHNSWRecall asserts recall@10 >= 0.95 against exact ground truth on
// clustered data, for every metric, with default parameters.
func TestHNSWRecall(t *testing.T) {
	n := 10000
	if raceEnabled || testing.Short() {
		n = 2000
	}
	gen := newClustered(7, 32, 100, 1.0)
	data := gen.draw(8, n)
	queries := gen.draw(9, 200)
	for _, metric := range []Distance{Cosine, Euclidean, InnerProduct} {
		bf, hn := buildPair(t, data, Config{Dimensions: 32, Distance: metric})
		r := measureRecall(t, bf, hn, queries, 10)
		t.Logf("%v n=%d recall@10 = %.4f", metric, n, r)
		if r < 0.95 {
			t.Errorf("%v: recall@10 = %.4f, want >= 0.95", metric, r)
		}
	}
}

// TestHNSWSerialInsertRecall covers the single-insert path (no parallel
// builders) and checks it builds an equally good graph.
func TestHNSWSerialInsertRecall(t *testing.T) {
	n := 3000
	if raceEnabled {
		n = 1000
	}
	gen := newClustered(3, 16, 50, 1.0)
	data := gen.draw(4, n)
	bf := mustNew(t, Config{Dimensions: 16, Kind: BruteForce})
	hn := mustNew(t, Config{Dimensions: 16, Kind: HNSW})
	for i, id := range seqIDs(n) {
		if err := bf.Insert(id, data[i]); err != nil {
			t.Fatal(err)
		}
		if err := hn.Insert(id, data[i]); err != nil {
			t.Fatal(err)
		}
	}
	if r := measureRecall(t, bf, hn, gen.draw(5, 100), 10); r < 0.95 {
		t.Errorf("recall@10 = %.4f, want >= 0.95", r)
	}
}

// TestHNSWDeletesAndCompaction deletes most vectors (forcing tombstone
// compaction), upserts others, and checks deleted ids never return and
// recall holds on what is left.
func TestHNSWDeletesAndCompaction(t *testing.T) {
	n := 4000
	if raceEnabled {
		n = 1500
	}
	gen := newClustered(11, 16, 40, 1.0)
	data := gen.draw(12, n)
	bf, hn := buildPair(t, data, Config{Dimensions: 16, Distance: Euclidean})
	ids := seqIDs(n)
	deleted := map[string]bool{}
	for i := 0; i < n; i++ {
		if i%4 != 0 { // delete 75%: crosses the compaction threshold
			bf.Delete(ids[i])
			if !hn.Delete(ids[i]) {
				t.Fatalf("Delete(%s) = false", ids[i])
			}
			deleted[ids[i]] = true
		}
	}
	// Upsert a few survivors to new positions.
	moved := gen.draw(13, 50)
	for i := range 50 {
		id := ids[i*4]
		_ = bf.Insert(id, moved[i])
		_ = hn.Insert(id, moved[i])
	}
	if hn.Len() != bf.Len() || hn.Len() != n/4 {
		t.Fatalf("Len hnsw=%d bf=%d want %d", hn.Len(), bf.Len(), n/4)
	}
	g := hn.(*hnswIndex).g
	if g.nodes() >= n {
		t.Errorf("graph still has %d nodes (%d tombstones): compaction did not run", g.nodes(), g.nDeleted)
	}
	queries := gen.draw(14, 100)
	for _, q := range queries {
		res, _ := hn.Search(q, 10, false)
		for _, m := range res {
			if deleted[m.ID] {
				t.Fatalf("deleted id %s returned", m.ID)
			}
		}
	}
	if r := measureRecall(t, bf, hn, queries, 10); r < 0.95 {
		t.Errorf("recall@10 after deletes = %.4f, want >= 0.95", r)
	}
}

// TestHNSWConcurrentInsertSearch runs searches, inserts, deletes and a
// parallel batch at the same time; -race checks the locking.
func TestHNSWConcurrentInsertSearch(t *testing.T) {
	n := 2000
	if raceEnabled {
		n = 600
	}
	gen := newClustered(21, 8, 20, 1.0)
	data := gen.draw(22, n)
	hn := mustNew(t, Config{Dimensions: 8, Kind: HNSW, HNSW: HNSWConfig{M: 8, EfConstruction: 50}})
	if err := hn.InsertBatch(seqIDs(300), data[:300]); err != nil {
		t.Fatal(err)
	}
	queries := gen.draw(23, 50)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 3 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				res, err := hn.Search(queries[(i+w)%len(queries)], 5, i%2 == 0)
				if err != nil || len(res) == 0 {
					t.Errorf("search: %v %v", res, err)
					return
				}
				hn.Get("v1")
				hn.Len()
			}
		})
	}
	var writers sync.WaitGroup
	writers.Go(func() {
		for i := 300; i < n/2; i++ {
			_ = hn.Insert(fmt.Sprintf("v%d", i), data[i])
			if i%7 == 0 {
				hn.Delete(fmt.Sprintf("v%d", i-100))
			}
		}
	})
	writers.Go(func() {
		_ = hn.InsertBatch(seqIDs(n)[n/2:], data[n/2:])
	})
	writers.Wait()
	close(stop)
	wg.Wait()
	if _, ok := hn.Get(fmt.Sprintf("v%d", n-1)); !ok {
		t.Error("batch-inserted vector missing")
	}
}

// TestHNSWMemoryBudget asserts the compact layout stays under 700 bytes per
// 128-dim vector (512 of which are the floats) after a bulk load.
func TestHNSWMemoryBudget(t *testing.T) {
	const n = 3000
	data := newClustered(31, 128, 30, 1.0).draw(32, n)
	hn := mustNew(t, Config{Dimensions: 128, Distance: Cosine, Kind: HNSW, HNSW: HNSWConfig{EfConstruction: 32}})
	if err := hn.InsertBatch(seqIDs(n), data); err != nil {
		t.Fatal(err)
	}
	per := float64(hn.MemoryBytes()) / n
	t.Logf("%.1f bytes/vector", per)
	if per > 700 || per < 512 {
		t.Errorf("MemoryBytes/Len = %.1f, want 512..700", per)
	}
}

func TestHNSWDeleteAllAndSearchEf(t *testing.T) {
	hn := mustNew(t, Config{Dimensions: 2, Kind: HNSW}).(Tunable)
	ids := seqIDs(100)
	for i, id := range ids {
		_ = hn.Insert(id, []float32{float32(i), 1})
	}
	if _, err := hn.SearchEf([]float32{0, 0}, 1, 0, false); !errors.Is(err, ErrInvalidK) {
		t.Errorf("ef=0: %v, want ErrInvalidK", err)
	}
	res, err := hn.SearchEf([]float32{0, 0}, 3, 1, false) // ef raised to k
	if err != nil || len(res) != 3 || res[0].ID != "v0" {
		t.Errorf("SearchEf(ef=1,k=3) = %v, %v", res, err)
	}
	for _, id := range ids {
		hn.Delete(id)
	}
	if res, err := hn.Search([]float32{0, 0}, 5, false); err != nil || len(res) != 0 || hn.Len() != 0 {
		t.Errorf("after deleting all: %v %v Len=%d", res, err, hn.Len())
	}
	_ = hn.Insert("again", []float32{1, 1})
	if res, _ := hn.Search([]float32{0, 0}, 5, false); len(res) != 1 || res[0].ID != "again" {
		t.Errorf("re-insert after delete-all: %v", res)
	}
}
