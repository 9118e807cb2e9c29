/**
 * The rayground side panel: clusters on this machine, the watched cluster's live DAG, object
 * store and actors, and the course. Plain DOM (no React): the panel redraws its sections from
 * its model at most once per animation frame, whatever the message rate.
 *
 * What it watches: the cluster of the notebook in front (the server maps the kernel id to the
 * cluster whose owner or driver is that kernel), unless the learner picked a cluster in the list.
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';
import { ISignal, Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';
import {
  Feed,
  FeedMessage,
  IActorRow,
  IClusterInfo,
  ICurriculum,
  IObjectTable,
  IPlacement,
  ITask,
  requestAPI
} from './api';
import { buildDag, IFunctionSummary, summariseFunctions } from './dag';
import { DagView } from './dagview';
import { absorbCopies, ICopy } from './stream';
import { LibraryBoard, librarySections, renderLibraries } from './libraries';
import { h } from './svg';
import {
  fillRatio,
  formatBytes,
  formatResources,
  shortId,
  sumResources
} from './format';
import { summariseCourse } from './progress';

const MAX_OBJECT_ROWS = 8; // the largest; the caption counts them all, the pane lists them
const UNREACHABLE = 'The rayground server extension does not answer';

/** The views that open as main-area panes (panes.ts). */
export type PaneKind = 'dag' | 'stream' | 'objects' | 'actors' | 'status';

export const PANE_TITLES: Record<PaneKind, string> = {
  dag: 'Task graph',
  stream: 'Task stream',
  objects: 'Object store',
  actors: 'Actors',
  status: 'Cluster status'
};

export interface IPanelOptions {
  openLesson: (path: string) => void;
  openPane: (kind: PaneKind) => void;
}

/** The watched cluster's state, as the feed keeps it current; the panes read it too. */
export interface IWatched {
  id: string;
  tasks: Map<string, ITask>;
  objects: IObjectTable | null;
  actors: IActorRow[];
  placement: IPlacement;
  status: Record<string, any> | null;
  /** What Serve, Tune and Data are doing on it (the library status board). */
  libraries: LibraryBoard;
  /** Task results copied between nodes, kept after the objects are freed (the task stream
   * draws them as transfers). */
  copies: Map<string, ICopy>;
}

export class RaygroundPanel extends Widget {
  constructor(options: IPanelOptions) {
    super();
    this._options = options;
    this.id = 'rayground-panel';
    this.addClass('rg-panel');
    this.title.caption = 'rayground: clusters, tasks and the course';
    this.node.setAttribute('data-testid', 'rg-panel');

    this._cpus = h('input', {
      class: 'rg-cpus',
      type: 'number',
      min: 1,
      step: 1,
      placeholder: 'CPUs',
      title: 'CPUs for the new cluster (empty: all of this machine)',
      'data-testid': 'rg-cpus'
    }) as HTMLInputElement;
    const start = h(
      'button',
      {
        class: 'jp-mod-styled jp-mod-accept rg-start',
        'data-testid': 'rg-start',
        title: 'Start a local cluster; notebooks join it with ray.init(address="auto")'
      },
      'Start cluster'
    );
    start.addEventListener('click', () => void this.startCluster());
    this._connection = h('span', { class: 'rg-connection', 'data-testid': 'rg-connection' });
    this.node.append(
      h(
        'div',
        { class: 'rg-header' },
        h('span', { class: 'rg-title' }, 'rayground'),
        this._connection,
        h('span', { class: 'rg-spacer' }),
        this._cpus,
        start
      ),
      this._notice,
      this._clustersEl,
      this._watchedEl,
      this._courseEl
    );
    this._feed = new Feed(
      msg => this._onMessage(msg),
      (connected, failures) => {
        this._connected = connected;
        if (connected && this._noticeText.startsWith(UNREACHABLE)) {
          this._noticeText = '';
        } else if (!connected && failures >= 3) {
          this._noticeText =
            `${UNREACHABLE} (is rayground installed where the Jupyter server runs? ` +
            '`jupyter server extension list` should show rayground.lab enabled). Retrying.';
        }
        this._schedule();
      }
    );
    this._feed.connect();
    this._schedule();
  }

  dispose(): void {
    this._feed.dispose();
    if (this._frame) {
      cancelAnimationFrame(this._frame);
    }
    super.dispose();
  }

  /** The notebook in front changed (or its kernel did): follow its cluster. */
  setKernel(kernelId: string | null, label: string | null): void {
    if (kernelId === this._kernelId && label === this._kernelLabel) {
      return;
    }
    this._kernelId = kernelId;
    this._kernelLabel = label;
    this._sendWatch();
    this._schedule();
  }

  /** Watch this cluster whatever notebook is in front; null goes back to following it. */
  pick(clusterId: string | null): void {
    this._picked = clusterId;
    this._sendWatch();
    this._schedule();
  }

  get clusters(): IClusterInfo[] {
    return this._clusters;
  }

  get watchedCluster(): string | null {
    return this._watched?.id ?? null;
  }

  /** What is watched, with its latest state (null: nothing). */
  get watched(): IWatched | null {
    return this._watched;
  }

  /** Why nothing is watched (the server's words), when nothing is. */
  get watchReason(): string {
    return this._watchReason;
  }

  /** "Cluster of demo.ipynb", "Picked cluster" or "Cluster". */
  get watchHeading(): string {
    const w = this._watched;
    if (this._picked && w && w.id === this._picked) {
      return 'Picked cluster';
    }
    return w ? `Cluster of ${this._kernelLabel ?? 'this notebook'}` : 'Cluster';
  }

  /** Emitted after each redraw (at most once a frame): the panes redraw then. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  async startCluster(numCpus?: number): Promise<IClusterInfo | null> {
    const raw = this._cpus.value.trim();
    const cpus = numCpus ?? (raw ? Number(raw) : undefined);
    if (cpus !== undefined && !(Number.isInteger(cpus) && cpus >= 1)) {
      this._setNotice(`CPUs must be a whole number, 1 or more (got "${raw ?? cpus}").`);
      return null;
    }
    this._setNotice('Starting a local cluster…');
    try {
      const info = await requestAPI<IClusterInfo>('clusters', {
        method: 'POST',
        body: JSON.stringify(cpus === undefined ? {} : { num_cpus: cpus })
      });
      this._setNotice(
        `Started cluster ${shortId(info.id, 32)}. Join it from a notebook with ` +
          'ray.init(address="auto").'
      );
      if (!this._kernelId || !this._watched) {
        this.pick(info.id);
      }
      return info;
    } catch (error) {
      this._setNotice(String((error as Error).message ?? error));
      return null;
    }
  }

  async stopCluster(id: string): Promise<void> {
    const info = this._clusters.find(c => c.id === id);
    if (info && info.drivers > 0) {
      const answer = await showDialog({
        title: 'Stop this cluster?',
        body: `${info.drivers} driver(s) are connected to it; their work will fail.`,
        buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Stop' })]
      });
      if (!answer.button.accept) {
        return;
      }
    }
    try {
      await requestAPI<void>(`clusters/${encodeURIComponent(id)}`, { method: 'DELETE' });
      this._setNotice(`Stopped cluster ${shortId(id, 32)}.`);
      if (this._picked === id) {
        this.pick(null);
      }
    } catch (error) {
      this._setNotice(String((error as Error).message ?? error));
    }
  }

  // ------------------------------------------------------------------ messages
  private _sendWatch(): void {
    this._feed.watch({ kernelId: this._kernelId, cluster: this._picked });
  }

  private _onMessage(msg: FeedMessage): void {
    switch (msg.type) {
      case 'clusters':
        this._clusters = msg.clusters;
        break;
      case 'curriculum':
        this._curriculum = msg;
        break;
      case 'watching':
        this._watchReason = msg.reason;
        if (msg.cluster === null) {
          this._watched = null;
        } else if (this._watched?.id !== msg.cluster) {
          this._watched = {
            id: msg.cluster,
            tasks: new Map(),
            objects: null,
            actors: [],
            placement: { workers: {}, nodes: {} },
            status: null,
            libraries: {},
            copies: new Map()
          };
        }
        break;
      case 'snapshot':
        if (this._watched?.id === msg.cluster) {
          this._watched.tasks = new Map(msg.tasks.map(t => [t.id, t]));
          this._watched.objects = msg.objects;
          absorbCopies(this._watched.copies, msg.objects);
          this._watched.actors = msg.actors;
          this._watched.placement = msg.placement ?? this._watched.placement;
          this._watched.status = msg.status;
          this._watched.libraries = msg.libraries ?? {};
        }
        break;
      case 'libraries':
        if (this._watched?.id === msg.cluster) {
          this._watched.libraries = msg.libraries;
        }
        break;
      case 'tasks':
        if (this._watched?.id === msg.cluster) {
          for (const t of msg.upsert) {
            this._watched.tasks.set(t.id, t);
          }
          for (const id of msg.removed) {
            this._watched.tasks.delete(id);
          }
        }
        break;
      case 'tables':
        if (this._watched?.id === msg.cluster) {
          this._watched.objects = msg.objects;
          absorbCopies(this._watched.copies, msg.objects);
          this._watched.actors = msg.actors;
          this._watched.placement = msg.placement ?? this._watched.placement;
        }
        break;
      case 'status':
        if (this._watched?.id === msg.cluster) {
          this._watched.status = msg.status;
        }
        break;
      case 'error':
        this._setNotice(msg.message);
        break;
    }
    this._schedule();
  }

  private _setNotice(text: string): void {
    this._noticeText = text;
    this._schedule();
  }

  // ------------------------------------------------------------------ drawing
  private _schedule(): void {
    if (this._frame) {
      return;
    }
    this._frame = requestAnimationFrame(() => {
      this._frame = 0;
      this._render();
    });
  }

  private _render(): void {
    this._connection.textContent = this._connected ? 'live' : 'connecting…';
    this._connection.classList.toggle('rg-mod-live', this._connected);
    this._notice.textContent = this._noticeText;
    this._notice.hidden = !this._noticeText;
    this._clustersEl.replaceChildren(...this._renderClusters());
    this._watchedEl.replaceChildren(...this._renderWatched());
    this._courseEl.replaceChildren(...this._renderCourse());
    this._changed.emit();
  }

  private _renderClusters(): Node[] {
    const items = this._clusters.map(c => {
      const mine = !!this._kernelId && c.kernel_ids.includes(this._kernelId);
      const { total, available } = sumResources(c.nodes);
      const kind =
        c.kind === 'server'
          ? 'started from this panel'
          : c.kind === 'standalone'
            ? 'standalone (rayground start)'
            : c.kernel_ids.length
              ? 'started by a notebook kernel'
              : `started by pid ${c.owner_pid}`;
      const running = c.tasks['RUNNING'] ?? 0;
      const taskCount = Object.values(c.tasks).reduce((a, b) => a + b, 0);
      const stop =
        c.stoppable &&
        h('button', { class: 'jp-mod-styled rg-stop', 'data-testid': 'rg-stop', title: 'Stop this cluster' }, 'Stop');
      if (stop) {
        stop.addEventListener('click', event => {
          event.stopPropagation();
          void this.stopCluster(c.id);
        });
      }
      const item = h(
        'li',
        {
          class: 'rg-cluster',
          'data-cluster-id': c.id,
          'data-kind': c.kind,
          title: `${c.address}\nhead pid ${c.pid}\nclick to watch this cluster`
        },
        h(
          'div',
          { class: 'rg-cluster-line' },
          h('span', { class: 'rg-cluster-name' }, shortId(c.id.replace(/^session_/, ''), 19)),
          mine && h('span', { class: 'rg-badge', 'data-testid': 'rg-mine' }, 'this notebook'),
          h('span', { class: 'rg-spacer' }),
          stop
        ),
        h('div', { class: 'rg-cluster-kind' }, kind),
        h(
          'div',
          { class: 'rg-cluster-resources', 'data-testid': 'rg-resources' },
          c.nodes.length
            ? `${c.nodes.length} node${c.nodes.length > 1 ? 's' : ''} · ` +
                formatResources(total, available)
            : c.error
              ? `not reachable: ${c.error}`
              : 'connecting…'
        ),
        h(
          'div',
          { class: 'rg-cluster-stats' },
          `${taskCount} tasks (${running} running) · ${c.workers} workers · ` +
            `store ${formatBytes(c.store_used)} / ${formatBytes(c.store_capacity)}`
        )
      );
      item.classList.toggle('rg-mod-watched', this._watched?.id === c.id);
      item.classList.toggle('rg-mod-mine', mine);
      item.addEventListener('click', () => this.pick(c.id));
      return item;
    });
    return [
      h('h3', { class: 'rg-section-title' }, `Clusters on this machine (${this._clusters.length})`),
      items.length
        ? h('ul', { class: 'rg-clusters', 'data-testid': 'rg-clusters' }, ...items)
        : h(
            'p',
            { class: 'rg-empty', 'data-testid': 'rg-clusters' },
            'No cluster is running. Run ray.init() (or %ray_init) in a notebook, or start one here.'
          )
    ];
  }

  private _renderWatched(): Node[] {
    const w = this._watched;
    const heading = this.watchHeading;
    const follow =
      this._picked &&
      h('button', { class: 'jp-mod-styled rg-follow', title: 'Watch the cluster of the notebook in front' }, 'Follow notebook');
    if (follow) {
      follow.addEventListener('click', () => this.pick(null));
    }
    const top = h(
      'div',
      { class: 'rg-section-head' },
      h('h3', { class: 'rg-section-title' }, heading),
      h('span', { class: 'rg-spacer' }),
      follow
    );
    if (!w) {
      return [
        top,
        h('p', { class: 'rg-empty', 'data-testid': 'rg-watch-reason' }, this._watchReason || 'Open a notebook.')
      ];
    }
    const tasks = [...w.tasks.values()];
    this._dagView.update(buildDag(tasks), w.placement.nodes);
    const open = (Object.keys(PANE_TITLES) as PaneKind[]).map(kind => {
      const b = h(
        'button',
        {
          class: 'rg-tool rg-open-pane',
          type: 'button',
          'data-testid': `rg-open-${kind}`,
          title: `Open the ${PANE_TITLES[kind].toLowerCase()} in the main area`
        },
        PANE_TITLES[kind]
      );
      b.addEventListener('click', () => this._options.openPane(kind));
      return b;
    });
    // The libraries' sections appear once Serve, Tune or Data has run on the cluster.
    const sections = librarySections(w.libraries);
    const libraries = sections.length
      ? [h('h4', { class: 'rg-sub-title' }, 'Libraries'), renderLibraries(sections)]
      : [];
    return [
      top,
      h('div', { class: 'rg-watched-id', 'data-testid': 'rg-watched-id' }, w.id),
      h('div', { class: 'rg-open-panes' }, h('span', { class: 'rg-open-label' }, 'Open:'), ...open),
      ...libraries,
      h('h4', { class: 'rg-sub-title' }, 'Tasks'),
      this._dagView.node,
      this._renderFunctions(summariseFunctions(tasks)),
      h('h4', { class: 'rg-sub-title' }, 'Object store'),
      this._renderStore(w.objects),
      h('h4', { class: 'rg-sub-title' }, `Actors (${w.actors.length})`),
      this._renderActors(w.actors)
    ];
  }

  private _renderFunctions(functions: IFunctionSummary[]): HTMLElement {
    const rows = functions.slice(0, 12).map(f =>
      h(
        'tr',
        { 'data-function': f.name },
        h('td', { title: f.name }, f.name),
        h('td', { class: 'rg-num' }, String(f.total)),
        ...(['running', 'finished', 'failed'] as const).map(c =>
          h('td', { class: `rg-num rg-state-${c}` }, f.counts[c] ? String(f.counts[c]) : '')
        ),
        h(
          'td',
          { class: 'rg-num' },
          f.counts.pending + f.counts.waiting ? String(f.counts.pending + f.counts.waiting) : ''
        )
      )
    );
    if (!rows.length) {
      return h('div', {});
    }
    return h(
      'table',
      { class: 'rg-table rg-functions', 'data-testid': 'rg-functions' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', {}, 'function'),
          h('th', { class: 'rg-num' }, 'tasks'),
          h('th', { class: 'rg-num', title: 'running' }, 'run'),
          h('th', { class: 'rg-num', title: 'finished' }, 'done'),
          h('th', { class: 'rg-num', title: 'failed' }, 'fail'),
          h('th', { class: 'rg-num', title: 'waiting for arguments or resources' }, 'wait')
        )
      ),
      h('tbody', {}, ...rows)
    );
  }

  private _renderStore(objects: IObjectTable | null): HTMLElement {
    if (!objects) {
      return h('p', { class: 'rg-empty' }, 'Loading…');
    }
    const ratio = fillRatio(objects.used, objects.capacity);
    const bar = h(
      'div',
      {
        class: 'rg-fill',
        'data-testid': 'rg-store-fill',
        role: 'progressbar',
        'aria-valuemin': 0,
        'aria-valuemax': 100,
        'aria-valuenow': Math.round(ratio * 100)
      },
      h('div', { class: 'rg-fill-bar', style: `width: ${(ratio * 100).toFixed(1)}%` })
    );
    const caption = h(
      'div',
      { class: 'rg-fill-caption' },
      `${objects.count} object${objects.count === 1 ? '' : 's'} · ` +
        `${formatBytes(objects.used)} of ${formatBytes(objects.capacity)} in shared memory ` +
        `(${(ratio * 100).toFixed(1)}%; small values travel inline)` +
        (objects.spilled_bytes ? ` · ${formatBytes(objects.spilled_bytes)} spilled` : '')
    );
    const rows = objects.rows.slice(0, MAX_OBJECT_ROWS).map(o =>
      h(
        'tr',
        { 'data-object-id': o.id },
        h('td', { title: o.id }, shortId(o.id, 14)),
        h('td', { class: 'rg-num' }, formatBytes(o.size)),
        h('td', {}, o.spilled ? 'spilled' : o.where),
        h(
          'td',
          {
            class: 'rg-num',
            title: `held by: ${o.holders.join(', ') || 'no process'}; pinned by ${o.pins} pending task(s)`
          },
          String(o.refs)
        )
      )
    );
    const more =
      objects.count > rows.length &&
      h(
        'p',
        { class: 'rg-more' },
        `… and ${objects.count - rows.length} smaller objects (Open: Object store lists them all)`
      );
    return h(
      'div',
      { class: 'rg-store', 'data-testid': 'rg-store' },
      bar,
      caption,
      rows.length
        ? h(
            'table',
            { class: 'rg-table' },
            h('thead', {}, h('tr', {}, h('th', {}, 'object'), h('th', {}, 'size'), h('th', {}, 'where'), h('th', {}, 'refs'))),
            h('tbody', {}, ...rows)
          )
        : h('p', { class: 'rg-empty' }, 'The store is empty.'),
      more
    );
  }

  private _renderActors(actors: IActorRow[]): HTMLElement {
    if (!actors.length) {
      return h('p', { class: 'rg-empty', 'data-testid': 'rg-actors' }, 'No actors.');
    }
    const rows = actors.map(a =>
      h(
        'tr',
        { 'data-actor-id': a.id, title: a.death_cause ?? a.id },
        h('td', {}, a.name ? `${a.class_name} "${a.name}"` : a.class_name),
        h('td', { class: `rg-actor-${a.state.toLowerCase()}` }, a.state),
        h('td', { class: 'rg-num' }, String(a.calls_done)),
        h('td', { class: 'rg-num' }, String(a.calls_queued))
      )
    );
    return h(
      'table',
      { class: 'rg-table', 'data-testid': 'rg-actors' },
      h('thead', {}, h('tr', {}, h('th', {}, 'actor'), h('th', {}, 'state'), h('th', {}, 'done'), h('th', {}, 'queued'))),
      h('tbody', {}, ...rows)
    );
  }

  private _renderCourse(): Node[] {
    const c = this._curriculum;
    const title = h('h3', { class: 'rg-section-title' }, 'Course');
    if (!c) {
      return [title, h('p', { class: 'rg-empty' }, 'Loading…')];
    }
    if (!c.lessons.length) {
      return [
        title,
        h(
          'p',
          { class: 'rg-empty', 'data-testid': 'rg-lessons' },
          'No lessons here: the course notebooks (NN_name.ipynb) are looked for in the folder ' +
            'JupyterLab was started in and its notebooks/ folder.'
        )
      ];
    }
    const course = summariseCourse(c.lessons, c.progress);
    const items = course.lessons.map(s => {
      const pct = s.total ? Math.round((100 * s.solved) / s.total) : 0;
      const li = h(
        'li',
        {
          class: `rg-lesson rg-lesson-${s.state}`,
          'data-path': s.lesson.path,
          title: s.lesson.error ?? `Open ${s.lesson.path}` + (s.next ? `\nnext exercise: ${s.next}` : '')
        },
        h('span', { class: 'rg-lesson-title' }, `${String(s.lesson.number).padStart(2, '0')} ${s.lesson.title}`),
        h('span', { class: 'rg-spacer' }),
        h(
          'span',
          { class: 'rg-lesson-progress' },
          s.total ? `${s.solved}/${s.total}` : '',
          s.total
            ? h('span', { class: 'rg-mini-fill' }, h('span', { class: 'rg-mini-fill-bar', style: `width: ${pct}%` }))
            : null
        )
      );
      li.classList.toggle('rg-mod-current', s.lesson.stem === course.current);
      li.addEventListener('click', () => this._options.openLesson(s.lesson.path));
      return li;
    });
    const out: Node[] = [
      title,
      h(
        'div',
        { class: 'rg-course-summary', 'data-testid': 'rg-course-summary' },
        `${course.solved} of ${course.total} exercises solved`
      )
    ];
    if (c.progress_error) {
      out.push(h('p', { class: 'rg-notice' }, c.progress_error));
    }
    out.push(h('ul', { class: 'rg-lessons', 'data-testid': 'rg-lessons' }, ...items));
    return out;
  }

  private _options: IPanelOptions;
  private _dagView = new DagView({ direction: 'TB', height: 220 });
  private _changed = new Signal<this, void>(this);
  private _feed: Feed;
  private _connected = false;
  private _connection: HTMLElement;
  private _cpus: HTMLInputElement;
  private _notice = h('div', { class: 'rg-notice', 'data-testid': 'rg-notice', hidden: true });
  private _noticeText = '';
  private _clustersEl = h('section', { class: 'rg-section' });
  private _watchedEl = h('section', { class: 'rg-section' });
  private _courseEl = h('section', { class: 'rg-section' });
  private _clusters: IClusterInfo[] = [];
  private _curriculum: ICurriculum | null = null;
  private _watched: IWatched | null = null;
  private _watchReason = '';
  private _kernelId: string | null = null;
  private _kernelLabel: string | null = null;
  private _picked: string | null = null;
  private _frame = 0;
}

