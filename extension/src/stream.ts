/**
 * The task stream model: pure functions, no DOM (streamview.ts draws it). One lane per worker,
 * lanes grouped by node; one bar per task run, coloured by function; the time each task spent
 * blocked in `get`/`wait` inside it; the idle gaps between a worker's tasks; the objects a task
 * pulled from another node before it ran (transfers between nodes). The panel, the
 * main-area pane and the notebook widget (%ray_timeline) all build it from the same input: the
 * compact task rows (dag.ts ITaskRow) plus which node each worker is on.
 */
import type { IObjectTable } from './api';
import { ITaskRow } from './dag';

/** Categorical colours for functions, distinct on light and dark backgrounds. */
export const FUNCTION_PALETTE = [
  '#4e79a7',
  '#f28e2b',
  '#59a14f',
  '#b07aa1',
  '#76b7b2',
  '#edc948',
  '#ff9da7',
  '#9c755f',
  '#e15759',
  '#8cd17d',
  '#499894',
  '#d37295'
];

export interface IStreamInput {
  tasks: ITaskRow[];
  /** Worker pid -> node id (tasks name their pid; where the feed knows it, also their node). */
  workers?: Record<string, string>;
  /** Node id -> what to call it (its IP, "head"). */
  nodes?: Record<string, string>;
  /** "Now" in ms since the epoch: where running tasks' bars end. */
  nowMs: number;
  /** Task id -> bytes of its results in the store (where known), for the details. */
  results?: Record<string, number>;
  /** Task results copied to another node (from the object table; see ICopy). */
  copies?: ICopy[];
}

/** A task's result that was copied from the node that wrote it to another node. */
export interface ICopy {
  oid: string;
  /** The task that made it. */
  task_id: string;
  size: number;
  /** The node that wrote it, and the one that pulled a copy. */
  from: string;
  to: string;
}

/** A copy drawn in the stream: on the lane of the first task on the receiving node that took
 * the object as an argument, at that task's start (it pulls its arguments before running). */
export interface ITransfer {
  lane: number;
  at: number;
  bytes: number;
  fromLabel: string;
  toLabel: string;
  /** The producing task's name, and the receiving task's bar index. */
  producer: string;
  bar: number;
}

export interface ILane {
  /** `<node>/<pid>` */
  key: string;
  node: string;
  nodeLabel: string;
  pid: number;
  /** Time running tasks, ms (within the stream's span). */
  busyMs: number;
  blockedMs: number;
  idleMs: number;
}

export interface IBar {
  id: string;
  name: string;
  lane: number;
  start: number;
  end: number;
  state: string;
  running: boolean;
  failed: boolean;
  color: string;
  /** Spans blocked in get/wait inside this task, clipped to the bar. */
  blocked: [number, number][];
  task: ITaskRow;
}

export interface IGap {
  lane: number;
  start: number;
  end: number;
}

export interface IFunctionKey {
  name: string;
  color: string;
  count: number;
  totalMs: number;
}

export interface IStream {
  lanes: ILane[];
  bars: IBar[];
  gaps: IGap[];
  functions: IFunctionKey[];
  transfers: ITransfer[];
  /** The span of the bars, ms since the epoch. */
  t0: number;
  t1: number;
}

/** Idle gaps shorter than this fraction of the span are not marked (noise). */
export const MIN_GAP_FRACTION = 0.02;

export function buildStream(input: IStreamInput): IStream {
  const colors = new Map<string, IFunctionKey>();
  const laneOf = new Map<string, number>();
  const lanes: ILane[] = [];
  const bars: IBar[] = [];
  // A worker that exited before its node was read: on a one-node cluster, still that node.
  const nodeIds = Object.keys(input.nodes ?? {});
  const only = nodeIds.length === 1 ? nodeIds[0] : '';
  const nodeOf = (t: ITaskRow) => t.node ?? input.workers?.[String(t.pid)] ?? only;
  const ran = input.tasks
    .filter(t => t.type !== 'ACTOR_CREATION_TASK' && t.start_ms != null && t.pid != null)
    .sort((a, b) => a.start_ms! - b.start_ms!);
  for (const t of ran) {
    const key = `${nodeOf(t)}/${t.pid}`;
    if (!laneOf.has(key)) {
      laneOf.set(key, -1);
    }
    let fn = colors.get(t.name);
    if (!fn) {
      fn = {
        name: t.name,
        color: FUNCTION_PALETTE[colors.size % FUNCTION_PALETTE.length],
        count: 0,
        totalMs: 0
      };
      colors.set(t.name, fn);
    }
    const running = t.end_ms === null || t.end_ms === undefined;
    const start = t.start_ms!;
    const end = Math.max(start, running ? input.nowMs : t.end_ms!);
    fn.count += 1;
    fn.totalMs += end - start;
    const blocked: [number, number][] = [];
    for (const [b0, b1] of t.blocked ?? []) {
      const s = Math.max(start, b0);
      const e = Math.min(end, b1 ?? end);
      if (e > s) {
        blocked.push([s, e]);
      }
    }
    bars.push({
      id: t.id,
      name: t.name,
      lane: -1,
      start,
      end,
      state: t.state,
      running,
      failed: t.state === 'FAILED',
      color: fn.color,
      blocked,
      task: t
    });
  }
  // Lanes: grouped by node (in order of first use), workers by pid within a node.
  const keys = [...laneOf.keys()];
  const nodeOrder = [...new Set(keys.map(k => k.split('/')[0]))];
  keys.sort((a, b) => {
    const [na, pa] = a.split('/');
    const [nb, pb] = b.split('/');
    return nodeOrder.indexOf(na) - nodeOrder.indexOf(nb) || Number(pa) - Number(pb);
  });
  keys.forEach((key, i) => {
    laneOf.set(key, i);
    const [node, pid] = key.split('/');
    lanes.push({
      key,
      node,
      nodeLabel: input.nodes?.[node] ?? (node ? node.slice(0, 12) : 'this machine'),
      pid: Number(pid),
      busyMs: 0,
      blockedMs: 0,
      idleMs: 0
    });
  });
  let t0 = Infinity;
  let t1 = -Infinity;
  for (const bar of bars) {
    const t = bar.task;
    bar.lane = laneOf.get(`${nodeOf(t)}/${t.pid}`)!;
    t0 = Math.min(t0, bar.start);
    t1 = Math.max(t1, bar.end);
  }
  if (!bars.length) {
    t0 = t1 = input.nowMs;
  }
  // Busy, blocked and idle time per lane; gaps between a lane's runs (actor calls may overlap
  // on a threaded actor: merge overlapping runs first).
  const gaps: IGap[] = [];
  const span = Math.max(1, t1 - t0);
  lanes.forEach((lane, i) => {
    const mine = bars.filter(b => b.lane === i);
    let cursor = t0;
    for (const b of mine) {
      if (b.start > cursor) {
        lane.idleMs += b.start - cursor;
        if (b.start - cursor >= span * MIN_GAP_FRACTION) {
          gaps.push({ lane: i, start: cursor, end: b.start });
        }
      }
      lane.busyMs += Math.max(0, b.end - Math.max(cursor, b.start));
      lane.blockedMs += b.blocked.reduce((sum, [s, e]) => sum + (e - s), 0);
      cursor = Math.max(cursor, b.end);
    }
    if (t1 > cursor) {
      lane.idleMs += t1 - cursor;
      if (t1 - cursor >= span * MIN_GAP_FRACTION) {
        gaps.push({ lane: i, start: cursor, end: t1 });
      }
    }
  });
  const transfers = findTransfers(input, bars, lanes, nodeOf);
  return { lanes, bars, gaps, functions: [...colors.values()], transfers, t0, t1 };
}

function findTransfers(
  input: IStreamInput,
  bars: IBar[],
  lanes: ILane[],
  nodeOf: (t: ITaskRow) => string
): ITransfer[] {
  if (!input.copies?.length) {
    return [];
  }
  // Producer task id -> the bars of tasks that took its result as an argument, by start.
  const consumers = new Map<string, number[]>();
  bars.forEach((bar, i) => {
    for (const dep of bar.task.deps) {
      const list = consumers.get(dep) ?? [];
      list.push(i);
      consumers.set(dep, list);
    }
  });
  const names = new Map(input.tasks.map(t => [t.id, t.name]));
  const label = (node: string) => input.nodes?.[node] ?? node.slice(0, 12);
  const out: ITransfer[] = [];
  for (const copy of input.copies) {
    // A copy no task on that node consumed was pulled by a driver or an actor's call outside
    // the stream's tasks (a `get`): it has no lane to be drawn on.
    const first = (consumers.get(copy.task_id) ?? []).find(i => nodeOf(bars[i].task) === copy.to);
    if (first === undefined) {
      continue;
    }
    out.push({
      lane: bars[first].lane,
      at: bars[first].start,
      bytes: copy.size,
      fromLabel: label(copy.from),
      toLabel: lanes[bars[first].lane]?.nodeLabel ?? label(copy.to),
      producer: names.get(copy.task_id) ?? copy.task_id,
      bar: first
    });
  }
  return out.sort((a, b) => a.at - b.at);
}

/** Time -> x for the window [from, to] drawn `width` px wide. */
export function scaleX(from: number, to: number, width: number): (t: number) => number {
  const k = width / Math.max(to - from, 1e-6);
  return t => (t - from) * k;
}

/** The bar's drawn width: at least `minPx`, so a 1 ms task in a long run still shows. */
export function barWidth(bar: IBar, x: (t: number) => number, minPx = 2): number {
  return Math.max(minPx, x(bar.end) - x(bar.start));
}

/** "Nice" tick spacing (1, 2, 5 × 10^k ms) for about `count` ticks over `spanMs`. */
export function tickStep(spanMs: number, count = 6): number {
  const raw = Math.max(spanMs, 1e-3) / count;
  const p = Math.pow(10, Math.floor(Math.log10(raw)));
  for (const m of [1, 2, 5, 10]) {
    if (raw <= m * p) {
      return m * p;
    }
  }
  return 10 * p;
}

/** At most this many copies are remembered per cluster (the oldest go first). */
const MAX_COPIES = 5000;

/** Remember the copies to other nodes that an object table shows. */
export function absorbCopies(copies: Map<string, ICopy>, objects: IObjectTable | null): void {
  for (const o of objects?.rows ?? []) {
    if (!o.task_id || !o.node) {
      continue;
    }
    for (const to of o.copies ?? []) {
      const key = `${o.id}>${to}`;
      if (!copies.has(key)) {
        copies.set(key, { oid: o.id, task_id: o.task_id, size: o.size, from: o.node, to });
      }
    }
  }
  while (copies.size > MAX_COPIES) {
    copies.delete(copies.keys().next().value as string);
  }
}
