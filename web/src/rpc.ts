// Calls from the page to the cluster, routed as the Go client routes them:
// each call goes to its shard's leader in the watched view, and a
// NOT_LEADER reply is followed once, to a node of that view.
import type { DescService } from "@bufbuild/protobuf";
import { createClient, type Client, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";
import type { ClusterView } from "./gen/norikv/v1/types_pb";
import { followTarget, parseNotLeader, type NodeRef } from "./notleader";
import { shardOf } from "./shard";

/** The two browser protocols; gRPC proper needs HTTP/2 trailers fetch lacks. */
export type Protocol = "connect" | "grpcweb";

/** What the page shows about the last call. */
export interface CallStats {
  count: number;
  lastMs: number;
  lastMethod: string;
  lastNode: string;
  followed: boolean;
}

export class Router {
  protocol: Protocol = "connect";
  view: ClusterView | null = null;
  readonly stats: CallStats = { count: 0, lastMs: 0, lastMethod: "", lastNode: "", followed: false };
  onCall: (s: CallStats) => void = () => {};

  private transports = new Map<string, Transport>();
  private clients = new Map<string, Client<DescService>>();

  /** scheme is the page's ("http:" or "https:"), the nodes' too. */
  constructor(private readonly scheme: string) {}

  /** Bearer token for a cluster started with a token ("" for none). */
  private token = "";

  // Adds the token to every call, streams included.
  private readonly auth: Interceptor = (next) => async (req) => {
    if (this.token) req.header.set("Authorization", `Bearer ${this.token}`);
    return next(req);
  };

  setProtocol(p: Protocol): void {
    this.protocol = p;
    this.transports.clear();
    this.clients.clear();
  }

  setToken(token: string): void {
    this.token = token;
  }

  nodes(): NodeRef[] {
    return (this.view?.nodes ?? []).map((n) => ({ id: n.id, addr: n.addr }));
  }

  /** The address of the node leading shard, from the view, or null. */
  leaderAddr(shard: number): string | null {
    const info = this.view?.shards.find((s) => s.id === shard);
    const leader = info?.replicas.find((r) => r.leader)?.nodeId;
    return this.view?.nodes.find((n) => n.id === leader)?.addr ?? null;
  }

  shardCount(): number {
    return this.view?.shards.length ?? 0;
  }

  shardOf(key: string | Uint8Array): number {
    const n = this.shardCount();
    if (n === 0) {
      throw new Error("no cluster view yet: the shard of a key is unknown");
    }
    return shardOf(key, n);
  }

  transport(addr: string): Transport {
    let t = this.transports.get(addr);
    if (!t) {
      const baseUrl = `${this.scheme}//${addr}`;
      const opts = { baseUrl, interceptors: [this.auth] };
      t = this.protocol === "grpcweb" ? createGrpcWebTransport(opts) : createConnectTransport(opts);
      this.transports.set(addr, t);
    }
    return t;
  }

  client<S extends DescService>(service: S, addr: string): Client<S> {
    const k = `${service.typeName}@${addr}`;
    let c = this.clients.get(k);
    if (!c) {
      c = createClient(service, this.transport(addr)) as Client<DescService>;
      this.clients.set(k, c);
    }
    return c as Client<S>;
  }

  /**
   * Runs one unary call on the leader of routeKey's shard (any running
   * node but `avoid` when routeKey is null, e.g. Admin), following one
   * NOT_LEADER reply.
   */
  async call<S extends DescService, R>(
    service: S,
    method: string,
    routeKey: string | Uint8Array | null,
    fn: (c: Client<S>) => Promise<R>,
    avoid = "",
  ): Promise<R> {
    let addr = routeKey === null ? null : this.leaderAddr(this.shardOf(routeKey));
    addr ??= this.view?.nodes.find((n) => n.role !== "down" && n.id !== avoid)?.addr ?? location.host;
    const start = performance.now();
    let followed = false;
    const done = (node: string) => {
      this.stats.count++;
      this.stats.lastMs = performance.now() - start;
      this.stats.lastMethod = `${service.name}.${method}`;
      this.stats.lastNode = this.view?.nodes.find((n) => n.addr === node)?.id ?? node;
      this.stats.followed = followed;
      this.onCall(this.stats);
    };
    try {
      const r = await fn(this.client(service, addr));
      done(addr);
      return r;
    } catch (err) {
      const hint = parseNotLeader(err);
      const next = hint && followTarget(hint, this.nodes(), addr);
      if (!next) {
        done(addr);
        throw err;
      }
      followed = true;
      try {
        const r = await fn(this.client(service, next));
        done(next);
        return r;
      } catch (err2) {
        done(next);
        throw err2;
      }
    }
  }
}
