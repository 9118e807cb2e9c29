/**
 * The task DAG model: pure functions, no DOM. The one model the panel, the main-area pane and
 * the notebook widget draw (runtime/rayground/jupyter/dag.py builds the same model in Python;
 * both are checked against tests/lab/fixtures/dag_model.json).
 *
 * Tasks arrive in creation order as compact rows (id, function name, state, the ids of the
 * tasks whose results they consumed). Up to `groupAbove` tasks, each task is a node; above it,
 * tasks are grouped by function name (one node per function, with per-state counts, edges
 * weighted by how many task edges they stand for), so a 10,000-task DAG stays readable and
 * cheap to draw. Where no task names its data dependencies (real Ray records none), edges are
 * submissions: parent task to child. Layout is layout.ts's job.
 */
import type { ITaskRow } from './taskrow';

export type StateCategory = 'pending' | 'waiting' | 'running' | 'finished' | 'failed';

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

/** Fill colour of each category: mid tones that read on light and dark themes alike. */
export const CATEGORY_COLORS: Record<StateCategory, string> = {
  pending: '#9aa3b0',
  waiting: '#e8a317',
  running: '#2a7ae2',
  finished: '#3aa35c',
  failed: '#d9463e'
};

/** Group by function above this many tasks (a pane shows 300 nodes legibly; dagre lays them
 * out in well under a frame's budget of a second). */
export const DEFAULT_GROUP_ABOVE = 300;

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
      return 'waiting';
    default:
      return 'pending';
  }
}

/** A task as the feed sends it: generated from runtime/rayground/jupyter/dag.py `Task`. */
export type { ITaskRow };

export type ICounts = Record<StateCategory, number>;

export interface IDagNode {
  /** Task id, or `group:<function name>` when grouped. */
  id: string;
  /** The function's name. */
  name: string;
  /** `name #k` (the k-th task of that function) or, grouped, `name ×size`. */
  label: string;
  /** How many tasks the node stands for (1 for a task). */
  size: number;
  counts: ICounts;
  /** The colour: the most pressing state among its tasks. */
  category: StateCategory;
  /** The task itself, for its details (one node per task only). */
  task?: ITaskRow;
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
  /** True when edges are submissions (parent -> child), not data. */
  parentEdges: boolean;
  totalTasks: number;
  counts: ICounts;
}

export interface IDagOptions {
  /** Group by function above this many tasks. */
  groupAbove?: number;
}

export function emptyCounts(): ICounts {
  return { pending: 0, waiting: 0, running: 0, finished: 0, failed: 0 };
}

/** Running first (what is happening now), then failures, then what waits, then done. */
const URGENCY: StateCategory[] = ['running', 'failed', 'waiting', 'pending', 'finished'];

export function dominantCategory(counts: ICounts): StateCategory {
  for (const c of URGENCY) {
    if (counts[c] > 0) {
      return c;
    }
  }
  return 'pending';
}

export function buildDag(allTasks: ITaskRow[], options: IDagOptions = {}): IDag {
  // Actor creation tasks are not drawn (their calls are).
  const tasks = allTasks.filter(t => t.type !== 'ACTOR_CREATION_TASK');
  const groupAbove = options.groupAbove ?? DEFAULT_GROUP_ABOVE;
  const grouped = tasks.length > groupAbove;
  const counts = emptyCounts();
  const nodes = new Map<string, IDagNode>();
  const nodeOf = new Map<string, string>();
  const seen = new Map<string, number>();

  for (const task of tasks) {
    const category = stateCategory(task.state);
    counts[category] += 1;
    const id = grouped ? `group:${task.name}` : task.id;
    nodeOf.set(task.id, id);
    let node = nodes.get(id);
    if (!node) {
      const k = (seen.get(task.name) ?? 0) + 1;
      seen.set(task.name, k);
      node = {
        id,
        name: task.name,
        label: grouped ? task.name : `${task.name} #${k}`,
        size: 0,
        counts: emptyCounts(),
        category
      };
      if (!grouped) {
        node.task = task;
      }
      nodes.set(id, node);
    }
    node.size += 1;
    node.counts[category] += 1;
  }
  const parentEdges = !tasks.some(t => t.deps && t.deps.length > 0);
  const edges = new Map<string, IDagEdge>();
  for (const task of tasks) {
    const to = nodeOf.get(task.id)!;
    const sources = parentEdges ? (task.parent ? [task.parent] : []) : task.deps;
    for (const dep of sources) {
      const from = nodeOf.get(dep);
      if (from === undefined) {
        continue; // its producer is not shown (older than the window, or the driver)
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
      node.label = `${node.name} ×${node.size}`;
    }
  }
  return {
    nodes: [...nodes.values()],
    edges: [...edges.values()],
    grouped,
    parentEdges: parentEdges && edges.size > 0,
    totalTasks: tasks.length,
    counts
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
    if (task.type === 'ACTOR_CREATION_TASK') {
      continue;
    }
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
