/** Small DOM helpers shared by the views (plain DOM, no framework: the same code runs in the
 * JupyterLab extension and in the notebook widget's bundle). */

export const SVG_NS = 'http://www.w3.org/2000/svg';

export type Child = Node | string | null | undefined | false;

/** Create an element: h('div', {class: 'x'}, child, ...). */
export function h(
  tag: string,
  attrs: Record<string, string | number | boolean | undefined> = {},
  ...children: Child[]
): HTMLElement {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) {
      continue;
    }
    el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) {
    if (c !== null && c !== undefined && c !== false) {
      el.append(c);
    }
  }
  return el;
}

export function svg(tag: string, attrs: Record<string, string | number> = {}): SVGElement {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) {
    el.setAttribute(k, String(v));
  }
  return el;
}

export interface ITransform {
  scale: number;
  tx: number;
  ty: number;
}

/**
 * Wheel zooms around the pointer, dragging pans; `onChange` applies the transform. Returns a
 * function that sets it from outside (fit, buttons). `moved()` says whether the user zoomed or
 * panned since the last `set` (then a redraw keeps their view instead of refitting).
 */
export function zoomPan(
  surface: Element,
  onChange: (t: ITransform) => void,
  limits: { min: number; max: number } = { min: 0.05, max: 8 }
): { set: (t: ITransform) => void; get: () => ITransform; moved: () => boolean } {
  let t: ITransform = { scale: 1, tx: 0, ty: 0 };
  let userMoved = false;
  let drag: { x: number; y: number; tx: number; ty: number } | null = null;
  const clamp = (s: number) => Math.min(limits.max, Math.max(limits.min, s));
  surface.addEventListener(
    'wheel',
    (event: Event) => {
      const e = event as WheelEvent;
      e.preventDefault();
      const rect = surface.getBoundingClientRect();
      const px = e.clientX - rect.left;
      const py = e.clientY - rect.top;
      const scale = clamp(t.scale * Math.exp(-e.deltaY * 0.0015));
      const k = scale / t.scale;
      t = { scale, tx: px - (px - t.tx) * k, ty: py - (py - t.ty) * k };
      userMoved = true;
      onChange(t);
    },
    { passive: false }
  );
  surface.addEventListener('pointerdown', (event: Event) => {
    const e = event as PointerEvent;
    if (e.button !== 0) {
      return;
    }
    drag = { x: e.clientX, y: e.clientY, tx: t.tx, ty: t.ty };
  });
  surface.addEventListener('pointermove', (event: Event) => {
    const e = event as PointerEvent;
    if (!drag) {
      return;
    }
    const dx = e.clientX - drag.x;
    const dy = e.clientY - drag.y;
    if (Math.abs(dx) + Math.abs(dy) > 2) {
      t = { ...t, tx: drag.tx + dx, ty: drag.ty + dy };
      userMoved = true;
      onChange(t);
    }
  });
  const end = () => {
    drag = null;
  };
  surface.addEventListener('pointerup', end);
  surface.addEventListener('pointerleave', end);
  return {
    set: next => {
      t = { ...next, scale: clamp(next.scale) };
      userMoved = false;
      onChange(t);
    },
    get: () => t,
    moved: () => userMoved
  };
}

export function formatMs(ms: number): string {
  if (ms < 1) {
    return `${(ms * 1000).toFixed(0)} µs`;
  }
  if (ms < 1000) {
    return `${ms < 10 ? ms.toFixed(2) : ms.toFixed(1)} ms`;
  }
  return `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
}

/** A small toolbar button (zoom, fit) of the views. */
export function toolButton(label: string, title: string, action: () => void): HTMLElement {
  const b = h('button', { class: 'rg-tool', title, type: 'button' }, label);
  b.addEventListener('click', action);
  return b;
}
