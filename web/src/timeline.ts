// The event timeline's logic, apart from the DOM so node --test can check
// it: what an event says, and which events a filter keeps.
import type { Event } from "./gen/norikv/console/v1/console_pb";

/** A filter typed in the timeline: a node id ("n2"), a shard ("510" or
 * "shard 510"), or nothing. */
export type Filter = { node: string } | { shard: number } | null;

export function parseFilter(s: string): Filter {
  const t = s.trim().toLowerCase();
  if (!t) return null;
  const m = /^(?:shard\s*)?(\d+)$/.exec(t);
  return m ? { shard: Number(m[1]) } : { node: t };
}

/** Whether ev concerns the filter's node or shard. */
export function matches(ev: Event, f: Filter): boolean {
  if (!f) return true;
  if ("shard" in f) return ev.moves.some((m) => m.shard === f.shard);
  const n = f.node;
  return (
    ev.nodes.some((c) => c.nodeId.toLowerCase() === n) ||
    ev.moves.some((m) => m.fromNode.toLowerCase() === n || m.toNode.toLowerCase() === n) ||
    new RegExp(`\\b${n.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\b`, "i").test(ev.note)
  );
}

const who = (n: string) => n || "nobody";

/** One line for ev: its node changes, then its leader moves, grouped by
 * from → to when there are many. */
export function describe(ev: Event): string {
  if (ev.note) return ev.note;
  const parts = ev.nodes.map((c) =>
    c.toRole === "down" ? `${c.nodeId} down` : c.fromRole === "down" ? `${c.nodeId} up` : `${c.nodeId} ${c.fromRole} → ${c.toRole}`,
  );
  if (ev.moves.length === 1) {
    const m = ev.moves[0];
    parts.push(`shard ${m.shard} leader ${who(m.fromNode)} → ${who(m.toNode)}`);
  } else if (ev.moves.length > 1) {
    const groups = new Map<string, number>();
    for (const m of ev.moves) {
      const k = `${who(m.fromNode)} → ${who(m.toNode)}`;
      groups.set(k, (groups.get(k) ?? 0) + 1);
    }
    const text = [...groups].map(([k, n]) => `${n} ${k}`).join(", ");
    parts.push(`${ev.moves.length} shard leaders moved (${text})`);
  }
  return parts.join("; ");
}
