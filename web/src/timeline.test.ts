import { test } from "node:test";
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { EventSchema } from "./gen/norikv/console/v1/console_pb";
import { describe, matches, parseFilter } from "./timeline";
import { niceMax, Ring } from "./chart";

const stop = create(EventSchema, {
  seq: 7n,
  epoch: 4n,
  nodes: [{ nodeId: "n2", fromRole: "voter", toRole: "down" }],
  moves: [
    { shard: 1, fromNode: "n2", toNode: "n3" },
    { shard: 4, fromNode: "n2", toNode: "n3" },
    { shard: 7, fromNode: "n2", toNode: "n1" },
  ],
});
const one = create(EventSchema, { epoch: 5n, moves: [{ shard: 510, fromNode: "n1", toNode: "n3" }] });
const note = create(EventSchema, { note: "n2 delays every call by 100 ms" });

test("describe names node changes and leader moves", () => {
  assert.equal(describe(stop), "n2 down; 3 shard leaders moved (2 n2 → n3, 1 n2 → n1)");
  assert.equal(describe(one), "shard 510 leader n1 → n3");
  assert.equal(describe(note), "n2 delays every call by 100 ms");
  const up = create(EventSchema, { nodes: [{ nodeId: "n2", fromRole: "down", toRole: "voter" }] });
  assert.equal(describe(up), "n2 up");
});

test("filters keep a node's or a shard's events", () => {
  assert.deepEqual(parseFilter(""), null);
  assert.deepEqual(parseFilter(" shard 510 "), { shard: 510 });
  assert.deepEqual(parseFilter("510"), { shard: 510 });
  assert.deepEqual(parseFilter("N2"), { node: "n2" });
  const f = (s: string) => [stop, one, note].filter((e) => matches(e, parseFilter(s))).map((e) => e.seq || e.epoch || -1n);
  assert.deepEqual(f("n2"), [7n, -1n]);
  assert.deepEqual(f("n3"), [7n, 5n]);
  assert.deepEqual(f("n1"), [7n, 5n]);
  assert.deepEqual(f("510"), [5n]);
  assert.deepEqual(f("4"), [7n]);
  assert.deepEqual(f("9"), []);
  assert.deepEqual(f(""), [7n, 5n, -1n]);
});

test("sparkline scale and ring", () => {
  assert.equal(niceMax(0), 1);
  assert.equal(niceMax(3), 5);
  assert.equal(niceMax(120), 200);
  assert.equal(niceMax(1000), 1000);
  const r = new Ring(3);
  for (const v of [1, 2, 3, 4]) r.push(v);
  assert.deepEqual(r.values(), [2, 3, 4]);
  assert.equal(r.last(), 4);
});
