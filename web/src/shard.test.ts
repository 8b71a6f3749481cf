// The contract's cross-SDK test vectors (CONTRACT.md, "Routing").
import { test } from "node:test";
import assert from "node:assert/strict";
import { jump, shardOf, xxhash64 } from "./shard";

const vectors: Array<[string, bigint, number, number]> = [
  ["hello", 2794345569481354659n, 309, 118],
  ["world", 16679358290033791471n, 752, 4],
  ["user:123", 12838382303697200627n, 928, 59],
  ["order:789", 16039549273304380186n, 564, 7],
  ["session:abc", 6709427766188742023n, 48, 48],
  ["Hello 世界", 15196255900769524241n, 228, 228],
  ["🌍🚀", 10542605020825931344n, 523, 183],
  ["", 17241709254077376921n, 332, 40],
  ["a", 15154266338359012955n, 894, 17],
];

test("xxhash64 and shard match the contract's vectors", () => {
  for (const [key, hash, s1024, s256] of vectors) {
    assert.equal(xxhash64(new TextEncoder().encode(key)), hash, `xxhash64(${JSON.stringify(key)})`);
    assert.equal(shardOf(key, 1024), s1024, `shard of ${JSON.stringify(key)} in 1024`);
    assert.equal(shardOf(key, 256), s256, `shard of ${JSON.stringify(key)} in 256`);
  }
});

test("jump alone matches the contract's vectors", () => {
  const cases: Array<[bigint, number, number]> = [
    [1n, 55, 549],
    [12345678901234567890n, 49, 294],
    [18446744073709551615n, 92, 313],
    [0n, 0, 0],
  ];
  for (const [hash, s100, s1024] of cases) {
    assert.equal(jump(hash, 100), s100, `jump(${hash}, 100)`);
    assert.equal(jump(hash, 1024), s1024, `jump(${hash}, 1024)`);
  }
});

test("xxhash64 covers the 32-byte stripe path like the Go reference", () => {
  // Long inputs take the four-lane path the short vectors never reach;
  // these values come from github.com/cespare/xxhash/v2 (the server's).
  const long = new TextEncoder().encode("the quick brown fox jumps over the lazy dog, twice over");
  assert.equal(xxhash64(long), LONG_HASH);
});

test("jump refuses a bucket count it cannot route to", () => {
  assert.throws(() => jump(1n, 0), /buckets: 0/);
  assert.throws(() => jump(1n, 1.5), /buckets: 1.5/);
});

const LONG_HASH = 9019795302929006099n; // xxhash.Sum64String of that text
