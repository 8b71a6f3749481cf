package vector

import (
	"math"
	"math/rand/v2"
	"strconv"
)

// clustered draws n dim-dimensional vectors around nCentres centres
// (centre components N(0,1), per-vector noise N(0,noise)), L2-normalised,
// deterministic for a given seed. Queries are drawn the same way with a
// different seed but the same centres.
type clustered struct {
	dim     int
	noise   float64
	centres [][]float64
}

func newClustered(seed uint64, dim, nCentres int, noise float64) *clustered {
	rng := rand.New(rand.NewPCG(seed, 1))
	c := &clustered{dim: dim, noise: noise, centres: make([][]float64, nCentres)}
	for i := range c.centres {
		c.centres[i] = make([]float64, dim)
		for j := range c.centres[i] {
			c.centres[i][j] = rng.NormFloat64()
		}
	}
	return c
}

func (c *clustered) draw(seed uint64, n int) [][]float32 {
	rng := rand.New(rand.NewPCG(seed, 2))
	out := make([][]float32, n)
	flat := make([]float32, n*c.dim)
	for i := range out {
		centre := c.centres[rng.IntN(len(c.centres))]
		v := flat[i*c.dim : (i+1)*c.dim : (i+1)*c.dim]
		var norm float64
		for j := range v {
			x := centre[j] + rng.NormFloat64()*c.noise
			v[j] = float32(x)
			norm += x * x
		}
		inv := float32(1 / math.Sqrt(norm))
		for j := range v {
			v[j] *= inv
		}
		out[i] = v
	}
	return out
}

func seqIDs(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "v" + strconv.Itoa(i)
	}
	return out
}

// recallAt computes |approx ∩ exact| / |exact| summed over queries.
func recallAt(exact, approx [][]Match) float64 {
	hit, total := 0, 0
	for i := range exact {
		want := make(map[string]bool, len(exact[i]))
		for _, m := range exact[i] {
			want[m.ID] = true
		}
		for _, m := range approx[i] {
			if want[m.ID] {
				hit++
			}
		}
		total += len(exact[i])
	}
	return float64(hit) / float64(total)
}
