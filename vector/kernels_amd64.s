//go:build amd64 && !purego

#include "textflag.h"

// AVX2+FMA kernels over float32 slices. Both process 32 floats per
// iteration into four independent accumulators (so FMA latency is hidden
// and loads stay ahead), then 8 at a time, then a scalar tail. Unaligned
// loads (VMOVUPS) are used throughout: slab rows are only 4-byte aligned.

// func dotAVX2(x, y []float32) float32
TEXT ·dotAVX2(SB), NOSPLIT, $0-52
	MOVQ x_base+0(FP), SI
	MOVQ x_len+8(FP), CX
	MOVQ y_base+24(FP), DI
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3

dot32:
	CMPQ CX, $32
	JL   dot8
	VMOVUPS (SI), Y4
	VMOVUPS 32(SI), Y5
	VMOVUPS 64(SI), Y6
	VMOVUPS 96(SI), Y7
	VFMADD231PS (DI), Y4, Y0
	VFMADD231PS 32(DI), Y5, Y1
	VFMADD231PS 64(DI), Y6, Y2
	VFMADD231PS 96(DI), Y7, Y3
	ADDQ $128, SI
	ADDQ $128, DI
	SUBQ $32, CX
	JMP  dot32

dot8:
	CMPQ CX, $8
	JL   dotreduce
	VMOVUPS (SI), Y4
	VFMADD231PS (DI), Y4, Y0
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP  dot8

dotreduce:
	VADDPS Y1, Y0, Y0
	VADDPS Y3, Y2, Y2
	VADDPS Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0

dottail:
	CMPQ CX, $0
	JE   dotdone
	VMOVSS (SI), X1
	VFMADD231SS (DI), X1, X0
	ADDQ $4, SI
	ADDQ $4, DI
	DECQ CX
	JMP  dottail

dotdone:
	VZEROUPPER
	MOVSS X0, ret+48(FP)
	RET

// func l2sqAVX2(x, y []float32) float32
TEXT ·l2sqAVX2(SB), NOSPLIT, $0-52
	MOVQ x_base+0(FP), SI
	MOVQ x_len+8(FP), CX
	MOVQ y_base+24(FP), DI
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3

l2sq32:
	CMPQ CX, $32
	JL   l2sq8
	VMOVUPS (SI), Y4
	VMOVUPS 32(SI), Y5
	VMOVUPS 64(SI), Y6
	VMOVUPS 96(SI), Y7
	VSUBPS (DI), Y4, Y4
	VSUBPS 32(DI), Y5, Y5
	VSUBPS 64(DI), Y6, Y6
	VSUBPS 96(DI), Y7, Y7
	VFMADD231PS Y4, Y4, Y0
	VFMADD231PS Y5, Y5, Y1
	VFMADD231PS Y6, Y6, Y2
	VFMADD231PS Y7, Y7, Y3
	ADDQ $128, SI
	ADDQ $128, DI
	SUBQ $32, CX
	JMP  l2sq32

l2sq8:
	CMPQ CX, $8
	JL   l2sqreduce
	VMOVUPS (SI), Y4
	VSUBPS (DI), Y4, Y4
	VFMADD231PS Y4, Y4, Y0
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP  l2sq8

l2sqreduce:
	VADDPS Y1, Y0, Y0
	VADDPS Y3, Y2, Y2
	VADDPS Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0

l2sqtail:
	CMPQ CX, $0
	JE   l2sqdone
	VMOVSS (SI), X1
	VSUBSS (DI), X1, X1
	VFMADD231SS X1, X1, X0
	ADDQ $4, SI
	ADDQ $4, DI
	DECQ CX
	JMP  l2sqtail

l2sqdone:
	VZEROUPPER
	MOVSS X0, ret+48(FP)
	RET

// func prefetchAVX2(v []float32)
// Issues PREFETCHT0 for every 64-byte line of v so the lines of several
// graph neighbours are fetched in parallel before their distances are
// computed (HNSW is bound by random-access latency, not arithmetic).
TEXT ·prefetchAVX2(SB), NOSPLIT, $0-24
	MOVQ v_base+0(FP), SI
	MOVQ v_len+8(FP), CX
	SHLQ $2, CX
	ADDQ SI, CX

prefetchloop:
	CMPQ SI, CX
	JAE  prefetchdone
	PREFETCHT0 (SI)
	ADDQ $64, SI
	JMP  prefetchloop

prefetchdone:
	RET

// func dotRowsAVX2(q, rows, out []float32)
// For r in [0, len(out)): out[r] = kernel(q, rows[r*len(q):(r+1)*len(q)]).
// Looping over rows inside assembly removes the per-row Go call, slice
// bounds checks and dispatch from the brute-force scan.
TEXT ·dotRowsAVX2(SB), NOSPLIT, $0-72
	MOVQ q_base+0(FP), R8
	MOVQ q_len+8(FP), R9
	MOVQ rows_base+24(FP), DI
	MOVQ out_base+48(FP), R10
	MOVQ out_len+56(FP), R11

dotRowsAVX2row:
	CMPQ R11, $0
	JE   dotRowsAVX2done
	MOVQ R8, SI
	MOVQ R9, CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3

dotRowsAVX232:
	CMPQ CX, $32
	JL   dotRowsAVX28
	VMOVUPS (SI), Y4
	VMOVUPS 32(SI), Y5
	VMOVUPS 64(SI), Y6
	VMOVUPS 96(SI), Y7
	VFMADD231PS (DI), Y4, Y0
	VFMADD231PS 32(DI), Y5, Y1
	VFMADD231PS 64(DI), Y6, Y2
	VFMADD231PS 96(DI), Y7, Y3
	ADDQ $128, SI
	ADDQ $128, DI
	SUBQ $32, CX
	JMP  dotRowsAVX232

dotRowsAVX28:
	CMPQ CX, $8
	JL   dotRowsAVX2reduce
	VMOVUPS (SI), Y4
	VFMADD231PS (DI), Y4, Y0
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP  dotRowsAVX28

dotRowsAVX2reduce:
	VADDPS Y1, Y0, Y0
	VADDPS Y3, Y2, Y2
	VADDPS Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0

dotRowsAVX2tail:
	CMPQ CX, $0
	JE   dotRowsAVX2store
	VMOVSS (SI), X1
	VFMADD231SS (DI), X1, X0
	ADDQ $4, SI
	ADDQ $4, DI
	DECQ CX
	JMP  dotRowsAVX2tail

dotRowsAVX2store:
	VMOVSS X0, (R10)
	ADDQ $4, R10
	DECQ R11
	JMP  dotRowsAVX2row

dotRowsAVX2done:
	VZEROUPPER
	RET

// func l2sqRowsAVX2(q, rows, out []float32)
// For r in [0, len(out)): out[r] = kernel(q, rows[r*len(q):(r+1)*len(q)]).
// Looping over rows inside assembly removes the per-row Go call, slice
// bounds checks and dispatch from the brute-force scan.
TEXT ·l2sqRowsAVX2(SB), NOSPLIT, $0-72
	MOVQ q_base+0(FP), R8
	MOVQ q_len+8(FP), R9
	MOVQ rows_base+24(FP), DI
	MOVQ out_base+48(FP), R10
	MOVQ out_len+56(FP), R11

l2sqRowsAVX2row:
	CMPQ R11, $0
	JE   l2sqRowsAVX2done
	MOVQ R8, SI
	MOVQ R9, CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3

l2sqRowsAVX232:
	CMPQ CX, $32
	JL   l2sqRowsAVX28
	VMOVUPS (SI), Y4
	VMOVUPS 32(SI), Y5
	VMOVUPS 64(SI), Y6
	VMOVUPS 96(SI), Y7
	VSUBPS (DI), Y4, Y4
	VSUBPS 32(DI), Y5, Y5
	VSUBPS 64(DI), Y6, Y6
	VSUBPS 96(DI), Y7, Y7
	VFMADD231PS Y4, Y4, Y0
	VFMADD231PS Y5, Y5, Y1
	VFMADD231PS Y6, Y6, Y2
	VFMADD231PS Y7, Y7, Y3
	ADDQ $128, SI
	ADDQ $128, DI
	SUBQ $32, CX
	JMP  l2sqRowsAVX232

l2sqRowsAVX28:
	CMPQ CX, $8
	JL   l2sqRowsAVX2reduce
	VMOVUPS (SI), Y4
	VSUBPS (DI), Y4, Y4
	VFMADD231PS Y4, Y4, Y0
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP  l2sqRowsAVX28

l2sqRowsAVX2reduce:
	VADDPS Y1, Y0, Y0
	VADDPS Y3, Y2, Y2
	VADDPS Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0

l2sqRowsAVX2tail:
	CMPQ CX, $0
	JE   l2sqRowsAVX2store
	VMOVSS (SI), X1
	VSUBSS (DI), X1, X1
	VFMADD231SS X1, X1, X0
	ADDQ $4, SI
	ADDQ $4, DI
	DECQ CX
	JMP  l2sqRowsAVX2tail

l2sqRowsAVX2store:
	VMOVSS X0, (R10)
	ADDQ $4, R10
	DECQ R11
	JMP  l2sqRowsAVX2row

l2sqRowsAVX2done:
	VZEROUPPER
	RET

// func prefetchLinksAVX2(b []uint32)
// Same as prefetchAVX2 for a neighbour block.
TEXT ·prefetchLinksAVX2(SB), NOSPLIT, $0-24
	MOVQ b_base+0(FP), SI
	MOVQ b_len+8(FP), CX
	SHLQ $2, CX
	ADDQ SI, CX

prefetchlinksloop:
	CMPQ SI, CX
	JAE  prefetchlinksdone
	PREFETCHT0 (SI)
	ADDQ $64, SI
	JMP  prefetchlinksloop

prefetchlinksdone:
	RET
