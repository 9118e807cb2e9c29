/**
 * DAG layout by dagre (@dagrejs/dagre, bundled: no CDN): layers by longest path, crossing
 * reduction by its median heuristic with transposition, coordinates by Brandes-Köpf. Pure (no
 * DOM): the panel, the main-area pane and the notebook widget all place nodes through this.
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
  const g = new dagre.graphlib.Graph({ multigraph: false });
  g.setGraph({
    rankdir: options.direction ?? 'LR',
    nodesep: options.nodesep ?? 10,
    ranksep: options.ranksep ?? (dag.grouped ? 60 : 36),
    marginx: 8,
    marginy: 8
  });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of dag.nodes) {
    g.setNode(n.id, nodeSize(n.label, dag.grouped));
  }
  for (const e of dag.edges) {
    if (e.from !== e.to) {
      // Heavier grouped edges pull their ends closer together.
      g.setEdge(e.from, e.to, { weight: Math.max(1, Math.round(Math.log2(e.count + 1))) });
    }
  }
  dagre.layout(g);
  const boxes = new Map<string, IBox>();
  for (const n of dag.nodes) {
    const placed = g.node(n.id) as any;
    boxes.set(n.id, { x: placed.x, y: placed.y, width: placed.width, height: placed.height });
  }
  const edges: IPlacedEdge[] = dag.edges
    .filter(e => e.from !== e.to)
    .map(e => ({ ...e, points: ((g.edge(e.from, e.to) as any)?.points ?? []).slice() }));
  const graph = g.graph() as any;
  return {
    boxes,
    edges,
    width: Math.max(0, graph.width ?? 0),
    height: Math.max(0, graph.height ?? 0)
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
