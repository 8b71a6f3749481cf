// The console: three screens over one Router. Plain TypeScript and the DOM
// rather than a framework: the page is a handful of forms, one grid and a
// few sparklines, a framework would add more bytes than the app itself,
// and esbuild alone turns these files into one script with no plugins.
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import { ConsoleService, type Event, type Sample } from "./gen/norikv/console/v1/console_pb";
import { Admin } from "./gen/norikv/v1/admin_pb";
import { Kv } from "./gen/norikv/v1/kv_pb";
import { Meta } from "./gen/norikv/v1/meta_pb";
import { ClusterViewSchema, ShardInfoSchema, VersionSchema, type ClusterView, type Version } from "./gen/norikv/v1/types_pb";
import { Vector } from "./gen/norikv/v1/vector_pb";
import { $, el, palette, val } from "./dom";
import { Live } from "./live";
import { Router, type Protocol } from "./rpc";
import { describe, matches, parseFilter } from "./timeline";

const router = new Router(location.protocol);

// Exposed for the headless browser test (webtest/) and for poking at the
// console from devtools: the view the grid shows and when it first showed.
const debug = {
  router,
  /** When this script started running, ms after navigation. */
  scriptMs: performance.now(),
  firstViewMs: 0,
  views: 0,
  samples: 0,
  lastSample: null as Sample | null,
  events: [] as Event[],
  /** "console" (ConsoleService.Watch) or "meta" (WatchCluster only). */
  stream: "",
  live: null as Live | null,
};
(window as unknown as { norikvConsole: typeof debug }).norikvConsole = debug;

// ---- header: tabs, protocol, last call ---------------------------------

function showTab(): void {
  const tab = (location.hash || "#cluster").slice(1);
  for (const s of document.querySelectorAll<HTMLElement>("main > section")) s.hidden = s.id !== tab;
  for (const a of document.querySelectorAll<HTMLElement>("nav a")) a.classList.toggle("active", a.dataset.tab === tab);
  if (tab === "vectors") void listNamespaces();
}
addEventListener("hashchange", showTab);

for (const r of document.querySelectorAll<HTMLInputElement>("input[name=protocol]")) {
  r.addEventListener("change", () => {
    router.setProtocol(r.value as Protocol);
    showStats();
    watcher.restart();
  });
}

// The token lives in this tab's sessionStorage only: never in the URL,
// never sent anywhere but the cluster's nodes.
const tokenInput = $<HTMLInputElement>("token");
tokenInput.value = sessionStorage.getItem("norikv-token") ?? "";
router.setToken(tokenInput.value);
tokenInput.addEventListener("change", () => {
  sessionStorage.setItem("norikv-token", tokenInput.value);
  router.setToken(tokenInput.value);
  watcher.restart();
});

const protoName = () => (router.protocol === "grpcweb" ? "gRPC-Web" : "Connect");

/** The header's count of this page's calls, and the last one. */
function showStats(): void {
  const s = router.stats;
  $("stats").textContent =
    s.count === 0
      ? `${protoName()} · no calls from this page yet`
      : `${protoName()} · ${s.count} call${s.count === 1 ? "" : "s"} from this page · last ${s.lastMethod} on ${s.lastNode}` +
        `${s.followed ? " (after NOT_LEADER)" : ""}: ${s.lastMs.toFixed(1)} ms`;
}
router.onCall = showStats;

/** The header's stream state: connecting, live, or error. */
function streamState(state: "connecting" | "live" | "error", text: string): void {
  const o = $("stream");
  o.dataset.state = state;
  o.textContent = text;
}

/** Code.FailedPrecondition → "FAILED_PRECONDITION", as the wire spells it. */
const codeName = (c: Code) => Code[c].replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
const versionText = (v?: Version) => (v ? `${v.term}:${v.index}` : "");

function showError(el: HTMLElement, err: unknown): void {
  el.className = "error";
  if (err instanceof ConnectError) {
    el.dataset.code = codeName(err.code);
    el.textContent = `${codeName(err.code)}: ${err.rawMessage}`;
  } else {
    el.dataset.code = "";
    el.textContent = String(err instanceof Error ? err.message : err);
  }
}

/** Marks an outcome element as waiting for a call (data-code ""). */
function pending(el: HTMLElement): void {
  el.className = "";
  el.dataset.code = "";
  el.textContent = "…";
}

function showOk(el: HTMLElement, text: string): void {
  el.className = "ok";
  el.dataset.code = "OK";
  el.textContent = text;
}

// ---- cluster map ------------------------------------------------------

const colourOf = (view: ClusterView, nodeId: string) => {
  const i = view.nodes.findIndex((n) => n.id === nodeId);
  return i < 0 ? "" : palette[i % palette.length];
};
let cells: HTMLDivElement[] = [];

/** Lays out n grey cells: at load from the last shard count this browser
 * saw, so the grid has its shape before the first view arrives. */
function layGrid(n: number): void {
  const grid = $("grid");
  grid.replaceChildren();
  grid.style.gridTemplateColumns = `repeat(${Math.ceil(Math.sqrt(n))}, 14px)`;
  cells = Array.from({ length: n }, (_, i) => {
    const d = document.createElement("div");
    d.dataset.shard = String(i);
    grid.append(d);
    return d;
  });
}
{
  const n = Number(localStorage.getItem("norikv-shards"));
  if (n > 0 && n <= 1 << 16) {
    layGrid(n);
    $("grid").classList.add("waiting");
  }
}

const live = new Live({
  stop: (node) => control(`stop ${node}`, (c) => c.stopNode({ nodeId: node }), node),
  restart: (node) => control(`restart ${node}`, (c) => c.restartNode({ nodeId: node }), node),
  delay: (node, delayMs) => control(`slow ${node}`, (c) => c.setNodeDelay({ nodeId: node, delayMs })),
  load: (running) => control(running ? "start load" : "stop load", (c) => c.setLoad({ running })),
});
debug.live = live;

/** Runs a console control on a running node (not `avoid`, the node it stops). */
async function control(what: string, fn: (c: Client<typeof ConsoleService>) => Promise<unknown>, avoid = ""): Promise<void> {
  const out = $("ctl-out");
  pending(out);
  try {
    await router.call(ConsoleService, what, null, fn, avoid);
    showOk(out, `${what}: done`);
  } catch (err) {
    showError(out, err);
  }
}

function drawView(view: ClusterView): void {
  router.view = view;
  debug.views++;
  if (cells.length !== view.shards.length) {
    layGrid(view.shards.length);
    localStorage.setItem("norikv-shards", String(view.shards.length));
  }
  $("grid").classList.remove("waiting");
  const led = new Map<string, number>();
  for (const s of view.shards) {
    const cell = cells[s.id];
    if (!cell) continue;
    const leader = s.replicas.find((r) => r.leader)?.nodeId ?? "";
    led.set(leader, (led.get(leader) ?? 0) + 1);
    if (cell.dataset.leader !== leader) {
      cell.dataset.leader = leader;
      cell.style.background = colourOf(view, leader);
      cell.classList.toggle("noleader", leader === "");
    }
  }
  live.drawNodes(view, led);
  const sel = $<HTMLSelectElement>("xfer-node");
  const picked = sel.value;
  sel.replaceChildren(...view.nodes.map((n) => new Option(n.id, n.id)));
  if (picked) sel.value = picked;
  $<HTMLInputElement>("xfer-shard").max = String(view.shards.length - 1);
  const down = view.nodes.filter((n) => n.role === "down").map((n) => n.id);
  $("watch").textContent =
    `epoch ${view.epoch} · ${view.nodes.length} nodes${down.length ? ` (${down.join(", ")} down)` : ""} · ${view.shards.length} shards`;
  if (!debug.firstViewMs) {
    debug.firstViewMs = performance.now();
    if (location.hash === "#vectors") void listNamespaces();
  }
}

function replicasText(shard: number): string {
  const s = router.view?.shards[shard];
  if (!s) return `shard ${shard}`;
  const names = s.replicas.map((r) => (r.leader ? `${r.nodeId} (leader)` : r.nodeId));
  return `shard ${shard}: ${names.join(", ") || "no replicas"}`;
}

$("grid").addEventListener("mouseover", (e) => {
  const shard = (e.target as HTMLElement).dataset.shard;
  if (shard !== undefined) {
    $("shard-info").textContent = replicasText(Number(shard));
    (e.target as HTMLElement).title = $("shard-info").textContent ?? "";
  }
});
$("grid").addEventListener("click", (e) => {
  const shard = (e.target as HTMLElement).dataset.shard;
  if (shard !== undefined) $<HTMLInputElement>("xfer-shard").value = shard;
});

$("xfer").addEventListener("submit", async (e) => {
  e.preventDefault();
  const id = Number(val("xfer-shard"));
  const nodeId = $<HTMLSelectElement>("xfer-node").value;
  const out = $("xfer-out");
  pending(out);
  try {
    const req = create(ShardInfoSchema, { id, replicas: [{ nodeId, leader: true }] });
    const info = await router.call(Admin, "TransferShard", null, (c) => c.transferShard(req));
    showOk(out, `shard ${info.id} now led by ${info.replicas.find((r) => r.leader)?.nodeId ?? "nobody"}`);
  } catch (err) {
    showError(out, err);
  }
});

// ---- the stream and the timeline ----------------------------------------

const timeline = {
  paused: false,
  held: 0,
  filter: parseFilter(""),
  lastSeq: 0n,
  add(evs: Event[]): void {
    for (const ev of evs) {
      if (ev.seq <= this.lastSeq) continue;
      this.lastSeq = ev.seq;
      debug.events.push(ev);
      if (debug.events.length > 1000) debug.events.shift();
      if (this.paused) this.held++;
      else if (matches(ev, this.filter)) $("events").prepend(eventItem(ev));
    }
    this.state();
  },
  render(): void {
    const shown = debug.events.filter((ev) => matches(ev, this.filter)).slice(-300).reverse();
    $("events").replaceChildren(...shown.map(eventItem));
    this.held = 0;
    this.state();
  },
  state(): void {
    $("ev-pause").textContent = this.paused ? `Resume${this.held ? ` (${this.held} new)` : ""}` : "Pause";
  },
};

function eventItem(ev: Event): HTMLLIElement {
  const t = new Date(Number(ev.unixMs));
  const li = el("li", ev.note ? "note" : "", el("time", "", t.toLocaleTimeString("en-GB")), ev.epoch ? `epoch ${ev.epoch} · ` : "", describe(ev));
  li.dataset.seq = String(ev.seq);
  if (ev.moves.length) li.dataset.shards = ev.moves.map((m) => m.shard).join(",");
  return li;
}

$("events").addEventListener("click", (e) => {
  const li = (e.target as HTMLElement).closest<HTMLElement>("li[data-shards]");
  if (!li) return;
  for (const c of document.querySelectorAll("#grid div.hl")) c.classList.remove("hl");
  const shards = li.dataset.shards!.split(",").map(Number);
  for (const s of shards) cells[s]?.classList.add("hl");
  cells[shards[0]]?.scrollIntoView({ block: "nearest" });
  $<HTMLInputElement>("xfer-shard").value = String(shards[0]);
  $("shard-info").textContent = shards.length === 1 ? replicasText(shards[0]) : `${shards.length} shards highlighted`;
});
$("ev-pause").addEventListener("click", () => {
  timeline.paused = !timeline.paused;
  if (!timeline.paused) timeline.render();
  timeline.state();
});
$("ev-filter").addEventListener("input", () => {
  timeline.filter = parseFilter(val("ev-filter"));
  timeline.render();
});

/** A node's id from the view, else its address. */
const nodeName = (addr: string) => router.view?.nodes.find((n) => n.addr === addr)?.id ?? addr;

/**
 * Keeps one stream open per page, to a running node (the one that served
 * the page first, then the others of the last view): ConsoleService.Watch
 * (views, events, samples) where the server has it, else
 * Meta.WatchCluster (views only). Reconnects with a delay that doubles up
 * to 5 s while the page is open.
 */
const watcher = {
  abort: new AbortController(),
  restart(): void {
    this.abort.abort();
    this.abort = new AbortController();
    void this.run(this.abort.signal);
  },
  async run(signal: AbortSignal): Promise<void> {
    let delay = 250;
    let useConsole = true;
    for (let attempt = 0; !signal.aborted; attempt++) {
      const up = router.view?.nodes.filter((n) => n.role !== "down").map((n) => n.addr);
      const candidates = up?.length ? up : [location.host];
      if (up?.includes(location.host)) candidates.unshift(location.host);
      const addr = candidates[attempt % candidates.length];
      streamState("connecting", `connecting to ${nodeName(addr)}…`);
      try {
        if (useConsole) {
          const c = router.client(ConsoleService, addr);
          let first = true;
          for await (const m of c.watch({ afterSeq: timeline.lastSeq }, { signal })) {
            delay = 250;
            debug.stream = "console";
            // Older events than we asked for: the cluster was restarted
            // and numbers its events afresh.
            if (first && m.events.length && m.events[0].seq <= timeline.lastSeq) timeline.lastSeq = 0n;
            first = false;
            if (m.view) drawView(m.view);
            streamState("live", `live · stream on ${nodeName(addr)}`);
            if (m.events.length) timeline.add(m.events);
            if (m.sample) {
              debug.samples++;
              debug.lastSample = m.sample;
              live.sample(m.sample, m.controls);
            }
          }
        } else {
          const meta = router.client(Meta, addr);
          for await (const view of meta.watchCluster(create(ClusterViewSchema), { signal })) {
            delay = 250;
            debug.stream = "meta";
            drawView(view);
            streamState("live", `live · WatchCluster on ${nodeName(addr)}`);
          }
        }
      } catch (err) {
        if (signal.aborted) return;
        if (useConsole && err instanceof ConnectError && (err.code === Code.Unimplemented || err.code === Code.NotFound)) {
          // Not the embedded server (or its console is off): views only.
          useConsole = false;
          $("ev-state").textContent = "this server has no console service (it is not `norikv serve`): no charts or events, only the live map";
          continue;
        }
        const msg = err instanceof Error ? err.message : String(err);
        $("watch").textContent = `watch on ${addr} ended (${msg}); retrying`;
        streamState("error", `stream to ${nodeName(addr)} failed; retrying`);
      }
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 5000);
    }
  },
};
watcher.restart();

// ---- keys -------------------------------------------------------------

function parseVersion(s: string): Version | undefined {
  if (!s) return undefined;
  const m = /^(\d+):(\d+)$/.exec(s);
  if (!m) throw new Error(`if-match: "${s}" is not a version; want term:index, e.g. 3:17`);
  return create(VersionSchema, { term: BigInt(m[1]), index: BigInt(m[2]) });
}

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

/** The last keys written from this page (this browser's localStorage). */
const recent = {
  key: "norikv-recent-keys",
  load(): { key: string; note: string }[] {
    try {
      return JSON.parse(localStorage.getItem(this.key) ?? "[]");
    } catch {
      return [];
    }
  },
  note(key: string, note: string): void {
    const list = [{ key, note }, ...this.load().filter((k) => k.key !== key)].slice(0, 12);
    localStorage.setItem(this.key, JSON.stringify(list));
    this.show();
  },
  show(): void {
    const list = this.load();
    $("k-recent-box").hidden = list.length === 0;
    $("k-recent").replaceChildren(
      ...list.map((k) => {
        const li = el("li", "", k.key);
        li.title = `${k.note}; click to read it`;
        li.dataset.key = k.key;
        return li;
      }),
    );
  },
};
recent.show();
$("k-recent").addEventListener("click", (e) => {
  const key = (e.target as HTMLElement).closest<HTMLElement>("li")?.dataset.key;
  if (key === undefined) return;
  $<HTMLInputElement>("k-key").value = key;
  $("k-get").click();
});

$("kv").addEventListener("submit", async (e) => {
  e.preventDefault();
  const op = ((e as SubmitEvent).submitter as HTMLButtonElement | null)?.value ?? "get";
  const out = $("k-out");
  const [valueOut, versionOut] = [$("k-value-out"), $("k-version")];
  valueOut.textContent = versionOut.textContent = "";
  $("k-result").hidden = false;
  $("k-hint").hidden = true;
  pending(out);
  try {
    const key = utf8.encode(val("k-key"));
    $("k-shard").textContent = String(router.shardOf(key));
    if (op === "put") {
      const ttl = val("k-ttl");
      const res = await router.call(Kv, "Put", key, (c) =>
        c.put({
          key,
          value: utf8.encode($<HTMLInputElement>("k-value").value),
          ttlMs: ttl ? BigInt(ttl) : 0n,
          ifMatch: parseVersion(val("k-ifmatch")),
          idempotencyKey: crypto.randomUUID(),
        }),
      );
      versionOut.textContent = versionText(res.version);
      showOk(out, "stored");
      recent.note(val("k-key"), `put at ${versionText(res.version)}`);
    } else if (op === "delete") {
      const res = await router.call(Kv, "Delete", key, (c) =>
        c.delete({ key, ifMatch: parseVersion(val("k-ifmatch")), idempotencyKey: crypto.randomUUID() }),
      );
      versionOut.textContent = versionText(res.version);
      showOk(out, res.tombstoned ? "deleted" : "not found (nothing to delete)");
      if (res.tombstoned) recent.note(val("k-key"), "deleted");
    } else {
      const consistency = $<HTMLSelectElement>("k-cons").value;
      const res = await router.call(Kv, "Get", key, (c) => c.get({ key, consistency }));
      if (!res.version) {
        // The wire's "missing key": OK with no version (CONTRACT.md).
        out.className = "error";
        out.dataset.code = "NOT_FOUND";
        out.textContent = "key not found";
        return;
      }
      valueOut.textContent = fromUtf8.decode(res.value);
      versionOut.textContent = versionText(res.version);
      showOk(out, "found");
    }
  } catch (err) {
    if (err instanceof ConnectError && err.code === Code.NotFound) {
      out.className = "error";
      out.dataset.code = "NOT_FOUND";
      out.textContent = `key not found (${err.rawMessage})`;
      return;
    }
    if (err instanceof ConnectError && err.code === Code.FailedPrecondition) {
      showError(out, err);
      out.textContent = `CAS mismatch: ${out.textContent}`;
      return;
    }
    showError(out, err);
  }
});

// ---- vectors ----------------------------------------------------------

function parseVector(field: string, s: string): number[] {
  const parts = s.split(/[\s,]+/).filter(Boolean);
  const v = parts.map(Number);
  const bad = parts.findIndex((_, i) => !Number.isFinite(v[i]));
  if (parts.length === 0 || bad >= 0) {
    throw new Error(`${field}: "${parts[bad] ?? s}" is not a number; want comma-separated numbers`);
  }
  return v;
}

const vout = () => $("v-out");

/** Lists the cluster's namespaces (ConsoleService) and opens the screen on
 * one when the namespace field still holds its default. */
async function listNamespaces(): Promise<void> {
  const hint = $("v-hint");
  if (!router.view) {
    hint.textContent = "waiting for the cluster's view…";
    return;
  }
  try {
    const res = await router.call(ConsoleService, "ListNamespaces", null, (c) => c.listNamespaces({}));
    const ns = $<HTMLInputElement>("v-ns");
    const names = res.namespaces.map((n) => n.name);
    if (ns.value === ns.defaultValue && names.length && !names.includes(ns.value)) {
      const n = res.namespaces[0];
      pickNamespace(n.name, n.dimensions, n.distance, n.indexType);
    }
    $("v-ns-list").replaceChildren(...names.map((n) => new Option(n, n)));
    $("v-namespaces").replaceChildren(
      ...res.namespaces.map((n) => {
        const li = el("li", n.name === ns.value ? "active" : "", `${n.name} · ${n.dimensions}d · ${n.vectors} vectors`);
        li.dataset.ns = n.name;
        li.dataset.dims = String(n.dimensions);
        li.dataset.dist = String(n.distance);
        li.dataset.type = String(n.indexType);
        return li;
      }),
    );
    hint.textContent = names.length
      ? `${names.length} namespace${names.length === 1 ? "" : "s"} on the cluster; click one to work on it, or create another below`
      : "no namespaces yet: create one below (say demo, 3 dimensions), then insert vectors and search";
  } catch (err) {
    hint.textContent =
      err instanceof ConnectError && (err.code === Code.Unimplemented || err.code === Code.NotFound)
        ? "this server cannot list its namespaces (it is not `norikv serve`): type one below"
        : `listing namespaces failed: ${err instanceof Error ? err.message : err}`;
  }
}
$("v-namespaces").addEventListener("click", (e) => {
  const li = (e.target as HTMLElement).closest<HTMLElement>("li[data-ns]");
  if (!li) return;
  const d = li.dataset;
  pickNamespace(d.ns!, Number(d.dims), Number(d.dist), Number(d.type));
  for (const x of document.querySelectorAll("#v-namespaces li")) x.classList.toggle("active", x === li);
});

/** Fills the create form with an existing namespace's settings. */
function pickNamespace(name: string, dims: number, distance: number, indexType: number): void {
  $<HTMLInputElement>("v-ns").value = name;
  $<HTMLInputElement>("v-dims").value = String(dims);
  $<HTMLSelectElement>("v-dist").value = String(distance);
  $<HTMLSelectElement>("v-type").value = String(indexType);
}

$("v-create-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  pending(vout());
  try {
    const namespace = val("v-ns");
    const res = await router.call(Vector, "CreateIndex", namespace, (c) =>
      c.createIndex({
        namespace,
        dimensions: Number(val("v-dims")),
        distance: Number($<HTMLSelectElement>("v-dist").value),
        indexType: Number($<HTMLSelectElement>("v-type").value),
        idempotencyKey: crypto.randomUUID(),
      }),
    );
    showOk(vout(), res.created ? `index ${namespace} created` : `index ${namespace} already exists`);
    void listNamespaces();
  } catch (err) {
    showError(vout(), err);
  }
});

$("v-insert-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  pending(vout());
  try {
    const namespace = val("v-ns");
    const id = val("v-id");
    const vector = parseVector("vector", val("v-vec"));
    const res = await router.call(Vector, "Insert", namespace, (c) =>
      c.insert({ namespace, id, vector, idempotencyKey: crypto.randomUUID() }),
    );
    showOk(vout(), `inserted ${id} at version ${versionText(res.version)}`);
  } catch (err) {
    showError(vout(), err);
  }
});

$("v-search-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  $("v-results").hidden = false;
  const body = $("v-results").querySelector("tbody")!;
  body.replaceChildren();
  pending(vout());
  try {
    const namespace = val("v-ns");
    const query = parseVector("query", val("v-query"));
    const res = await router.call(Vector, "Search", namespace, (c) => c.search({ namespace, query, k: Number(val("v-k")) }));
    body.replaceChildren(
      ...res.matches.map((m, i) => {
        const tr = document.createElement("tr");
        for (const text of [String(i + 1), m.id, m.distance.toFixed(6)]) {
          const td = document.createElement("td");
          td.textContent = text;
          tr.append(td);
        }
        return tr;
      }),
    );
    showOk(vout(), `${res.matches.length} match${res.matches.length === 1 ? "" : "es"} in ${res.searchTimeUs} µs`);
  } catch (err) {
    showError(vout(), err);
  }
});

showTab();
