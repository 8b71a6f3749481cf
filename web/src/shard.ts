// The shard function of the wire contract (CONTRACT.md, "Routing"): a key's
// shard is jump(xxhash64(key, seed 0), totalShards). It must agree bit for
// bit with the servers and the other SDKs, so it is written with BigInt
// (exact wrapping uint64 arithmetic) rather than 32-bit halves: keys are at
// most 1 KiB and the console hashes one per call, so speed does not matter.

const MASK = (1n << 64n) - 1n;
const P1 = 11400714785074694791n;
const P2 = 14029467366897019727n;
const P3 = 1609587929392839161n;
const P4 = 9650029242287828579n;
const P5 = 2870177450012600261n;

const mul = (a: bigint, b: bigint): bigint => (a * b) & MASK;
const add = (a: bigint, b: bigint): bigint => (a + b) & MASK;
const rotl = (x: bigint, r: bigint): bigint => ((x << r) | (x >> (64n - r))) & MASK;
const round = (acc: bigint, lane: bigint): bigint => mul(rotl(add(acc, mul(lane, P2)), 31n), P1);
const merge = (h: bigint, v: bigint): bigint => add(mul(h ^ round(0n, v), P1), P4);

function u64(b: Uint8Array, i: number): bigint {
  const dv = new DataView(b.buffer, b.byteOffset + i, 8);
  return dv.getBigUint64(0, true);
}

function u32(b: Uint8Array, i: number): bigint {
  const dv = new DataView(b.buffer, b.byteOffset + i, 4);
  return BigInt(dv.getUint32(0, true));
}

/** xxhash64 of data with seed 0, as an unsigned 64-bit BigInt. */
export function xxhash64(data: Uint8Array): bigint {
  const n = data.length;
  let i = 0;
  let h: bigint;
  if (n >= 32) {
    let v1 = add(P1, P2);
    let v2 = P2;
    let v3 = 0n;
    let v4 = (0n - P1) & MASK;
    for (; i + 32 <= n; i += 32) {
      v1 = round(v1, u64(data, i));
      v2 = round(v2, u64(data, i + 8));
      v3 = round(v3, u64(data, i + 16));
      v4 = round(v4, u64(data, i + 24));
    }
    h = add(add(rotl(v1, 1n), rotl(v2, 7n)), add(rotl(v3, 12n), rotl(v4, 18n)));
    h = merge(h, v1);
    h = merge(h, v2);
    h = merge(h, v3);
    h = merge(h, v4);
  } else {
    h = P5;
  }
  h = add(h, BigInt(n));
  for (; i + 8 <= n; i += 8) {
    h ^= round(0n, u64(data, i));
    h = add(mul(rotl(h, 27n), P1), P4);
  }
  if (i + 4 <= n) {
    h ^= mul(u32(data, i), P1);
    h = add(mul(rotl(h, 23n), P2), P3);
    i += 4;
  }
  for (; i < n; i++) {
    h ^= mul(BigInt(data[i]), P5);
    h = mul(rotl(h, 11n), P1);
  }
  h ^= h >> 33n;
  h = mul(h, P2);
  h ^= h >> 29n;
  h = mul(h, P3);
  h ^= h >> 32n;
  return h;
}

/**
 * Lamping–Veach jump consistent hash, computed as the server does: the
 * key is a wrapping uint64 and j is float64 arithmetic truncated to an
 * integer, which JavaScript numbers reproduce exactly.
 */
export function jump(hash: bigint, buckets: number): number {
  if (!Number.isInteger(buckets) || buckets < 1 || buckets > 0x7fffffff) {
    throw new RangeError(`buckets: ${buckets} is not in 1..2147483647`);
  }
  let key = hash & MASK;
  let b = -1;
  let j = 0;
  while (j < buckets) {
    b = j;
    key = add(mul(key, 2862933555777941757n), 1n);
    j = Math.trunc((b + 1) * (2147483648 / (Number(key >> 33n) + 1)));
  }
  return b;
}

const utf8 = new TextEncoder();

/** The shard of a key (a string is its UTF-8 bytes) among totalShards. */
export function shardOf(key: string | Uint8Array, totalShards: number): number {
  const bytes = typeof key === "string" ? utf8.encode(key) : key;
  return jump(xxhash64(bytes), totalShards);
}
