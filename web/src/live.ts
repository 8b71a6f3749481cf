// The live part of the Cluster screen: the charts fed by the console
// stream's samples, one row per node (its state, its own charts and the
// controls that break it), and the load generator's button.
import type { Sample } from "./gen/norikv/console/v1/console_pb";
import type { ClusterView } from "./gen/norikv/v1/types_pb";
import { Sparkline } from "./chart";
import { $, el, fmt, palette } from "./dom";

/** What the page does when a control is used. */
export interface Controls {
  stop(node: string): void;
  restart(node: string): void;
  delay(node: string, ms: number): void;
  load(running: boolean): void;
}

interface NodeRow {
  li: HTMLLIElement;
  what: HTMLSpanElement;
  figs: HTMLDivElement;
  ctl: HTMLDivElement;
  delay: HTMLSelectElement;
  ops: Sparkline;
  lat: Sparkline;
}

const fg = () => getComputedStyle(document.documentElement).getPropertyValue("--fg").trim() || "#888";
const muted = () => getComputedStyle(document.documentElement).getPropertyValue("--muted").trim() || "#888";

/** A card's chart, found by the card's id. */
const card = (id: string) => new Sparkline($(id).querySelector("canvas")!);

export class Live {
  readonly charts = { ops: card("ch-ops"), lat: card("ch-lat"), keys: card("ch-keys"), idem: card("ch-idem") };
  readonly nodes = new Map<string, NodeRow>();
  private rpcColours = new Map<string, string>();
  controls = false;

  constructor(private readonly ctl: Controls) {
    $("load-go").addEventListener("click", () => ctl.load($("load-go").dataset.running !== "true"));
  }

  private colourOfRpc(rpc: string): string {
    let c = this.rpcColours.get(rpc);
    if (!c) {
      c = palette[(this.rpcColours.size + 4) % palette.length];
      this.rpcColours.set(rpc, c);
    }
    return c;
  }

  /** Rows for the view's nodes: made once per node, then updated. */
  drawNodes(view: ClusterView, leads: Map<string, number>): void {
    view.nodes.forEach((n, i) => {
      let row = this.nodes.get(n.id);
      if (!row) {
        row = this.makeRow(n.id);
        this.nodes.set(n.id, row);
        $("nodes").append(row.li);
      }
      const down = n.role === "down";
      row.li.className = down ? "down" : "";
      row.li.dataset.role = n.role;
      const sw = el("span", "swatch");
      sw.style.background = palette[i % palette.length];
      row.what.replaceChildren(sw, `${n.id} ${n.addr} · ${n.role || "?"} · leads ${leads.get(n.id) ?? 0}`);
      (row.ctl.querySelector("[data-act=stop]") as HTMLButtonElement).disabled = down;
      (row.ctl.querySelector("[data-act=restart]") as HTMLButtonElement).disabled = !down;
    });
  }

  private makeRow(id: string): NodeRow {
    const ops = el("canvas");
    const lat = el("canvas");
    const delay = el("select");
    for (const [ms, label] of [[0, "full speed"], [50, "slow: +50 ms"], [200, "slow: +200 ms"], [1000, "slow: +1 s"]] as const) {
      delay.append(new Option(label, String(ms)));
    }
    delay.dataset.act = "delay";
    delay.addEventListener("change", () => this.ctl.delay(id, Number(delay.value)));
    const stop = el("button", "", "Stop");
    stop.dataset.act = "stop";
    stop.addEventListener("click", () => this.ctl.stop(id));
    const restart = el("button", "", "Restart");
    restart.dataset.act = "restart";
    restart.addEventListener("click", () => this.ctl.restart(id));
    const ctl = el("div", "ctl", stop, restart, delay);
    ctl.hidden = !this.controls;
    const what = el("span", "what");
    const figs = el("div", "figs", "waiting for the first sample");
    const li = el("li", "", what, ops, lat, figs, ctl);
    li.dataset.node = id;
    ops.title = `${id}: calls per second`;
    lat.title = `${id}: p99 latency, ms`;
    return { li, what, figs, ctl, delay, ops: new Sparkline(ops), lat: new Sparkline(lat) };
  }

  /** Feeds one sample to every chart. The first sample of a stream has
   * gauges only (interval 0): rates start with the second. */
  sample(s: Sample, controls: boolean): void {
    $("live").hidden = false;
    if (controls !== this.controls) {
      this.controls = controls;
      $("load").hidden = !controls;
      for (const r of this.nodes.values()) r.ctl.hidden = !controls;
    }
    const { ops, lat, keys, idem } = this.charts;
    keys.push("keys", Number(s.keys), fg());
    idem.push("idempotency", Number(s.idempotencyEntries), fg());
    idem.push("sessions", Number(s.sessions), palette[2]);
    $("ch-keys").querySelector("output")!.textContent = Number(s.keys).toLocaleString("en");
    $("ch-idem").querySelector("output")!.textContent = `${Number(s.idempotencyEntries).toLocaleString("en")} · ${Number(s.sessions).toLocaleString("en")}`;
    const load = s.load;
    if (load) {
      const b = $("load-go");
      b.dataset.running = String(load.running);
      b.textContent = load.running ? "Stop load" : "Start load";
      $("load-out").textContent = load.running || load.ops > 0n
        ? `${load.running ? "running" : "stopped"}: ${load.workers} workers at ${load.targetOps} ops/s · ${load.ops} done, ${load.errors} failed`
        : "";
    }
    if (s.intervalMs > 0) {
      const secs = s.intervalMs / 1000;
      const byRpc = new Map<string, number>();
      const errs = new Map<string, number>();
      let total = 0;
      for (const n of s.nodes) {
        let nodeOps = 0;
        for (const c of n.calls) {
          const v = Number(c.count);
          nodeOps += v;
          byRpc.set(c.rpc, (byRpc.get(c.rpc) ?? 0) + v);
          if (c.code !== "ok") errs.set(c.code, (errs.get(c.code) ?? 0) + v);
        }
        total += nodeOps;
        const row = this.nodes.get(n.nodeId);
        if (row) {
          const i = [...this.nodes.keys()].indexOf(n.nodeId);
          row.ops.push("ops", nodeOps / secs, palette[i % palette.length]);
          row.lat.push("p99", n.p99Ms, muted());
          row.figs.textContent = !n.up
            ? "stopped: serves nothing until restarted"
            : `${fmt(nodeOps / secs)} ops/s · p50 ${fmt(n.p50Ms)} · p99 ${fmt(n.p99Ms)} ms` + (n.delayMs ? ` · slowed +${n.delayMs} ms` : "");
          row.figs.title = n.calls.map((c) => `${c.rpc} ${c.code}: ${fmt(Number(c.count) / secs)}/s`).join("\n") || "no calls";
          row.delay.value = String(n.delayMs);
          if (row.delay.value !== String(n.delayMs)) row.delay.value = "0";
        }
      }
      ops.push("total", total / secs, fg());
      for (const rpc of new Set([...ops.series.keys(), ...byRpc.keys()])) {
        if (rpc !== "total") ops.push(rpc, (byRpc.get(rpc) ?? 0) / secs, this.colourOfRpc(rpc));
      }
      lat.push("p50", s.p50Ms, palette[2]);
      lat.push("p99", s.p99Ms, palette[3]);
      $("ch-ops").querySelector("output")!.textContent = fmt(total / secs);
      $("ch-lat").querySelector("output")!.textContent = `${fmt(s.p50Ms)} / ${fmt(s.p99Ms)}`;
      const top = [...byRpc].sort((a, b) => b[1] - a[1]).slice(0, 4);
      $("ch-ops").querySelector(".legend")!.replaceChildren(
        ...top.map(([rpc, v]) => {
          const sp = el("span", "", `${rpc} ${fmt(v / secs)} `);
          sp.style.color = this.colourOfRpc(rpc);
          return sp;
        }),
        ...[...errs].map(([code, v]) => el("span", "error", `${code} ${fmt(v / secs)} `)),
      );
      $("ch-lat").querySelector(".legend")!.textContent = s.nodes.map((n) => `${n.nodeId} p99 ${fmt(n.p99Ms)}`).join(" · ");
    }
    for (const c of Object.values(this.charts)) c.draw();
    for (const r of this.nodes.values()) {
      r.ops.draw();
      r.lat.draw();
    }
  }
}
