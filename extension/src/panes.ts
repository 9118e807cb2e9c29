/**
 * Main-area panes: each view (task graph, task stream, object store, actors, status) as a
 * dockable JupyterLab widget, as dask-labextension opens its dashboard plots. A pane draws what
 * the side panel watches (panel.ts): the cluster of the notebook in front, or the one picked, so
 * it follows a kernel restart that brings a new cluster the moment the panel does.
 */
import { Widget } from '@lumino/widgets';
import { IActorRow, IClusterInfo, IObjectTable } from './api';
import { buildDag } from './dag';
import { DagView } from './dagview';
import { librarySections, renderLibraries } from './libraries';
import { fillRatio, formatBytes, formatResources, sumResources } from './format';
import { memoryNote, OBJECT_COLUMNS, ObjectColumn, sortObjects, whereText } from './objects';
import { IWatched, PANE_TITLES, PaneKind, RaygroundPanel } from './panel';
import { StreamView } from './streamview';
import { h } from './svg';

const MAX_PANE_OBJECTS = 500;

export class RaygroundPane extends Widget {
  constructor(readonly kind: PaneKind, private _panel: RaygroundPanel) {
    super();
    this.id = `rayground-pane-${kind}`;
    this.addClass('rg-pane');
    this.node.setAttribute('data-testid', `rg-pane-${kind}`);
    this.title.label = PANE_TITLES[kind];
    this.title.caption = `${PANE_TITLES[kind]} of the cluster the rayground panel watches`;
    this.title.closable = true;
    this._which = h('div', { class: 'rg-pane-which', 'data-testid': 'rg-pane-which' });
    this._body = h('div', { class: 'rg-pane-body' });
    this.node.append(this._which, this._body);
    if (kind === 'dag') {
      this._dag = new DagView({ direction: 'LR', height: null });
    } else if (kind === 'stream') {
      this._stream = new StreamView({ height: null });
    }
    _panel.changed.connect(this._update, this);
    this._update();
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._panel.changed.disconnect(this._update, this);
    this._dag?.dispose();
    this._stream?.dispose();
    super.dispose();
  }

  protected onAfterShow(): void {
    this._update();
  }

  private _update(): void {
    if (!this.isVisible) {
      return; // a tab behind another: drawn when shown (onAfterShow)
    }
    const w = this._panel.watched;
    this._which.replaceChildren(
      h(
        'div',
        {},
        h('span', { class: 'rg-pane-heading' }, this._panel.watchHeading),
        w && h('span', { class: 'rg-watched-id', 'data-testid': 'rg-pane-cluster' }, w.id)
      )
    );
    this._which.dataset.cluster = w?.id ?? '';
    if (!w) {
      this._body.replaceChildren(
        h('p', { class: 'rg-empty' }, this._panel.watchReason || 'Open a notebook that runs ray.init().')
      );
      return;
    }
    switch (this.kind) {
      case 'dag':
        this._dag!.update(buildDag([...w.tasks.values()]), w.placement.nodes, resultSizes(w));
        this._show(this._dag!.node);
        break;
      case 'stream':
        this._stream!.update({
          tasks: [...w.tasks.values()],
          workers: w.placement.workers,
          nodes: w.placement.nodes,
          nowMs: Date.now(),
          results: resultSizes(w),
          copies: [...w.copies.values()]
        });
        this._show(this._stream!.node);
        break;
      case 'objects':
        this._body.replaceChildren(this._objects(w.objects));
        break;
      case 'actors':
        this._body.replaceChildren(actorsTable(w.actors));
        break;
      case 'status':
        this._body.replaceChildren(
          statusView(w, this._panel.clusters.find(c => c.id === w.id) ?? null)
        );
        break;
    }
  }

  private _show(node: HTMLElement): void {
    if (node.parentElement !== this._body) {
      this._body.replaceChildren(node);
    }
  }

  private _objects(objects: IObjectTable | null): HTMLElement {
    if (!objects) {
      return h('p', { class: 'rg-empty' }, 'Loading…');
    }
    const ratio = fillRatio(objects.used, objects.capacity);
    const note = memoryNote(objects);
    const rows = sortObjects(objects.rows, this._sortKey, this._sortDesc).slice(0, MAX_PANE_OBJECTS);
    const head = OBJECT_COLUMNS.map(c => {
      const th = h(
        'th',
        {
          class: 'rg-sortable' + (c.numeric ? ' rg-num' : ''),
          'data-column': c.key,
          'aria-sort': c.key === this._sortKey ? (this._sortDesc ? 'descending' : 'ascending') : 'none',
          title: 'Sort by this column'
        },
        c.label + (c.key === this._sortKey ? (this._sortDesc ? ' ▾' : ' ▴') : '')
      );
      th.addEventListener('click', () => {
        if (this._sortKey === c.key) {
          this._sortDesc = !this._sortDesc;
        } else {
          this._sortKey = c.key as ObjectColumn;
          this._sortDesc = !!c.numeric;
        }
        this._update();
      });
      return th;
    });
    const body = rows.map(o =>
      h(
        'tr',
        { 'data-object-id': o.id },
        h('td', { title: o.id }, o.id),
        h('td', { class: 'rg-num' }, formatBytes(o.size)),
        h('td', {}, whereText(o)),
        h('td', {}, o.owner_name ?? ''),
        h(
          'td',
          { title: `holders: ${o.holders.join(', ') || 'none'}; pins: ${o.pins}` },
          (o.held_by ?? []).join(', ') || 'nothing (being freed)'
        ),
        h('td', { class: 'rg-num' }, String(o.refs))
      )
    );
    return h(
      'div',
      { class: 'rg-store rg-pane-objects' },
      h(
        'div',
        {
          class: 'rg-fill',
          role: 'progressbar',
          'aria-valuemin': 0,
          'aria-valuemax': 100,
          'aria-valuenow': Math.round(ratio * 100)
        },
        h('div', { class: 'rg-fill-bar', style: `width: ${(ratio * 100).toFixed(1)}%` })
      ),
      h(
        'div',
        { class: 'rg-fill-caption' },
        `${objects.count} object${objects.count === 1 ? '' : 's'} · ${formatBytes(objects.used)} of ` +
          `${formatBytes(objects.capacity)} in shared memory (${(ratio * 100).toFixed(1)}%)` +
          (objects.spilled_bytes ? ` · ${formatBytes(objects.spilled_bytes)} spilled to disk` : '')
      ),
      note && h('p', { class: 'rg-memory-note', 'data-testid': 'rg-memory-note' }, note),
      rows.length
        ? h(
            'table',
            { class: 'rg-table rg-objects', 'data-testid': 'rg-objects' },
            h('thead', {}, h('tr', {}, ...head)),
            h('tbody', {}, ...body)
          )
        : h('p', { class: 'rg-empty' }, 'The store is empty.'),
      objects.count > rows.length &&
        h('p', { class: 'rg-more' }, `… and ${objects.count - rows.length} smaller objects`)
    );
  }

  private _which: HTMLElement;
  private _body: HTMLElement;
  private _dag: DagView | null = null;
  private _stream: StreamView | null = null;
  private _sortKey: ObjectColumn = 'size';
  private _sortDesc = true;
}

/** Task id -> bytes of its results, from the object table (its largest 2,000 objects). */
function resultSizes(w: IWatched): Record<string, number> {
  const out: Record<string, number> = {};
  for (const o of w.objects?.rows ?? []) {
    if (o.task_id) {
      out[o.task_id] = (out[o.task_id] ?? 0) + o.size;
    }
  }
  return out;
}

function actorsTable(actors: IActorRow[]): HTMLElement {
  if (!actors.length) {
    return h('p', { class: 'rg-empty', 'data-testid': 'rg-actors' }, 'No actors.');
  }
  const cols = ['actor', 'state', 'pid', 'calls done', 'queued', 'restarts', 'cause of death'];
  return h(
    'table',
    { class: 'rg-table', 'data-testid': 'rg-actors' },
    h('thead', {}, h('tr', {}, ...cols.map(c => h('th', {}, c)))),
    h(
      'tbody',
      {},
      ...actors.map(a =>
        h(
          'tr',
          { 'data-actor-id': a.id },
          h('td', {}, a.name ? `${a.class_name} "${a.name}"` : a.class_name),
          h('td', { class: `rg-actor-${a.state.toLowerCase()}` }, a.state),
          h('td', { class: 'rg-num' }, a.pid ? String(a.pid) : ''),
          h('td', { class: 'rg-num' }, String(a.calls_done)),
          h('td', { class: 'rg-num' }, String(a.calls_queued)),
          h('td', { class: 'rg-num' }, String(a.restarts)),
          h('td', {}, a.death_cause ?? '')
        )
      )
    )
  );
}

/** The libraries' sections, every row (the side panel shows the first few). */
function librariesPart(w: IWatched): HTMLElement[] {
  const sections = librarySections(w.libraries);
  if (!sections.length) {
    return [];
  }
  return [h('h4', { class: 'rg-sub-title' }, 'Libraries'), renderLibraries(sections, Infinity, false)];
}

function statusView(w: IWatched, info: IClusterInfo | null): HTMLElement {
  if (!info) {
    return h('p', { class: 'rg-empty' }, 'Loading…');
  }
  const { total, available } = sumResources(info.nodes);
  const tasks = Object.entries(info.tasks)
    .sort((a, b) => b[1] - a[1])
    .map(([state, n]) => `${n} ${state.toLowerCase()}`)
    .join(', ');
  const actors = Object.entries(info.actors)
    .map(([state, n]) => `${n} ${state.toLowerCase()}`)
    .join(', ');
  return h(
    'div',
    { class: 'rg-pane-status', 'data-testid': 'rg-status' },
    h(
      'table',
      { class: 'rg-table' },
      h(
        'tbody',
        {},
        ...(
          [
            ['address', info.address],
            ['resources', formatResources(total, available)],
            ['tasks', tasks || 'none yet'],
            ['actors', actors || 'none'],
            ['workers', String(info.workers)],
            ['drivers', String(info.drivers)],
            ['object store', `${formatBytes(info.store_used)} of ${formatBytes(info.store_capacity)}`]
          ] as [string, string][]
        ).map(([k, v]) => h('tr', {}, h('th', {}, k), h('td', {}, v)))
      )
    ),
    h('h4', { class: 'rg-sub-title' }, `Nodes (${info.nodes.length})`),
    h(
      'table',
      { class: 'rg-table', 'data-testid': 'rg-nodes' },
      h(
        'thead',
        {},
        h('tr', {}, ...['node', 'state', 'resources', 'workers', 'store'].map(c => h('th', {}, c)))
      ),
      h(
        'tbody',
        {},
        ...info.nodes.map(n =>
          h(
            'tr',
            {},
            h('td', {}, n.node_ip + (n.is_head_node ? ' (head)' : '')),
            h('td', {}, n.state),
            h('td', {}, formatResources(n.resources_total, n.resources_available)),
            h('td', { class: 'rg-num' }, String(n.num_workers)),
            h(
              'td',
              { class: 'rg-num' },
              `${formatBytes(n.object_store_used)} / ${formatBytes(n.object_store_capacity)}`
            )
          )
        )
      )
    ),
    ...librariesPart(w),
    h(
      'p',
      { class: 'rg-more' },
      `${w.tasks.size} tasks known to the panel (the newest ${w.tasks.size >= 20000 ? '20,000' : 'all'}).`
    )
  );
}
