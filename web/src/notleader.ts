// NOT_LEADER handling as the Go client does it (internal/wire.ParseNotLeader
// and CONTRACT.md "Not leader"): recognise the reply, read the leader from
// the NotLeader detail or the headers, and follow it only to a node the
// watched cluster view names, never to an address a reply merely states.
import { Code, ConnectError } from "@connectrpc/connect";
import { NotLeaderSchema } from "./gen/norikv/v1/types_pb";

/** What a NOT_LEADER reply says about the leader ("" when it does not say). */
export interface NotLeaderHint {
  leaderId: string;
  leaderAddr: string;
}

/** Node id and address, as the cluster view lists them. */
export interface NodeRef {
  id: string;
  addr: string;
}

/**
 * Returns the hint of a NOT_LEADER reply, or null if err is anything else.
 * Accepts the current form (UNAVAILABLE "NOT_LEADER…", leader-hint holding
 * an address) and the upstream variants: a node id in leader-hint,
 * x-norikv-leader / x-leader-hint, FAILED_PRECONDITION "Not leader".
 */
export function parseNotLeader(err: unknown): NotLeaderHint | null {
  if (!(err instanceof ConnectError)) {
    return null;
  }
  const msg = err.rawMessage;
  const isNL =
    (err.code === Code.Unavailable && msg.startsWith("NOT_LEADER")) ||
    (err.code === Code.FailedPrecondition && msg.toLowerCase().startsWith("not leader"));
  if (!isNL) {
    return null;
  }
  const h: NotLeaderHint = { leaderId: "", leaderAddr: "" };
  for (const d of err.findDetails(NotLeaderSchema)) {
    h.leaderId ||= d.leaderId;
    h.leaderAddr ||= d.leaderAddr;
  }
  const md = err.metadata;
  h.leaderId ||= md.get("leader-id") ?? "";
  h.leaderAddr ||= md.get("leader-addr") ?? "";
  const hint = md.get("leader-hint") || md.get("x-norikv-leader") || md.get("x-leader-hint") || "";
  if (hint.includes(":")) {
    h.leaderAddr ||= hint; // an address: what servers send now
  } else if (hint) {
    h.leaderId ||= hint; // a node id: older servers and fakes
  }
  return h;
}

/**
 * The address to retry a NOT_LEADER reply at, or null: the hinted node
 * must be in the view (by address, or by id), and must not be the node
 * that just refused.
 */
export function followTarget(h: NotLeaderHint, nodes: readonly NodeRef[], refusedAddr: string): string | null {
  const byAddr = h.leaderAddr ? nodes.find((n) => n.addr === h.leaderAddr) : undefined;
  const byId = h.leaderId ? nodes.find((n) => n.id === h.leaderId) : undefined;
  const n = byAddr ?? byId;
  if (!n || n.addr === refusedAddr) {
    return null;
  }
  return n.addr;
}
