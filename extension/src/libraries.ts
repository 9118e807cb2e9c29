/**
 * The libraries' sections (Serve, Tune, Data): what the cluster's library status board says
 * (runtime/rayground/util/library_status.py documents its format; the feed sends it in
 * `snapshot` and `libraries` messages). `librarySections` is the pure model (jest-tested);
 * `renderLibraries` draws it, in the side panel and the status pane. The kernel's
 * `%ray_status` draws the same board (runtime/rayground/jupyter/libraries.py).
 */
import { h } from './svg';

export interface IServeDeployment {
  name: string;
  status: string;
  message: string;
  target: number | null;
  replicas: Record<string, number>;
  requests_per_s: number;
  ongoing: number;
  queued: number;
}

export interface IServeApplication {
  name: string;
  status: string;
  route: string | null;
  message: string;
  deployments: IServeDeployment[];
}

export interface ITrialRow {
  trial: string;
  status: string;
  config: string;
  iter: number;
  last: number | string | null;
  best: number | string | null;
  why: string;
}

export interface IDataOperator {
  name: string;
  tasks: number;
  blocks: number;
  rows: number;
  rows_per_s: number;
}

export interface ILibraryEntry {
  key: string;
  title: string;
  state: string;
  updated: number;
  // serve
  applications?: IServeApplication[];
  // tune
  metric?: string | null;
  mode?: string | null;
  counts?: Record<string, number>;
  best?: { trial: string; value: number; config: string } | null;
  trials?: ITrialRow[];
  // data
  elapsed_s?: number;
  operators?: IDataOperator[];
}

/** library ("serve", "tune", "data") -> key -> entry. */
export type LibraryBoard = Record<string, Record<string, ILibraryEntry>>;

export interface ILibraryRow {
  cells: string[];
  /** The state shown in the row (colours it): a replica set's, a trial's. */
  state: string;
  /** Longer text on hover (a message, a stop reason). */
  title: string;
}

export interface ILibrarySection {
  library: 'serve' | 'tune' | 'data';
  key: string;
  heading: string;
  state: string;
  /** One line under the heading: totals, the best result, progress. */
  summary: string;
  columns: string[];
  /** Which column holds a row's state (coloured by it), if any. */
  stateColumn: number | null;
  /** The columns the side panel shows (it is narrow); the status pane shows them all. */
  compactColumns: number[];
  rows: ILibraryRow[];
}

/** Rows shown per section in the side panel (the status pane shows them all). */
export const PANEL_ROWS = 8;

const LIBRARY_ORDER = ['serve', 'tune', 'data'] as const;

export function formatNumber(value: number | string | null | undefined): string {
  if (value === null || value === undefined || value === '') {
    return '–';
  }
  if (typeof value === 'string') {
    return value;
  }
  if (Number.isInteger(value)) {
    return value.toLocaleString('en-US');
  }
  return Math.abs(value) >= 1000 ? Math.round(value).toLocaleString('en-US') : value.toPrecision(4).replace(/\.?0+$/, '');
}

function replicaText(replicas: Record<string, number>): string {
  const parts = Object.keys(replicas)
    .sort()
    .map(k => `${replicas[k]} ${k.toLowerCase()}`);
  return parts.join(', ') || 'none';
}

/** A deployment's health in one word: its status, or UNHEALTHY when replicas are missing. */
export function deploymentHealth(d: IServeDeployment): string {
  const running = d.replicas['RUNNING'] ?? 0;
  if (d.status === 'HEALTHY' && d.target !== null && running < d.target) {
    return 'UPDATING';
  }
  return d.status;
}

function serveSections(entry: ILibraryEntry): ILibrarySection {
  const apps = entry.applications ?? [];
  const rows: ILibraryRow[] = [];
  let replicas = 0;
  let rate = 0;
  for (const app of apps) {
    for (const d of app.deployments) {
      replicas += Object.values(d.replicas).reduce((a, b) => a + b, 0);
      rate += d.requests_per_s;
      rows.push({
        cells: [
          `${app.name}/${d.name}`,
          deploymentHealth(d),
          replicaText(d.replicas),
          formatNumber(d.requests_per_s),
          `${d.ongoing}/${d.queued}`
        ],
        state: deploymentHealth(d),
        title: [app.route ? `route ${app.route}` : 'no HTTP route', d.message || app.message]
          .filter(Boolean)
          .join(' · ')
      });
    }
  }
  return {
    library: 'serve',
    key: entry.key,
    heading: 'Serve',
    state: apps.some(a => a.status !== 'RUNNING')
      ? apps.find(a => a.status !== 'RUNNING')!.status
      : 'RUNNING',
    summary:
      `${apps.length} application${apps.length === 1 ? '' : 's'}, ${rows.length} ` +
      `deployment${rows.length === 1 ? '' : 's'}, ${replicas} replica${replicas === 1 ? '' : 's'}` +
      ` · ${formatNumber(rate)} req/s`,
    columns: ['deployment', 'health', 'replicas', 'req/s', 'ongoing/queued'],
    stateColumn: 1,
    compactColumns: [0, 1, 2],
    rows
  };
}

function tuneSection(entry: ILibraryEntry): ILibrarySection {
  const counts = entry.counts ?? {};
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  const countText = Object.keys(counts)
    .sort()
    .map(k => `${counts[k]} ${k.toLowerCase()}`)
    .join(', ');
  const best = entry.best
    ? `best ${entry.metric} ${formatNumber(entry.best.value)} (${entry.best.config})`
    : entry.metric
      ? `no ${entry.metric} reported yet`
      : 'no metric set';
  const trials = entry.trials ?? [];
  // Running trials first, then the best ones: what a learner looks for.
  const order = (t: ITrialRow): number => (t.status === 'RUNNING' ? 0 : t.status === 'PENDING' ? 1 : 2);
  const sign = entry.mode === 'max' ? -1 : 1;
  const rank = (t: ITrialRow): number => (typeof t.best === 'number' ? sign * t.best : Infinity);
  const sorted = [...trials].sort((a, b) => order(a) - order(b) || rank(a) - rank(b));
  return {
    library: 'tune',
    key: entry.key,
    heading: `Tune: ${entry.title}`,
    state: entry.state,
    summary: `${total} trial${total === 1 ? '' : 's'} (${countText || 'none yet'}) · ${best}`,
    columns: ['trial', 'status', 'iter', `best ${entry.metric ?? ''}`.trim(), 'config'],
    stateColumn: 1,
    compactColumns: [0, 1, 3],
    rows: sorted.map(t => ({
      cells: [t.trial, t.status, String(t.iter), formatNumber(t.best), t.config],
      state: t.status,
      title: t.why
    }))
  };
}

function dataSection(entry: ILibraryEntry): ILibrarySection {
  const ops = entry.operators ?? [];
  const rows = ops.length ? ops[ops.length - 1].rows : 0;
  return {
    library: 'data',
    key: entry.key,
    heading: 'Data pipeline',
    state: entry.state,
    summary: `${formatNumber(rows)} rows out in ${formatNumber(entry.elapsed_s ?? 0)} s`,
    columns: ['operator', 'tasks', 'blocks', 'rows', 'rows/s'],
    stateColumn: null,
    compactColumns: [0, 3, 4],
    rows: ops.map(op => ({
      cells: [op.name, String(op.tasks), String(op.blocks), formatNumber(op.rows), formatNumber(op.rows_per_s)],
      state: entry.state,
      title: op.name
    }))
  };
}

/** The board as sections: Serve, then Tune experiments and Data pipelines, running ones first,
 * newest first. Unknown libraries and malformed entries are skipped (compatibility rule). */
export function librarySections(board: LibraryBoard | null | undefined): ILibrarySection[] {
  const out: ILibrarySection[] = [];
  for (const library of LIBRARY_ORDER) {
    const entries = Object.values(board?.[library] ?? {}).filter(
      e => e && typeof e === 'object' && typeof e.state === 'string'
    );
    entries.sort(
      (a, b) => Number(b.state === 'RUNNING') - Number(a.state === 'RUNNING') || (b.updated ?? 0) - (a.updated ?? 0)
    );
    for (const entry of entries) {
      out.push(library === 'serve' ? serveSections(entry) : library === 'tune' ? tuneSection(entry) : dataSection(entry));
    }
  }
  return out;
}

/** Draw the sections: at most maxRows rows per table (the rest is counted), and in compact
 * form (the side panel) only each section's compactColumns. */
export function renderLibraries(
  sections: ILibrarySection[],
  maxRows = PANEL_ROWS,
  compact = true
): HTMLElement {
  const blocks = sections.map(s => {
    const shown = s.rows.slice(0, maxRows);
    const columns = compact ? s.compactColumns : s.columns.map((_, i) => i);
    const more =
      s.rows.length > shown.length &&
      h('p', { class: 'rg-more' }, `… and ${s.rows.length - shown.length} more (Open: Cluster status lists them all)`);
    return h(
      'div',
      { class: 'rg-library', 'data-library': s.library, 'data-key': s.key },
      h(
        'div',
        { class: 'rg-library-head' },
        h('span', { class: 'rg-library-title', title: s.heading }, s.heading),
        h('span', { class: `rg-badge rg-lib-state-${s.state.toLowerCase()}` }, s.state)
      ),
      h('div', { class: 'rg-library-summary' }, s.summary),
      shown.length
        ? h(
            'table',
            { class: `rg-table rg-library-table${compact ? ' rg-mod-compact' : ''}` },
            h('thead', {}, h('tr', {}, ...columns.map(i => h('th', {}, s.columns[i])))),
            h(
              'tbody',
              {},
              ...shown.map(r =>
                h(
                  'tr',
                  { title: r.title, 'data-state': r.state },
                  ...columns.map(i =>
                    h(
                      'td',
                      i === s.stateColumn ? { class: `rg-lib-state-${r.state.toLowerCase()}`, title: r.cells[i] } : { title: r.cells[i] },
                      r.cells[i]
                    )
                  )
                )
              )
            )
          )
        : null,
      more
    );
  });
  return h('div', { class: 'rg-libraries', 'data-testid': 'rg-libraries' }, ...blocks);
}
