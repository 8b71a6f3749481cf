package vector

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestKernelsMatchScalar checks the SIMD kernels against the scalar
// reference for every length 0..300 at several misalignments, which covers
// the vector body, the unrolled tails and the remainder loops.
func TestKernelsMatchScalar(t *testing.T) {
	t.Logf("assembly kernels in use: %v", useAVX2)
	rng := rand.New(rand.NewPCG(1, 2))
	buf := make([]float32, 320)
	buf2 := make([]float32, 320)
	for i := range buf {
		buf[i] = float32(rng.NormFloat64())
		buf2[i] = float32(rng.NormFloat64())
	}
	for n := 0; n <= 300; n++ {
		for _, off := range []int{0, 1, 3, 7} {
			x, y := buf[off:off+n], buf2[7-off:7-off+n]
			if got, want := dot(x, y), dotScalar(x, y); !close32(got, want, n) {
				t.Fatalf("dot n=%d off=%d: simd %v scalar %v", n, off, got, want)
			}
			if got, want := l2sq(x, y), l2sqScalar(x, y); !close32(got, want, n) {
				t.Fatalf("l2sq n=%d off=%d: simd %v scalar %v", n, off, got, want)
			}
			if got, want := dotGo(x, y), dotScalar(x, y); !close32(got, want, n) {
				t.Fatalf("dotGo n=%d off=%d: %v scalar %v", n, off, got, want)
			}
			if got, want := l2sqGo(x, y), l2sqScalar(x, y); !close32(got, want, n) {
				t.Fatalf("l2sqGo n=%d off=%d: simd %v scalar %v", n, off, got, want)
			}
		}
	}
}

// TestRowKernelsMatchScalar checks the row-batch kernels for several row
// lengths and row counts, including misaligned slabs.
func TestRowKernelsMatchScalar(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, dim := range []int{1, 3, 7, 8, 9, 31, 32, 33, 100, 128, 257} {
		for _, rows := range []int{0, 1, 2, 5, 17} {
			q := make([]float32, dim)
			slab := make([]float32, rows*dim+1)[1:] // misaligned by 4 bytes
			for i := range q {
				q[i] = float32(rng.NormFloat64())
			}
			for i := range slab {
				slab[i] = float32(rng.NormFloat64())
			}
			d := make([]float32, rows)
			l := make([]float32, rows)
			dotRows(q, slab, d)
			l2sqRows(q, slab, l)
			for r := range rows {
				row := slab[r*dim : (r+1)*dim]
				if want := dotScalar(q, row); !close32(d[r], want, dim) {
					t.Fatalf("dotRows dim=%d row %d: %v want %v", dim, r, d[r], want)
				}
				if want := l2sqScalar(q, row); !close32(l[r], want, dim) {
					t.Fatalf("l2sqRows dim=%d row %d: %v want %v", dim, r, l[r], want)
				}
			}
		}
	}
}

// close32 allows float32 reassociation error growing with length.
func close32(a, b float32, n int) bool {
	tol := 1e-5 * float64(n+1) * (1 + math.Abs(float64(b)))
	return math.Abs(float64(a-b)) <= tol
}

// TestDistancesByHand checks each metric on vectors whose distances are
// worked out by hand, for both index kinds.
func TestDistancesByHand(t *testing.T) {
	q := []float32{1, 2, 2}
	docs := map[string][]float32{
		"a": {4, 6, 2},  // diff (3,4,0): L2 = 5; dot = 4+12+4 = 20
		"b": {1, 2, 2},  // identical: L2 0; cos dist 0; dot 9
		"c": {-2, 1, 0}, // diff (3,1,2): L2 = sqrt(14); dot = -2+2+0 = 0 -> cos dist 1
		"d": {0, 0, 0},  // zero vector: cos dist defined as 1; L2 = |q| = 3; dot 0
	}
	// |q| = 3, |a| = sqrt(16+36+4) = sqrt(56); cos(q,a) = 20/(3*sqrt(56)).
	cosA := float32(1 - 20/(3*math.Sqrt(56)))
	want := map[Distance]map[string]float32{
		Euclidean:    {"a": 5, "b": 0, "c": float32(math.Sqrt(14)), "d": 3},
		Cosine:       {"a": cosA, "b": 0, "c": 1, "d": 1},
		InnerProduct: {"a": -20, "b": -9, "c": 0, "d": 0},
	}
	for _, kind := range []Kind{BruteForce, HNSW} {
		for metric, w := range want {
			idx := mustNew(t, Config{Dimensions: 3, Distance: metric, Kind: kind})
			for id, v := range docs {
				if err := idx.Insert(id, v); err != nil {
					t.Fatal(err)
				}
			}
			got, err := idx.Search(q, 10, false)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 4 {
				t.Fatalf("%v/%v: got %d results", kind, metric, len(got))
			}
			for _, m := range got {
				if math.Abs(float64(m.Distance-w[m.ID])) > 1e-5 {
					t.Errorf("%v/%v: distance(%s) = %v, want %v", kind, metric, m.ID, m.Distance, w[m.ID])
				}
			}
		}
	}
}

func TestZeroQueryCosine(t *testing.T) {
	idx := mustNew(t, Config{Dimensions: 2, Distance: Cosine})
	_ = idx.Insert("x", []float32{1, 0})
	got, err := idx.Search([]float32{0, 0}, 1, false)
	if err != nil || len(got) != 1 || got[0].Distance != 1 {
		t.Fatalf("zero query: %v %v, want distance 1", got, err)
	}
}

func mustNew(t testing.TB, cfg Config) Index {
	t.Helper()
	idx, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return idx
}

// dotScalar and l2sqScalar are the naive references the kernels are
// tested against.
func dotScalar(x, y []float32) float32 {
	var s float32
	for i := range x {
		s += x[i] * y[i]
	}
	return s
}

func l2sqScalar(x, y []float32) float32 {
	var s float32
	for i := range x {
		d := x[i] - y[i]
		s += d * d
	}
	return s
}
