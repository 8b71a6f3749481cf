//go:build !unix

package vector

// processCPUSeconds is unavailable here; the metric reads 0.
func processCPUSeconds() float64 { return 0 }
