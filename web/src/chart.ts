// A sparkline on a <canvas>: a few series of the last N numbers each,
// drawn as lines on a shared scale from zero. Our own ~60 lines instead of
// a chart library: the console needs lines that move, not axes, zoom or
// tooltips, and a library would outweigh the rest of the page.

/** The last `cap` values of one series. */
export class Ring {
  private buf: number[] = [];
  constructor(readonly cap: number) {}
  push(v: number): void {
    this.buf.push(v);
    if (this.buf.length > this.cap) this.buf.shift();
  }
  values(): readonly number[] {
    return this.buf;
  }
  last(): number {
    return this.buf.length ? this.buf[this.buf.length - 1] : 0;
  }
}

/** The top of a scale for values up to max: a round 1, 2 or 5 × 10^k. */
export function niceMax(max: number): number {
  if (!(max > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(max));
  for (const m of [1, 2, 5, 10]) if (m * p >= max) return m * p;
  return 10 * p;
}

export class Sparkline {
  readonly series = new Map<string, { ring: Ring; colour: string }>();
  /** Points received, all series together (the browser test reads it). */
  points = 0;
  private readonly ctx: CanvasRenderingContext2D | null;

  constructor(
    readonly canvas: HTMLCanvasElement,
    readonly cap = 60,
  ) {
    this.ctx = canvas.getContext("2d");
  }

  /** Adds v to series name (created with colour on first use). */
  push(name: string, v: number, colour: string): void {
    let s = this.series.get(name);
    if (!s) {
      s = { ring: new Ring(this.cap), colour };
      this.series.set(name, s);
    }
    s.ring.push(v);
    this.points++;
  }

  /** The last value of series name (0 if none). */
  last(name: string): number {
    return this.series.get(name)?.ring.last() ?? 0;
  }

  draw(): void {
    const { ctx, canvas } = this;
    if (!ctx) return;
    const dpr = globalThis.devicePixelRatio || 1;
    const w = canvas.clientWidth || canvas.width;
    const h = canvas.clientHeight || canvas.height;
    if (canvas.width !== Math.round(w * dpr)) canvas.width = Math.round(w * dpr);
    if (canvas.height !== Math.round(h * dpr)) canvas.height = Math.round(h * dpr);
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    let max = 0;
    let len = 0;
    for (const s of this.series.values()) {
      len = Math.max(len, s.ring.values().length);
      for (const v of s.ring.values()) max = Math.max(max, v);
    }
    const top = niceMax(max);
    // Few points spread over the width (a new page has a line at once),
    // then the last `cap` scroll.
    const step = w / (Math.max(len, 10) - 1);
    ctx.lineWidth = 1.5;
    ctx.lineJoin = "round";
    for (const { ring, colour } of this.series.values()) {
      const vs = ring.values();
      const x0 = w - (vs.length - 1) * step;
      ctx.strokeStyle = colour;
      ctx.beginPath();
      vs.forEach((v, i) => {
        const y = h - 1 - (v / top) * (h - 2);
        if (i === 0) ctx.moveTo(x0, y);
        else ctx.lineTo(x0 + i * step, y);
      });
      ctx.stroke();
    }
    canvas.dataset.top = String(top);
  }
}
