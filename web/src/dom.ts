// Small DOM helpers shared by the console's screens.

export const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`console: #${id} is missing from index.html`);
  return el as T;
};

export const val = (id: string) => $<HTMLInputElement>(id).value.trim();

/** An element with a class and children. */
export function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls = "", ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  e.append(...children);
  return e;
}

/** Node colours, by position in the view. */
export const palette = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"];

/** A number as the charts' captions print it: 3 significant digits at most. */
export function fmt(v: number): string {
  if (v >= 100 || v === 0) return Math.round(v).toLocaleString("en");
  return v >= 10 ? v.toFixed(1) : v.toFixed(2);
}
