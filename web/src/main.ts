// The console: three screens over one Router. Plain TypeScript and the DOM
// rather than a framework: the page is a handful of forms and one grid,
// a framework would add more bytes than the app itself, and esbuild alone
// turns these files into one script with no plugins or build magic.
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { Admin } from "./gen/norikv/v1/admin_pb";
import { Kv } from "./gen/norikv/v1/kv_pb";
import { Meta } from "./gen/norikv/v1/meta_pb";
import { ClusterViewSchema, ShardInfoSchema, VersionSchema, type ClusterView, type Version } from "./gen/norikv/v1/types_pb";
import { Vector } from "./gen/norikv/v1/vector_pb";
import { Router, type Protocol } from "./rpc";

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`console: #${id} is missing from index.html`);
  return el as T;
};
const val = (id: string) => $<HTMLInputElement>(id).value.trim();

const router = new Router(location.protocol);

// Exposed for the headless browser test (webtest/) and for poking at the
// console from devtools: the view the grid shows and when it first showed.
const debug = { router, firstViewMs: 0, views: 0 };
(window as unknown as { norikvConsole: typeof debug }).norikvConsole = debug;

// ---- header: tabs, protocol, last call ---------------------------------

function showTab(): void {
  const tab = (location.hash || "#cluster").slice(1);
  for (const s of document.querySelectorAll<HTMLElement>("main > section")) s.hidden = s.id !== tab;
  for (const a of document.querySelectorAll<HTMLElement>("nav a")) a.classList.toggle("active", a.dataset.tab === tab);
}
addEventListener("hashchange", showTab);
showTab();

for (const r of document.querySelectorAll<HTMLInputElement>("input[name=protocol]")) {
  r.addEventListener("change", () => {
    router.setProtocol(r.value as Protocol);
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

router.onCall = (s) => {
  const proto = router.protocol === "grpcweb" ? "gRPC-Web" : "Connect";
  $("stats").textContent =
    `${proto} · ${s.count} request${s.count === 1 ? "" : "s"} · last ${s.lastMethod} on ${s.lastNode}` +
    `${s.followed ? " (after NOT_LEADER)" : ""}: ${s.lastMs.toFixed(1)} ms`;
};

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

const palette = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"];
const colourOf = (view: ClusterView, nodeId: string) => {
  const i = view.nodes.findIndex((n) => n.id === nodeId);
  return i < 0 ? "" : palette[i % palette.length];
};
let cells: HTMLDivElement[] = [];

function drawView(view: ClusterView): void {
  router.view = view;
  debug.views++;
  const grid = $("grid");
  if (cells.length !== view.shards.length) {
    grid.replaceChildren();
    grid.style.gridTemplateColumns = `repeat(${Math.ceil(Math.sqrt(view.shards.length))}, 14px)`;
    cells = view.shards.map((_, i) => {
      const d = document.createElement("div");
      d.dataset.shard = String(i);
      grid.append(d);
      return d;
    });
  }
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
    cell.title = replicasText(s.id);
  }
  $("nodes").replaceChildren(
    ...view.nodes.map((n) => {
      const li = document.createElement("li");
      li.dataset.node = n.id;
      li.className = n.role === "down" ? "down" : "";
      const sw = document.createElement("span");
      sw.className = "swatch";
      sw.style.background = colourOf(view, n.id);
      li.append(sw, `${n.id} ${n.addr} · ${n.role || "?"} · leads ${led.get(n.id) ?? 0}`);
      return li;
    }),
  );
  const sel = $<HTMLSelectElement>("xfer-node");
  const picked = sel.value;
  sel.replaceChildren(...view.nodes.map((n) => new Option(n.id, n.id)));
  if (picked) sel.value = picked;
  $<HTMLInputElement>("xfer-shard").max = String(view.shards.length - 1);
  $("watch").textContent = `epoch ${view.epoch} · ${view.nodes.length} nodes · ${view.shards.length} shards (live)`;
  if (!debug.firstViewMs) debug.firstViewMs = performance.now();
}

function replicasText(shard: number): string {
  const s = router.view?.shards[shard];
  if (!s) return `shard ${shard}`;
  const names = s.replicas.map((r) => (r.leader ? `${r.nodeId} (leader)` : r.nodeId));
  return `shard ${shard}: ${names.join(", ") || "no replicas"}`;
}

$("grid").addEventListener("mouseover", (e) => {
  const shard = (e.target as HTMLElement).dataset.shard;
  if (shard !== undefined) $("shard-info").textContent = replicasText(Number(shard));
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

/**
 * Keeps a Meta.WatchCluster stream open to a node (the one that served
 * the page first, then any node of the last view), reconnecting with a
 * delay that doubles up to 5 s while the page is open.
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
    for (let attempt = 0; !signal.aborted; attempt++) {
      const candidates = [location.host, ...router.nodes().map((n) => n.addr)];
      const addr = candidates[attempt % candidates.length];
      try {
        const meta = router.client(Meta, addr);
        for await (const view of meta.watchCluster(create(ClusterViewSchema), { signal })) {
          delay = 250;
          drawView(view);
        }
      } catch (err) {
        if (signal.aborted) return;
        $("watch").textContent = `watch on ${addr} ended (${err instanceof Error ? err.message : err}); retrying`;
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

$("kv").addEventListener("submit", async (e) => {
  e.preventDefault();
  const op = ((e as SubmitEvent).submitter as HTMLButtonElement | null)?.value ?? "get";
  const out = $("k-out");
  const [valueOut, versionOut] = [$("k-value-out"), $("k-version")];
  valueOut.textContent = versionOut.textContent = "";
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
    } else if (op === "delete") {
      const res = await router.call(Kv, "Delete", key, (c) =>
        c.delete({ key, ifMatch: parseVersion(val("k-ifmatch")), idempotencyKey: crypto.randomUUID() }),
      );
      versionOut.textContent = versionText(res.version);
      showOk(out, res.tombstoned ? "deleted" : "not found (nothing to delete)");
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
