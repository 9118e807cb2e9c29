/**
 * StreamView: the task stream (stream.ts) drawn as lanes of bars on a time axis, with zoom
 * (wheel, around the pointer) and pan (drag) in time, hover details, idle gaps hatched and the
 * time blocked in get/wait striped. While the user has not zoomed or panned it follows the run
 * (the window is the span of the tasks shown, so a 1 ms task in a 10 ms run is a tenth of the
 * width; a bar is never drawn narrower than 2 px). Shared by the panel, the pane and the widget.
 */
import { formatBytes } from './format';
import { formatMs, h, svg, toolButton } from './svg';
import { barWidth, buildStream, IBar, IStream, IStreamInput, scaleX, tickStep } from './stream';

export interface IStreamViewOptions {
  /** Height of the drawing area in px at most; null: fill the parent (a main-area pane). */
  height?: number | null;
}

const GUTTER = 118;
const LANE = 18;
const LANE_GAP = 4;
const NODE_ROW = 16;
const AXIS = 18;
const TICK_MS = 400; // redraw period while tasks run
let instances = 0;

export class StreamView {
  readonly node: HTMLElement;

  constructor(options: IStreamViewOptions = {}) {
    const id = ++instances;
    this._hatch = `rg-idle-${id}`;
    this._stripe = `rg-blocked-${id}`;
    this._clip = `rg-clip-${id}`;
    this.node = h('div', { class: 'rg-streamview', 'data-testid': 'rg-stream' });
    this._viewport = h('div', { class: 'rg-stream-viewport' });
    if (options.height === null) {
      this.node.classList.add('rg-mod-fill');
    } else {
      this._maxHeight = options.height ?? 260;
    }
    this._svg = svg('svg', { class: 'rg-stream', width: '100%' }) as SVGSVGElement;
    this._tip = h('div', { class: 'rg-stream-tip', 'data-testid': 'rg-stream-tip' });
    this._tip.hidden = true;
    this._viewport.append(this._svg, this._tip);
    this._caption = h('span', { class: 'rg-dagview-caption', 'data-testid': 'rg-stream-caption' });
    this._legend = h('div', { class: 'rg-stream-legend' });
    this.node.append(
      h(
        'div',
        { class: 'rg-dagview-tools' },
        this._caption,
        h('span', { class: 'rg-spacer' }),
        toolButton('−', 'Zoom out (or wheel over the lanes)', () => this._zoomAround(null, 1.6)),
        toolButton('+', 'Zoom in (or wheel over the lanes)', () => this._zoomAround(null, 1 / 1.6)),
        toolButton('All', 'Show the whole run and follow it live', () => this.follow())
      ),
      this._legend,
      this._viewport
    );
    this._listen();
    if (typeof ResizeObserver !== 'undefined') {
      this._resize = new ResizeObserver(() => this._schedule());
      this._resize.observe(this._viewport);
    }
  }

  update(input: IStreamInput): void {
    this._input = input;
    this._received = Date.now();
    this._stream = buildStream(input);
    this._schedule();
  }

  /** While tasks run, their bars grow with the clock between updates (the kernel or the
   * feed sends one only when something changes). */
  private _tick(): void {
    const running = this._stream?.bars.some(b => b.running);
    if (!running || this._timer || !this._input) {
      return;
    }
    this._timer = window.setTimeout(() => {
      this._timer = 0;
      if (this._input && this.node.isConnected) {
        const input = { ...this._input, nowMs: this._input.nowMs + (Date.now() - this._received) };
        this._stream = buildStream(input);
        this._schedule();
      }
    }, TICK_MS);
  }

  get stream(): IStream | null {
    return this._stream;
  }

  /** Back to the whole run, following it as it grows. */
  follow(): void {
    this._window = null;
    this._schedule();
  }

  dispose(): void {
    this._resize?.disconnect();
    window.clearTimeout(this._timer);
    this._input = null;
    if (this._frame) {
      cancelAnimationFrame(this._frame);
    }
  }

  private _span(): [number, number] {
    const s = this._stream!;
    if (this._window) {
      return this._window;
    }
    const pad = Math.max(0.5, (s.t1 - s.t0) * 0.01);
    return [s.t0 - pad, s.t1 + pad];
  }

  private _plotWidth(): number {
    return Math.max(80, (this._viewport.clientWidth || 700) - GUTTER - 8);
  }

  private _zoomAround(clientX: number | null, k: number): void {
    if (!this._stream) {
      return;
    }
    const [from, to] = this._span();
    const rect = this._svg.getBoundingClientRect();
    const frac =
      clientX === null ? 0.5 : Math.min(1, Math.max(0, (clientX - rect.left - GUTTER) / this._plotWidth()));
    const at = from + (to - from) * frac;
    const span = Math.max(0.05, (to - from) * k); // 50 µs at most zoomed in
    this._window = [at - span * frac, at - span * frac + span];
    this._schedule();
  }

  private _listen(): void {
    this._svg.addEventListener(
      'wheel',
      event => {
        event.preventDefault();
        this._zoomAround(event.clientX, Math.exp(event.deltaY * 0.0015));
      },
      { passive: false }
    );
    let drag: { x: number; from: number; to: number } | null = null;
    this._svg.addEventListener('pointerdown', event => {
      if (event.button === 0 && this._stream) {
        const [from, to] = this._span();
        drag = { x: event.clientX, from, to };
      }
    });
    this._svg.addEventListener('pointermove', event => {
      if (drag) {
        const dx = event.clientX - drag.x;
        if (Math.abs(dx) > 2) {
          const dt = (-dx / this._plotWidth()) * (drag.to - drag.from);
          this._window = [drag.from + dt, drag.to + dt];
          this._tip.hidden = true;
          this._schedule();
          return;
        }
      }
      this._hover(event);
    });
    const end = () => {
      drag = null;
    };
    this._svg.addEventListener('pointerup', end);
    this._svg.addEventListener('pointerleave', () => {
      end();
      this._tip.hidden = true;
    });
  }

  private _hover(event: PointerEvent): void {
    const target = (event.target as Element).closest('[data-bar]');
    const s = this._stream;
    if (!target || !s) {
      this._tip.hidden = true;
      return;
    }
    const index = Number(target.getAttribute('data-bar'));
    const bar = s.bars[index];
    const lane = s.lanes[bar.lane];
    const t = bar.task;
    const blocked = bar.blocked.reduce((sum, [a, b]) => sum + (b - a), 0);
    const rows: [string, string][] = [
      ['duration', (bar.running ? 'running for ' : '') + formatMs(bar.end - bar.start)],
      ['worker', `pid ${lane.pid} on ${lane.nodeLabel}`],
      ['state', bar.state]
    ];
    if (blocked > 0) {
      rows.push(['blocked in get/wait', formatMs(blocked)]);
    }
    if (t.deps.length) {
      rows.push(['arguments', `results of ${t.deps.length} task${t.deps.length === 1 ? '' : 's'}`]);
    }
    for (const tr of s.transfers.filter(tr => tr.bar === index)) {
      rows.push(['pulled', `${formatBytes(tr.bytes)} from node ${tr.fromLabel} (${tr.producer})`]);
    }
    const size = this._input?.results?.[t.id];
    if (size !== undefined) {
      rows.push(['result size', formatBytes(size)]);
    }
    if (t.error) {
      rows.push(['error', t.error]);
    }
    this._tip.replaceChildren(
      h('div', { class: 'rg-dag-details-title' }, bar.name),
      h(
        'table',
        { class: 'rg-details-table' },
        h('tbody', {}, ...rows.map(([k, v]) => h('tr', {}, h('th', {}, k), h('td', {}, v))))
      )
    );
    const box = this._viewport.getBoundingClientRect();
    const x = event.clientX - box.left + 12;
    this._tip.style.left = `${Math.min(x, Math.max(0, box.width - 260))}px`;
    this._tip.style.top = `${event.clientY - box.top + 12}px`;
    this._tip.hidden = false;
  }

  private _schedule(): void {
    if (this._frame || typeof requestAnimationFrame === 'undefined') {
      if (!this._frame) {
        this._draw();
      }
      return;
    }
    this._frame = requestAnimationFrame(() => {
      this._frame = 0;
      this._draw();
    });
  }

  private _draw(): void {
    const s = this._stream;
    if (!s) {
      return;
    }
    const busy = s.lanes.reduce((a, l) => a + l.busyMs, 0);
    const blocked = s.lanes.reduce((a, l) => a + l.blockedMs, 0);
    const idle = s.lanes.reduce((a, l) => a + l.idleMs, 0);
    const nodes = new Set(s.lanes.map(l => l.node));
    this._caption.textContent = s.bars.length
      ? `${s.bars.length} task run${s.bars.length === 1 ? '' : 's'} on ${s.lanes.length} ` +
        `worker${s.lanes.length === 1 ? '' : 's'}` +
        (nodes.size > 1 ? ` (${nodes.size} nodes)` : '') +
        ` over ${formatMs(s.t1 - s.t0)} · busy ${pct(busy, busy + idle)}` +
        (blocked > 0 ? ` · blocked in get ${formatMs(blocked)}` : '') +
        ` · idle ${formatMs(idle)}` +
        (s.transfers.length
          ? ` · ${s.transfers.length} transfer${s.transfers.length === 1 ? '' : 's'} between nodes ` +
            `(${formatBytes(s.transfers.reduce((a, t) => a + t.bytes, 0))})`
          : '')
      : 'No task has run yet.';
    this._legend.replaceChildren(
      ...s.functions.slice(0, 12).map(f =>
        h(
          'span',
          { class: 'rg-legend', 'data-function': f.name, title: `${f.count} runs, ${formatMs(f.totalMs)} in all` },
          h('span', { class: 'rg-swatch', style: `background:${f.color}` }),
          `${f.name} ×${f.count}`
        )
      )
    );
    const width = this._plotWidth();
    const [from, to] = this._span();
    const x = scaleX(from, to, width);
    // Rows: a header row per node, then its lanes.
    const laneY: number[] = [];
    let y = AXIS + 2;
    let node: string | null = null;
    const parts: SVGElement[] = [];
    s.lanes.forEach((lane, i) => {
      if (lane.node !== node) {
        node = lane.node;
        const label = svg('text', { x: 4, y: y + 11, class: 'rg-stream-node' });
        label.textContent = `node ${lane.nodeLabel}`;
        parts.push(label);
        y += NODE_ROW;
      }
      laneY[i] = y;
      const label = svg('text', { x: 12, y: y + 13, class: 'rg-stream-lane' });
      label.textContent = `worker ${lane.pid}`;
      const title = svg('title');
      title.textContent =
        `busy ${formatMs(lane.busyMs)}, idle ${formatMs(lane.idleMs)}` +
        (lane.blockedMs ? `, blocked in get ${formatMs(lane.blockedMs)}` : '');
      label.append(title);
      parts.push(
        svg('rect', { x: GUTTER, y, width, height: LANE, class: 'rg-stream-track' }),
        label
      );
      y += LANE + LANE_GAP;
    });
    const height = Math.max(y + 4, AXIS + 30);
    const defs = svg('defs');
    const hatch = svg('pattern', {
      id: this._hatch,
      width: 6,
      height: 6,
      patternUnits: 'userSpaceOnUse',
      patternTransform: 'rotate(45)'
    });
    hatch.append(svg('line', { x1: 0, y1: 0, x2: 0, y2: 6, class: 'rg-stream-hatch' }));
    const stripe = svg('pattern', {
      id: this._stripe,
      width: 4,
      height: 4,
      patternUnits: 'userSpaceOnUse',
      patternTransform: 'rotate(-45)'
    });
    stripe.append(svg('rect', { width: 2, height: 4, fill: 'rgba(0,0,0,0.45)' }));
    const clip = svg('clipPath', { id: this._clip });
    clip.append(svg('rect', { x: GUTTER, y: 0, width, height }));
    defs.append(hatch, stripe, clip);
    const plot = svg('g', { 'clip-path': `url(#${this._clip})` });
    // Axis ticks.
    const step = tickStep(to - from);
    const first = Math.ceil((from - s.t0) / step) * step + s.t0;
    for (let t = first; t <= to; t += step) {
      const px = GUTTER + x(t);
      plot.append(svg('line', { x1: px, x2: px, y1: AXIS - 4, y2: height, class: 'rg-stream-grid' }));
      if (px + 48 > GUTTER + width) {
        continue; // no room for its label at the right edge
      }
      const label = svg('text', { x: px + 2, y: AXIS - 6, class: 'rg-stream-tick' });
      label.textContent = formatMs(t - s.t0).replace(/^0 µs$/, '0');
      plot.append(label);
    }
    for (const gap of s.gaps) {
      if (gap.end < from || gap.start > to) {
        continue;
      }
      const r = svg('rect', {
        x: GUTTER + x(gap.start),
        y: laneY[gap.lane] + 3,
        width: Math.max(0, x(gap.end) - x(gap.start)),
        height: LANE - 6,
        fill: `url(#${this._hatch})`,
        class: 'rg-stream-gap'
      });
      const title = svg('title');
      title.textContent = `idle ${formatMs(gap.end - gap.start)}`;
      r.append(title);
      plot.append(r);
    }
    s.bars.forEach((bar: IBar, i) => {
      if (bar.end < from || bar.start > to) {
        return;
      }
      const bx = GUTTER + x(bar.start);
      const g = svg('g', { 'data-bar': i, class: 'rg-stream-bar' + (bar.failed ? ' rg-mod-failed' : '') });
      g.setAttribute('data-function', bar.name);
      // Times in ms from the first run's start (the tests measure the scale with them).
      g.setAttribute('data-start', (bar.start - s.t0).toFixed(3));
      g.setAttribute('data-end', (bar.end - s.t0).toFixed(3));
      g.append(
        svg('rect', {
          x: bx.toFixed(2),
          y: laneY[bar.lane] + 1,
          width: barWidth(bar, x).toFixed(2),
          height: LANE - 2,
          fill: bar.color,
          class: 'rg-stream-run' + (bar.running ? ' rg-mod-running' : '')
        })
      );
      for (const [b0, b1] of bar.blocked) {
        g.append(
          svg('rect', {
            x: (GUTTER + x(b0)).toFixed(2),
            y: laneY[bar.lane] + 1,
            width: Math.max(1, x(b1) - x(b0)).toFixed(2),
            height: LANE - 2,
            fill: `url(#${this._stripe})`,
            class: 'rg-stream-blocked'
          })
        );
      }
      plot.append(g);
    });
    // Transfers between nodes: a mark where the receiving task started (it pulls its
    // arguments first), with what crossed and from where on hover.
    for (const tr of s.transfers) {
      if (tr.at < from || tr.at > to) {
        continue;
      }
      const px = GUTTER + x(tr.at);
      const top = laneY[tr.lane];
      const mark = svg('path', {
        d: `M${(px - 4).toFixed(2)},${top} L${(px + 4).toFixed(2)},${top} L${px.toFixed(2)},${top + 7} Z`,
        class: 'rg-stream-transfer',
        'data-transfer': tr.bar
      });
      const title = svg('title');
      title.textContent =
        `${formatBytes(tr.bytes)} pulled from node ${tr.fromLabel} to node ${tr.toLabel} ` +
        `(the result of ${tr.producer}) before this task ran`;
      mark.append(title);
      plot.append(mark);
    }
    this._svg.setAttribute('height', String(height));
    this._svg.replaceChildren(defs, ...parts, plot);
    if (this._maxHeight) {
      this._viewport.style.maxHeight = `${this._maxHeight}px`;
      this._viewport.style.overflowY = 'auto';
    }
    this._tick();
  }

  private _viewport: HTMLElement;
  private _svg: SVGSVGElement;
  private _tip: HTMLElement;
  private _caption: HTMLElement;
  private _legend: HTMLElement;
  private _hatch: string;
  private _stripe: string;
  private _clip: string;
  private _maxHeight = 0;
  private _stream: IStream | null = null;
  private _window: [number, number] | null = null;
  private _frame = 0;
  private _resize: ResizeObserver | null = null;
  private _input: IStreamInput | null = null;
  private _received = 0;
  private _timer = 0;
}

function pct(part: number, whole: number): string {
  if (!(whole > 0)) {
    return '–';
  }
  const p = (100 * part) / whole;
  return p > 0 && p < 1 ? 'under 1%' : `${Math.round(p)}%`;
}
