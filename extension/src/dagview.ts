/**
 * DagView: draws the DAG model (dag.ts) as laid out by dagre (layout.ts) in an SVG with zoom
 * (wheel), pan (drag), fit/zoom buttons, and a details box for the clicked node. Used by the
 * side panel, the main-area pane and the notebook widget (widget.ts), so all three look alike.
 */
import {
  CATEGORIES,
  CATEGORY_COLORS,
  CATEGORY_LABELS,
  IDag,
  IDagNode,
  StateCategory
} from './dag';
import { ILayout, layoutDag } from './layout';
import { formatBytes } from './format';
import { formatMs, h, svg, toolButton, zoomPan } from './svg';

export interface IDagViewOptions {
  direction?: 'LR' | 'TB';
  /** Height of the drawing area in px; null: fill the parent (a main-area pane). */
  height?: number | null;
  /** A node was clicked (the notebook widget asks the kernel for the result's preview). */
  onSelect?: (node: IDagNode) => void;
}

let instances = 0;

/** Dark text on light fills, white on dark ones. */
const TEXT_ON: Record<StateCategory, string> = {
  pending: '#1b1f24',
  waiting: '#1b1f24',
  running: '#ffffff',
  finished: '#ffffff',
  failed: '#ffffff'
};

export class DagView {
  readonly node: HTMLElement;

  constructor(options: IDagViewOptions = {}) {
    this._direction = options.direction ?? 'LR';
    this._onSelect = options.onSelect ?? null;
    this._marker = `rg-arrow-${++instances}`;
    this.node = h('div', { class: 'rg-dagview', 'data-testid': 'rg-dagview' });
    this._viewport = h('div', { class: 'rg-dagview-viewport' });
    if (options.height === null) {
      this.node.classList.add('rg-mod-fill');
    } else {
      this._maxHeight = options.height ?? 320;
      this._viewport.style.height = `${this._maxHeight}px`;
    }
    this._svg = svg('svg', { class: 'rg-dag', width: '100%', height: '100%' }) as SVGSVGElement;
    this._svg.setAttribute('data-testid', 'rg-dag');
    const defs = svg('defs');
    const marker = svg('marker', {
      id: this._marker,
      viewBox: '0 0 10 10',
      refX: 10,
      refY: 5,
      markerWidth: 7,
      markerHeight: 7,
      orient: 'auto-start-reverse'
    });
    marker.append(svg('path', { d: 'M0,0 L10,5 L0,10 z', class: 'rg-dag-arrow' }));
    defs.append(marker);
    this._root = svg('g', { class: 'rg-dag-root' });
    this._svg.append(defs, this._root);
    this._viewport.append(this._svg);
    this._zoom = zoomPan(this._svg, t =>
      this._root.setAttribute('transform', `translate(${t.tx},${t.ty}) scale(${t.scale})`)
    );
    this._caption = h('span', { class: 'rg-dagview-caption' });
    const tools = h(
      'div',
      { class: 'rg-dagview-tools' },
      this._caption,
      h('span', { class: 'rg-spacer' }),
      toolButton('−', 'Zoom out', () => this._zoomBy(1 / 1.4)),
      toolButton('+', 'Zoom in', () => this._zoomBy(1.4)),
      toolButton('Fit', 'Fit the graph in view', () => this.fit())
    );
    this._legend = h('div', { class: 'rg-dagview-legend' });
    this._details = h('div', { class: 'rg-dag-details', 'data-testid': 'rg-dag-details' });
    this._details.hidden = true;
    const head = h('div', { class: 'rg-dagview-head', 'data-testid': 'rg-dag-summary' }, tools, this._legend);
    this.node.append(head, this._viewport, this._details);
    // Drawn before it is attached (or resized with its pane): fit again unless the user moved.
    if (typeof ResizeObserver !== 'undefined') {
      this._resize = new ResizeObserver(() => {
        if (!this._maxHeight && this._dag) {
          this._key = ''; // a pane changed shape: pack the graph's parts to the new one
          this.update(this._dag, this._nodeNames, this._results);
        } else if (!this._zoom.moved()) {
          this.fit();
        }
      });
      this._resize.observe(this._viewport);
    }
  }

  dispose(): void {
    this._resize?.disconnect();
    this._resize = null;
  }

  /**
   * The model to draw; laid out again only when its nodes or edges changed. For the details:
   * `nodes` names the cluster's nodes (id -> IP), `results` the bytes each task returned.
   */
  update(
    dag: IDag,
    nodes: Record<string, string> = {},
    results: Record<string, number> = {}
  ): void {
    this._dag = dag;
    this._nodeNames = nodes;
    this._results = results;
    const key =
      dag.nodes.map(n => `${n.id}\u0001${n.label}`).join('\u0000') +
      '|' +
      dag.edges.map(e => `${e.from}>${e.to}`).join(',');
    if (key !== this._key) {
      this._key = key;
      // Unconnected parts are packed to the shape of the view (a pane's, once it is shown).
      const vw = this._viewport.clientWidth;
      const vh = this._viewport.clientHeight;
      const aspect = vw > 0 && vh > 0 && !this._maxHeight ? vw / vh : undefined;
      this._layout = layoutDag(dag, { direction: this._direction, aspect });
    }
    this._draw();
    if (!this._zoom.moved()) {
      this.fit();
    }
    if (this._selected) {
      this._showDetails(dag.nodes.find(n => n.id === this._selected) ?? null);
    }
  }

  /** A task's result, described (type, short repr), shown in its details. */
  setPreview(taskId: string, text: string): void {
    this._previews.set(taskId, text);
    if (this._selected && this._dag) {
      this._showDetails(this._dag.nodes.find(n => n.id === this._selected) ?? null);
    }
  }

  get layout(): ILayout | null {
    return this._layout;
  }

  /** Scale to the width (and height, not below 40%), centred across, from the top. */
  fit(): void {
    const layout = this._layout;
    if (!layout || !layout.width) {
      return;
    }
    const vw = this._viewport.clientWidth || 600;
    let vh = this._viewport.clientHeight || this._maxHeight || 320;
    let scale = Math.max(Math.min(1, vw / layout.width, vh / layout.height), 0.4);
    if (this._maxHeight) {
      // A small graph gets a small box: the viewport shrinks to it, up to its set height.
      scale = Math.max(Math.min(1, vw / layout.width, this._maxHeight / layout.height), 0.4);
      vh = Math.min(this._maxHeight, Math.max(80, Math.ceil(layout.height * scale) + 4));
      this._viewport.style.height = `${vh}px`;
    }
    this._zoom.set({
      scale,
      tx: Math.max(0, (vw - layout.width * scale) / 2),
      ty: 0
    });
  }

  private _zoomBy(k: number): void {
    const t = this._zoom.get();
    const vw = (this._viewport.clientWidth || 600) / 2;
    const vh = (this._viewport.clientHeight || 320) / 2;
    this._zoom.set({ scale: t.scale * k, tx: vw - (vw - t.tx) * k, ty: vh - (vh - t.ty) * k });
  }

  private _draw(): void {
    const dag = this._dag!;
    const layout = this._layout!;
    this._caption.textContent =
      `${dag.totalTasks} task${dag.totalTasks === 1 ? '' : 's'}` +
      (dag.grouped ? ' (grouped by function)' : '') +
      (dag.parentEdges ? ' · edges: submitted by' : '');
    this._legend.replaceChildren(
      ...CATEGORIES.filter(c => dag.counts[c] > 0).map(c =>
        h(
          'span',
          { class: 'rg-legend', 'data-state': c },
          h('span', { class: 'rg-swatch', style: `background:${CATEGORY_COLORS[c]}` }),
          `${dag.counts[c]} ${CATEGORY_LABELS[c]}`
        )
      )
    );
    const parts: SVGElement[] = [];
    if (!dag.nodes.length) {
      const t = svg('text', { x: 12, y: 24, class: 'rg-dag-empty' });
      t.textContent = 'No tasks yet.';
      this._root.replaceChildren(t);
      return;
    }
    for (const e of layout.edges) {
      if (!e.points.length) {
        continue;
      }
      const d = e.points
        .map((p, i) => `${i ? 'L' : 'M'}${p.x.toFixed(1)},${p.y.toFixed(1)}`)
        .join(' ');
      const path = svg('path', {
        d,
        class: 'rg-dag-edge' + (dag.parentEdges ? ' rg-mod-parent' : ''),
        'marker-end': `url(#${this._marker})`,
        'stroke-width': dag.grouped ? Math.min(5, 1 + Math.log2(e.count)) : 1.2,
        'data-from': e.from,
        'data-to': e.to
      });
      const title = svg('title');
      title.textContent = `${e.count} ${dag.parentEdges ? 'submission' : 'result'}${e.count === 1 ? '' : 's'}`;
      path.append(title);
      parts.push(path);
    }
    for (const n of dag.nodes) {
      const box = layout.boxes.get(n.id)!;
      const x = box.x - box.width / 2;
      const y = box.y - box.height / 2;
      const g = svg('g', {
        class: `rg-dag-node rg-state-${n.category}` + (n.id === this._selected ? ' rg-mod-selected' : ''),
        transform: `translate(${x.toFixed(1)},${y.toFixed(1)})`,
        'data-id': n.id,
        'data-name': n.name,
        'data-label': n.label,
        'data-state': n.category
      });
      const title = svg('title');
      title.textContent =
        `${n.label}: ` +
        CATEGORIES.filter(c => n.counts[c])
          .map(c => `${n.counts[c]} ${CATEGORY_LABELS[c]}`)
          .join(', ') +
        (n.task?.error ? `\n${n.task.error}` : '') +
        '\n(click for details)';
      g.append(title);
      if (dag.grouped) {
        g.append(
          svg('rect', {
            width: box.width,
            height: box.height,
            rx: 4,
            class: 'rg-dag-shape rg-dag-group'
          })
        );
        let cx = 0;
        for (const c of CATEGORIES) {
          const w = (box.width * n.counts[c]) / Math.max(1, n.size);
          if (w > 0) {
            g.append(
              svg('rect', {
                x: cx.toFixed(1),
                y: box.height - 12,
                width: w.toFixed(1),
                height: 12,
                fill: CATEGORY_COLORS[c],
                class: 'rg-dag-bar'
              })
            );
            cx += w;
          }
        }
        const text = svg('text', { x: 8, y: 16, class: 'rg-dag-label' });
        text.textContent = n.label;
        g.append(text);
      } else {
        g.append(
          svg('rect', {
            width: box.width,
            height: box.height,
            rx: 4,
            fill: CATEGORY_COLORS[n.category],
            class: 'rg-dag-shape'
          })
        );
        const text = svg('text', {
          x: box.width / 2,
          y: box.height / 2 + 4,
          'text-anchor': 'middle',
          fill: TEXT_ON[n.category],
          class: 'rg-dag-label'
        });
        text.textContent = n.label;
        g.append(text);
      }
      g.addEventListener('click', event => {
        event.stopPropagation();
        this._selected = this._selected === n.id ? null : n.id;
        this._draw();
        this._showDetails(this._selected ? n : null);
        if (this._selected) {
          this._onSelect?.(n);
        }
      });
      parts.push(g);
    }
    this._root.replaceChildren(...parts);
  }

  private _showDetails(n: IDagNode | null): void {
    if (!n) {
      this._details.hidden = true;
      this._details.replaceChildren();
      return;
    }
    const rows: [string, string][] = [];
    const counts = CATEGORIES.filter(c => n.counts[c])
      .map(c => `${n.counts[c]} ${CATEGORY_LABELS[c]}`)
      .join(', ');
    const t = n.task;
    if (t) {
      rows.push(['task', t.id], ['state', t.state]);
      if (t.pid) {
        const node = t.node ? this._nodeNames[t.node] ?? t.node.slice(0, 12) : '';
        rows.push(['worker', `pid ${t.pid}` + (node ? ` on ${node}` : '')]);
      }
      if (t.start_ms) {
        const end = t.end_ms ?? null;
        rows.push([
          'ran',
          end !== null
            ? `${end - t.start_ms < 1 ? 'under 1 ms' : formatMs(end - t.start_ms)} ` +
              `(from ${new Date(t.start_ms).toLocaleTimeString()})`
            : `since ${new Date(t.start_ms).toLocaleTimeString()}`
        ]);
      }
      const byId = new Map((this._dag?.nodes ?? []).map(x => [x.id, x.label]));
      if (t.deps.length) {
        rows.push(['arguments from', t.deps.map(d => byId.get(d) ?? d).join(', ')]);
      }
      const preview = this._previews.get(t.id);
      if (preview !== undefined) {
        rows.push(['result', preview]);
      }
      const size = this._results[t.id];
      if (size !== undefined) {
        rows.push(['result size', formatBytes(size)]);
      }
      if (t.error) {
        rows.push(['error', t.error]);
      }
    } else {
      rows.push(['tasks', `${n.size}: ${counts}`]);
      const into = (this._dag?.edges ?? []).filter(e => e.to === n.id && e.from !== n.id);
      const out = (this._dag?.edges ?? []).filter(e => e.from === n.id && e.to !== n.id);
      if (into.length) {
        rows.push(['inputs from', into.map(e => `${e.from.replace(/^group:/, '')} (${e.count})`).join(', ')]);
      }
      if (out.length) {
        rows.push(['feeds', out.map(e => `${e.to.replace(/^group:/, '')} (${e.count})`).join(', ')]);
      }
    }
    this._details.replaceChildren(
      h('div', { class: 'rg-dag-details-title' }, n.label),
      h(
        'table',
        { class: 'rg-details-table' },
        h('tbody', {}, ...rows.map(([k, v]) => h('tr', {}, h('th', {}, k), h('td', {}, v))))
      )
    );
    this._details.hidden = false;
  }

  private _direction: 'LR' | 'TB';
  private _onSelect: ((node: IDagNode) => void) | null;
  private _previews = new Map<string, string>();
  private _maxHeight = 0;
  private _nodeNames: Record<string, string> = {};
  private _results: Record<string, number> = {};
  private _marker: string;
  private _viewport: HTMLElement;
  private _svg: SVGSVGElement;
  private _root: SVGElement;
  private _caption: HTMLElement;
  private _legend: HTMLElement;
  private _details: HTMLElement;
  private _zoom: ReturnType<typeof zoomPan>;
  private _dag: IDag | null = null;
  private _layout: ILayout | null = null;
  private _key = '';
  private _selected: string | null = null;
  private _resize: ResizeObserver | null = null;
}
