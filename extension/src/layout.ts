/**
 * DAG layout by dagre (@dagrejs/dagre, bundled: no CDN): layers by longest path, crossing
 * reduction by its median heuristic with transposition, coordinates by Brandes-Köpf. Each
 * connected part is laid out on its own and the parts are packed in rows (tasks that neither
 * feed nor consume another form a grid), so a run of many independent tasks is not one long
 * column. Pure (no DOM): the panel, the main-area pane and the notebook widget all place nodes
 * through this.
 */
import dagre from '@dagrejs/dagre';
import { IDag, IDagEdge } from './dag';

export interface IBox {
  /** Centre. */
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface IPlacedEdge extends IDagEdge {
  points: { x: number; y: number }[];
}

export interface ILayout {
  boxes: Map<string, IBox>;
  edges: IPlacedEdge[];
  width: number;
  height: number;
}

export interface ILayoutOptions {
  /** 'LR': time flows right (the panes); 'TB': down (the narrow side panel). */
  direction?: 'LR' | 'TB';
  nodesep?: number;
  ranksep?: number;
  /** Width / height the packing of unconnected parts aims at (the view's shape). */
  aspect?: number;
}

const CHAR_PX = 6.6; // an 11 px sans-serif label's average character width
export const TASK_HEIGHT = 22;
export const GROUP_HEIGHT = 38;

/** The box a node's label needs. */
export function nodeSize(label: string, grouped: boolean): { width: number; height: number } {
  const text = Math.ceil(label.length * CHAR_PX) + 16;
  return grouped
    ? { width: Math.max(120, text), height: GROUP_HEIGHT }
    : { width: Math.max(60, text), height: TASK_HEIGHT };
}

export function layoutDag(dag: IDag, options: ILayoutOptions = {}): ILayout {
  const direction = options.direction ?? 'LR';
  const aspect = options.aspect ?? (direction === 'LR' ? 1.6 : 0.9);
  const index = new Map(dag.nodes.map((n, i) => [n.id, i]));
  // Weakly connected components (union-find), each laid out by dagre on its own and then
  // packed in rows: dagre would stack unconnected tasks in one long column.
  const parent = dag.nodes.map((_, i) => i);
  const find = (i: number): number => {
    while (parent[i] !== i) {
      parent[i] = parent[parent[i]];
      i = parent[i];
    }
    return i;
  };
  for (const e of dag.edges) {
    const a = find(index.get(e.from)!);
    const b = find(index.get(e.to)!);
    if (a !== b) {
      parent[Math.max(a, b)] = Math.min(a, b);
    }
  }
  const members = new Map<number, number[]>();
  dag.nodes.forEach((_, i) => {
    const root = find(i);
    const list = members.get(root);
    if (list) {
      list.push(i);
    } else {
      members.set(root, [i]);
    }
  });
  const blocks: IBlock[] = [];
  const loose: number[] = [];
  for (const nodes of members.values()) {
    // In creation order (roots are the smallest index, Map keeps insertion order).
    if (nodes.length === 1 && !dag.edges.some(e => e.from === dag.nodes[nodes[0]].id)) {
      loose.push(nodes[0]);
    } else {
      blocks.push(layoutComponent(dag, nodes, options, direction));
    }
  }
  if (loose.length) {
    blocks.push(gridBlock(dag, loose, aspect));
  }
  return pack(blocks, aspect, dag.edges);
}

/** One laid-out part of the graph, in its own coordinates from (0, 0). */
interface IBlock {
  boxes: Map<string, IBox>;
  edges: IPlacedEdge[];
  width: number;
  height: number;
  first: number;
}

function layoutComponent(
  dag: IDag,
  nodes: number[],
  options: ILayoutOptions,
  direction: 'LR' | 'TB'
): IBlock {
  const g = new dagre.graphlib.Graph({ multigraph: false });
  g.setGraph({
    rankdir: direction,
    nodesep: options.nodesep ?? 10,
    ranksep: options.ranksep ?? (dag.grouped ? 60 : 36),
    marginx: 0,
    marginy: 0
  });
  g.setDefaultEdgeLabel(() => ({}));
  const ids = new Set<string>();
  for (const i of nodes) {
    const n = dag.nodes[i];
    ids.add(n.id);
    g.setNode(n.id, nodeSize(n.label, dag.grouped));
  }
  const edges = dag.edges.filter(e => e.from !== e.to && ids.has(e.from));
  for (const e of edges) {
    // Heavier grouped edges pull their ends closer together.
    g.setEdge(e.from, e.to, { weight: Math.max(1, Math.round(Math.log2(e.count + 1))) });
  }
  dagre.layout(g);
  const boxes = new Map<string, IBox>();
  for (const i of nodes) {
    const id = dag.nodes[i].id;
    const placed = g.node(id) as any;
    boxes.set(id, { x: placed.x, y: placed.y, width: placed.width, height: placed.height });
  }
  const graph = g.graph() as any;
  const width = Math.max(0, graph.width ?? 0);
  const height = Math.max(0, graph.height ?? 0);
  let placed = edges.map(e => ({
    ...e,
    points: ((g.edge(e.from, e.to) as any)?.points ?? []).slice() as { x: number; y: number }[]
  }));
  // dagre often orders a rank against creation order (load #4 before load #1): mirror the
  // part across the ranks when most same-rank pairs run backwards (crossings stay the same).
  const across = direction === 'LR' ? 'y' : 'x';
  const along = direction === 'LR' ? 'x' : 'y';
  let forward = 0;
  let backward = 0;
  for (let a = 0; a < nodes.length; a++) {
    for (let b = a + 1; b < nodes.length; b++) {
      const p = boxes.get(dag.nodes[nodes[a]].id)!;
      const q = boxes.get(dag.nodes[nodes[b]].id)!;
      if (p[along] === q[along] && p[across] !== q[across]) {
        // nodes[] is in creation order: a was created before b
        if (p[across] < q[across]) {
          forward += 1;
        } else {
          backward += 1;
        }
      }
    }
  }
  if (backward > forward) {
    const extent = across === 'x' ? width : height;
    for (const box of boxes.values()) {
      box[across] = extent - box[across];
    }
    placed = placed.map(e => ({
      ...e,
      points: e.points.map(pt => ({ ...pt, [across]: extent - pt[across] }))
    }));
  }
  return { boxes, edges: placed, width, height, first: nodes[0] };
}

/** Tasks that neither consume nor feed another: a grid, in creation order, about `aspect`. */
function gridBlock(dag: IDag, loose: number[], aspect: number): IBlock {
  const sizes = loose.map(i => nodeSize(dag.nodes[i].label, dag.grouped));
  const cellW = Math.max(...sizes.map(s => s.width)) + 10;
  const cellH = Math.max(...sizes.map(s => s.height)) + 10;
  const cols = Math.max(1, Math.min(loose.length, Math.round(Math.sqrt((loose.length * aspect * cellH) / cellW))));
  const rows = Math.ceil(loose.length / cols);
  const boxes = new Map<string, IBox>();
  loose.forEach((i, k) => {
    boxes.set(dag.nodes[i].id, {
      x: (k % cols) * cellW + cellW / 2,
      y: Math.floor(k / cols) * cellH + cellH / 2,
      ...sizes[k]
    });
  });
  return { boxes, edges: [], width: cols * cellW - 10, height: rows * cellH - 10, first: loose[0] };
}

/** Blocks in rows, in creation order, each row at most as wide as the aspect asks. */
function pack(blocks: IBlock[], aspect: number, allEdges: IDagEdge[]): ILayout {
  const GAP = 24;
  const MARGIN = 8;
  blocks.sort((a, b) => a.first - b.first);
  const area = blocks.reduce((sum, b) => sum + (b.width + GAP) * (b.height + GAP), 0);
  const rowWidth = Math.max(...blocks.map(b => b.width), Math.sqrt(area * aspect));
  const boxes = new Map<string, IBox>();
  const edges: IPlacedEdge[] = [];
  let x = 0;
  let y = 0;
  let rowHeight = 0;
  let width = 0;
  for (const b of blocks) {
    if (x > 0 && x + b.width > rowWidth) {
      x = 0;
      y += rowHeight + GAP;
      rowHeight = 0;
    }
    const dx = MARGIN + x;
    const dy = MARGIN + y;
    for (const [id, box] of b.boxes) {
      boxes.set(id, { ...box, x: box.x + dx, y: box.y + dy });
    }
    for (const e of b.edges) {
      edges.push({ ...e, points: e.points.map(p => ({ x: p.x + dx, y: p.y + dy })) });
    }
    x += b.width + GAP;
    width = Math.max(width, x - GAP);
    rowHeight = Math.max(rowHeight, b.height);
  }
  // Keep the model's edge order (tests and the DOM follow it).
  const order = new Map(allEdges.map((e, i) => [`${e.from}\u0000${e.to}`, i]));
  edges.sort((a, b) => order.get(`${a.from}\u0000${a.to}`)! - order.get(`${b.from}\u0000${b.to}`)!);
  return {
    boxes,
    edges,
    width: blocks.length ? width + 2 * MARGIN : 0,
    height: blocks.length ? y + rowHeight + 2 * MARGIN : 0
  };
}

/** Pairs of nodes whose boxes overlap (the tests' check; should always be empty). */
export function overlaps(boxes: Map<string, IBox>): [string, string][] {
  const list = [...boxes.entries()];
  const out: [string, string][] = [];
  for (let i = 0; i < list.length; i++) {
    for (let j = i + 1; j < list.length; j++) {
      const [a, p] = list[i];
      const [b, q] = list[j];
      if (
        Math.abs(p.x - q.x) * 2 < p.width + q.width &&
        Math.abs(p.y - q.y) * 2 < p.height + q.height
      ) {
        out.push([a, b]);
      }
    }
  }
  return out;
}
