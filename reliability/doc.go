// Package reliability proves the SDK and the embedded server under faults.
//
// Its tests run concurrent clients against an embedded cluster while a
// schedule injects faults — leader transfers, node stops and restarts,
// connection resets, added latency on one node and responses dropped after
// the server applied the write (the ambiguous failure) — and then check:
//
//   - every recorded history is linearizable (porcupine, with a key-value
//     model of put, get, delete and compare-and-swap, partitioned by key;
//     calls whose outcome is unknown stay open-ended);
//   - no acknowledged write is lost;
//   - no write is applied twice (the server's apply counters against the
//     number of distinct idempotency keys acknowledged or ambiguous);
//   - bad input over the wire gets the exact error naming the field or
//     limit, and oversized bodies are refused without being buffered;
//   - under overload the client keeps within its retry budget, cancelled
//     calls return at once, and Close leaks no goroutine.
//
// The non-test code is the machinery the tests share and other suites may
// reuse: Proxy, a TCP proxy that injects faults in front of one node, and
// KVModel, the porcupine model of the Kv service.
package reliability
