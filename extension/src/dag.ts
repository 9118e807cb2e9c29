/**
 * The task DAG as the panel draws it: pure functions, no DOM.
 *
 * Tasks arrive as rows (id, function name, state, the task ids whose results they consumed).
 * Up to `groupAbove` tasks, each task is a node; above it, tasks are grouped by function name
 * (one node per function, with per-state counts, edges weighted by how many task edges they
 * stand for), so a 10,000-task DAG stays readable and cheap to draw. Nodes are placed in
 * layers by longest path from the tasks that depend on nothing (Kahn's algorithm; cycles, which
 * only grouping can create, go to the last layer), top to bottom, wrapping wide layers.
 */

export type StateCategory =
  | 'pending'
  | 'waiting'
  | 'running'
  | 'finished'
  | 'failed';

/** Drawing order of the categories (stacked bars, legend). */
export const CATEGORIES: StateCategory[] = [
  'pending',
  'waiting',
  'running',
  'finished',
  'failed'
];

/** Legend text of each category. */
export const CATEGORY_LABELS: Record<StateCategory, string> = {
  pending: 'waiting for arguments',
  waiting: 'waiting for resources',
  running: 'running',
  finished: 'finished',
  failed: 'failed'
};

/** Ray's task states, as the learner sees them. */
export function stateCategory(state: string): StateCategory {
  switch (state) {
    case 'FINISHED':
      return 'finished';
    case 'FAILED':
      return 'failed';
    case 'RUNNING':
    case 'RUNNING_IN_RAY_GET':
    case 'RUNNING_IN_RAY_WAIT':
      return 'running';
    case 'PENDING_NODE_ASSIGNMENT':
    case 'SUBMITTED_TO_WORKER':
    case 'PENDING_ACTOR_TASK_ORDERING_OR_CONCURRENCY':
    case 'PENDING_ACTOR_TASK_ARGS_FETCH':
      return 'waiting';
    default:
      return 'pending';
  }
}

export interface ITaskRow {
  id: string;
  name: string;
  state: string;
  deps: string[];
}

export type ICounts = Record<StateCategory, number>;

export interface IDagNode {
  /** Task id, or `group:<function name>` when grouped. */
  id: string;
  label: string;
  /** How many tasks the node stands for (1 for a task). */
  size: number;
  counts: ICounts;
  /** The colour: the most pressing state among its tasks. */
  category: StateCategory;
  layer: number;
  x: number;
  y: number;
}

export interface IDagEdge {
  from: string;
  to: string;
  /** How many task-to-task edges this edge stands for. */
  count: number;
}

export interface IDag {
  nodes: IDagNode[];
  edges: IDagEdge[];
  grouped: boolean;
  totalTasks: number;
  counts: ICounts;
  width: number;
  height: number;
}

export interface IDagOptions {
  /** Group by function above this many tasks. */
  groupAbove?: number;
  /** Nodes per row before a layer wraps. */
  perRow?: number;
  /** Horizontal and vertical spacing, px. */
  dx?: number;
  dy?: number;
}

export const DEFAULT_GROUP_ABOVE = 150;

export function emptyCounts(): ICounts {
  return { pending: 0, waiting: 0, running: 0, finished: 0, failed: 0 };
}

/** Running first (what is happening now), then failures, then what waits, then done. */
const URGENCY: StateCategory[] = [
  'running',
  'failed',
  'waiting',
  'pending',
  'finished'
];

export function dominantCategory(counts: ICounts): StateCategory {
  for (const c of URGENCY) {
    if (counts[c] > 0) {
      return c;
    }
  }
  return 'pending';
}

export function buildDag(tasks: ITaskRow[], options: IDagOptions = {}): IDag {
  const groupAbove = options.groupAbove ?? DEFAULT_GROUP_ABOVE;
  const grouped = tasks.length > groupAbove;
  const counts = emptyCounts();
  const nodes = new Map<string, IDagNode>();
  const edges = new Map<string, IDagEdge>();
  const nodeOf = new Map<string, string>();

  for (const task of tasks) {
    const category = stateCategory(task.state);
    counts[category] += 1;
    const id = grouped ? `group:${task.name}` : task.id;
    nodeOf.set(task.id, id);
    let node = nodes.get(id);
    if (!node) {
      node = {
        id,
        label: task.name,
        size: 0,
        counts: emptyCounts(),
        category,
        layer: 0,
        x: 0,
        y: 0
      };
      nodes.set(id, node);
    }
    node.size += 1;
    node.counts[category] += 1;
  }
  for (const task of tasks) {
    const to = nodeOf.get(task.id)!;
    for (const dep of task.deps) {
      const from = nodeOf.get(dep);
      if (from === undefined) {
        continue; // its producer is not shown (older than the panel's window)
      }
      const key = `${from}\u0000${to}`;
      const edge = edges.get(key);
      if (edge) {
        edge.count += 1;
      } else {
        edges.set(key, { from, to, count: 1 });
      }
    }
  }
  for (const node of nodes.values()) {
    node.category = dominantCategory(node.counts);
    if (grouped) {
      node.label = `${node.label} ×${node.size}`;
    }
  }
  const nodeList = [...nodes.values()];
  const edgeList = [...edges.values()];
  assignLayers(nodeList, edgeList);
  const { width, height } = grouped
    ? placeGroups(nodeList, options)
    : place(nodeList, options);
  return {
    nodes: nodeList,
    edges: edgeList,
    grouped,
    totalTasks: tasks.length,
    counts,
    width,
    height
  };
}

/** Longest path from the sources (Kahn); nodes left in cycles go one layer below the rest. */
export function assignLayers(nodes: IDagNode[], edges: IDagEdge[]): void {
  const indegree = new Map<string, number>();
  const out = new Map<string, string[]>();
  const byId = new Map(nodes.map(n => [n.id, n]));
  for (const n of nodes) {
    indegree.set(n.id, 0);
    n.layer = 0;
  }
  for (const e of edges) {
    if (e.from === e.to) {
      continue; // a function feeding itself: not a layering constraint
    }
    indegree.set(e.to, (indegree.get(e.to) ?? 0) + 1);
    const list = out.get(e.from);
    if (list) {
      list.push(e.to);
    } else {
      out.set(e.from, [e.to]);
    }
  }
  const queue = nodes.filter(n => indegree.get(n.id) === 0).map(n => n.id);
  let done = 0;
  let maxLayer = 0;
  for (let head = 0; head < queue.length; head++) {
    const id = queue[head];
    const node = byId.get(id)!;
    done += 1;
    maxLayer = Math.max(maxLayer, node.layer);
    for (const next of out.get(id) ?? []) {
      const target = byId.get(next)!;
      target.layer = Math.max(target.layer, node.layer + 1);
      const left = indegree.get(next)! - 1;
      indegree.set(next, left);
      if (left === 0) {
        queue.push(next);
      }
    }
  }
  if (done < nodes.length) {
    for (const n of nodes) {
      if ((indegree.get(n.id) ?? 0) > 0) {
        n.layer = maxLayer + 1;
      }
    }
  }
}

/**
 * Groups carry a label, so each gets its own row (ordered by layer, then first submission),
 * indented by its layer so the edges between layers stay visible.
 */
function placeGroups(
  nodes: IDagNode[],
  options: IDagOptions
): { width: number; height: number } {
  const indent = options.dx ?? 24;
  const dy = options.dy ?? 28;
  const pad = 14;
  const order = nodes
    .map((n, i) => ({ n, i }))
    .sort((a, b) => a.n.layer - b.n.layer || a.i - b.i);
  let deepest = 0;
  order.forEach(({ n }, row) => {
    n.x = pad + n.layer * indent;
    n.y = pad + row * dy;
    deepest = Math.max(deepest, n.layer);
  });
  return {
    width: pad * 2 + deepest * indent,
    height: pad * 2 + Math.max(0, nodes.length - 1) * dy
  };
}

function place(
  nodes: IDagNode[],
  options: IDagOptions
): { width: number; height: number } {
  const perRow = Math.max(1, options.perRow ?? 12);
  const dx = options.dx ?? 24;
  const dy = options.dy ?? 28;
  const pad = 14;
  const layers = new Map<number, IDagNode[]>();
  for (const n of nodes) {
    const list = layers.get(n.layer);
    if (list) {
      list.push(n);
    } else {
      layers.set(n.layer, [n]);
    }
  }
  let row = 0;
  let widest = 0;
  for (const layer of [...layers.keys()].sort((a, b) => a - b)) {
    const members = layers.get(layer)!;
    members.forEach((n, i) => {
      n.x = pad + (i % perRow) * dx;
      n.y = pad + (row + Math.floor(i / perRow)) * dy;
      widest = Math.max(widest, Math.min(members.length, perRow));
    });
    row += Math.ceil(members.length / perRow);
  }
  return {
    width: pad * 2 + Math.max(0, widest - 1) * dx,
    height: pad * 2 + Math.max(0, row - 1) * dy
  };
}

export interface IFunctionSummary {
  name: string;
  total: number;
  counts: ICounts;
}

/** Tasks per function with per-state counts, most tasks first (ties: first submitted first). */
export function summariseFunctions(tasks: ITaskRow[]): IFunctionSummary[] {
  const byName = new Map<string, IFunctionSummary>();
  for (const task of tasks) {
    let entry = byName.get(task.name);
    if (!entry) {
      entry = { name: task.name, total: 0, counts: emptyCounts() };
      byName.set(task.name, entry);
    }
    entry.total += 1;
    entry.counts[stateCategory(task.state)] += 1;
  }
  // Array.prototype.sort is stable: equal totals keep submission order.
  return [...byName.values()].sort((a, b) => b.total - a.total);
}
