import { test } from "node:test";
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { NotLeaderSchema } from "./gen/norikv/v1/types_pb";
import { followTarget, parseNotLeader } from "./notleader";

const nodes = [
  { id: "n1", addr: "127.0.0.1:9001" },
  { id: "n2", addr: "127.0.0.1:9002" },
];

const nl = (code: Code, msg: string, headers: Record<string, string> = {}) =>
  new ConnectError(msg, code, new Headers(headers));

test("parseNotLeader reads every form of the hint", () => {
  assert.deepEqual(parseNotLeader(nl(Code.Unavailable, "NOT_LEADER: shard 3", { "leader-hint": "127.0.0.1:9002", "leader-id": "n2" })), {
    leaderId: "n2",
    leaderAddr: "127.0.0.1:9002",
  });
  assert.deepEqual(parseNotLeader(nl(Code.Unavailable, "NOT_LEADER", { "leader-hint": "n2" })), { leaderId: "n2", leaderAddr: "" });
  assert.deepEqual(parseNotLeader(nl(Code.Unavailable, "NOT_LEADER", { "x-norikv-leader": "127.0.0.1:9001" })), {
    leaderId: "",
    leaderAddr: "127.0.0.1:9001",
  });
  assert.deepEqual(parseNotLeader(nl(Code.FailedPrecondition, "Not leader for namespace", { "x-leader-hint": "n1" })), {
    leaderId: "n1",
    leaderAddr: "",
  });
  const withDetail = new ConnectError("NOT_LEADER", Code.Unavailable, undefined, [
    { desc: NotLeaderSchema, value: create(NotLeaderSchema, { shard: 3, leaderId: "n2", leaderAddr: "127.0.0.1:9002" }) },
  ]);
  assert.deepEqual(parseNotLeader(withDetail), { leaderId: "n2", leaderAddr: "127.0.0.1:9002" });
});

test("parseNotLeader ignores other errors", () => {
  assert.equal(parseNotLeader(nl(Code.Unavailable, "connection refused")), null);
  assert.equal(parseNotLeader(nl(Code.FailedPrecondition, "version mismatch: have 1:2")), null);
  assert.equal(parseNotLeader(new Error("NOT_LEADER")), null);
});

test("followTarget follows only nodes in the view", () => {
  assert.equal(followTarget({ leaderId: "", leaderAddr: "127.0.0.1:9002" }, nodes, "127.0.0.1:9001"), "127.0.0.1:9002");
  assert.equal(followTarget({ leaderId: "n2", leaderAddr: "" }, nodes, "127.0.0.1:9001"), "127.0.0.1:9002");
  assert.equal(followTarget({ leaderId: "", leaderAddr: "10.0.0.66:9002" }, nodes, "127.0.0.1:9001"), null, "an address outside the view");
  assert.equal(followTarget({ leaderId: "n9", leaderAddr: "" }, nodes, "127.0.0.1:9001"), null, "an unknown id");
  assert.equal(followTarget({ leaderId: "n1", leaderAddr: "" }, nodes, "127.0.0.1:9001"), null, "the node that refused");
});
