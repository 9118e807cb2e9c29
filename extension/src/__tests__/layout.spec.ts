import { buildDag, ITaskRow } from '../dag';
import { IBox, layoutDag, overlaps } from '../layout';

function task(id: string, name: string, deps: string[] = []): ITaskRow {
  return { id, name, state: 'FINISHED', deps };
}

/** Crossings between edges that join the same two ranks (TB: ranks are rows, order is x). */
function crossings(edges: { from: string; to: string }[], boxes: Map<string, IBox>): number {
  let n = 0;
  for (let i = 0; i < edges.length; i++) {
    for (let j = i + 1; j < edges.length; j++) {
      const [a, b] = [edges[i], edges[j]];
      const [a1, a2, b1, b2] = [a.from, a.to, b.from, b.to].map(id => boxes.get(id)!);
      if (a1.y !== b1.y || a2.y !== b2.y) {
        continue;
      }
      if ((a1.x - b1.x) * (a2.x - b2.x) < 0) {
        n += 1;
      }
    }
  }
  return n;
}

describe('layoutDag (dagre)', () => {
  it('puts each task after what it consumed', () => {
    const dag = buildDag([
      task('a', 'load'),
      task('b', 'left', ['a']),
      task('c', 'right', ['a']),
      task('d', 'merge', ['b', 'c'])
    ]);
    const { boxes } = layoutDag(dag, { direction: 'LR' });
    const x = (id: string) => boxes.get(id)!.x;
    expect(x('b')).toBeGreaterThan(x('a'));
    expect(x('c')).toBeGreaterThan(x('a'));
    expect(x('d')).toBeGreaterThan(x('b'));
  });

  it('keeps creation order within a rank (the first task first)', () => {
    const tasks = [0, 1, 2, 3].map(i => task(`l${i}`, 'load'));
    tasks.push(task('c0', 'combine', ['l0', 'l1']), task('c1', 'combine', ['l2', 'l3']));
    tasks.push(task('top', 'combine', ['c0', 'c1']));
    for (const direction of ['LR', 'TB'] as const) {
      const { boxes } = layoutDag(buildDag(tasks), { direction });
      const across = (id: string) => (direction === 'LR' ? boxes.get(id)!.y : boxes.get(id)!.x);
      expect(['l0', 'l1', 'l2', 'l3'].map(across)).toEqual(
        ['l0', 'l1', 'l2', 'l3'].map(across).sort((a, b) => a - b)
      );
      expect(across('c0')).toBeLessThan(across('c1'));
    }
  });

  it('reduces crossings that submission order would draw', () => {
    // Submitted so that placing each layer in submission order crosses every edge pair:
    // x_i feeds y_(n-1-i).
    const n = 6;
    const tasks: ITaskRow[] = [];
    for (let i = 0; i < n; i++) {
      tasks.push(task(`x${i}`, 'produce'));
    }
    for (let i = 0; i < n; i++) {
      tasks.push(task(`y${i}`, 'consume', [`x${n - 1 - i}`]));
    }
    for (let i = 0; i + 1 < n; i++) {
      tasks.push(task(`z${i}`, 'finish', [`y${i}`, `y${i + 1}`]));
    }
    const dag = buildDag(tasks);
    const naive = new Map<string, IBox>();
    tasks.forEach((t, i) =>
      naive.set(t.id, { x: i % n, y: Math.floor(i / n), width: 0, height: 0 })
    );
    expect(crossings(dag.edges, naive)).toBeGreaterThan(10);
    const { boxes } = layoutDag(dag, { direction: 'TB' });
    expect(crossings(dag.edges, boxes)).toBe(0);
  });

  it('lays out a 200-task graph without overlapping nodes', () => {
    const tasks: ITaskRow[] = [];
    for (let i = 0; i < 100; i++) {
      tasks.push(task(`m${i}`, 'map'));
    }
    for (let i = 0; i < 50; i++) {
      tasks.push(task(`c${i}`, 'combine', [`m${2 * i}`, `m${2 * i + 1}`]));
    }
    for (let i = 0; i < 50; i++) {
      tasks.push(task(`s${i}`, 'summarise_partition', [`c${i}`, `c${(i * 7) % 50}`]));
    }
    const dag = buildDag(tasks);
    expect(dag.grouped).toBe(false);
    for (const direction of ['LR', 'TB'] as const) {
      const layout = layoutDag(dag, { direction });
      expect(layout.boxes.size).toBe(200);
      expect(overlaps(layout.boxes)).toEqual([]);
      for (const box of layout.boxes.values()) {
        expect(box.x - box.width / 2).toBeGreaterThanOrEqual(0);
        expect(box.x + box.width / 2).toBeLessThanOrEqual(layout.width);
      }
    }
  });

  it('gives a grouped graph label-sized boxes and skips self-loops', () => {
    const tasks: ITaskRow[] = [];
    for (let i = 0; i < 400; i++) {
      tasks.push(task(`f${i}`, 'fib', i > 1 ? [`f${i - 1}`, `f${i - 2}`] : []));
    }
    tasks.push(task('out', 'report', ['f399']));
    const dag = buildDag(tasks);
    expect(dag.grouped).toBe(true);
    const layout = layoutDag(dag);
    expect(layout.edges.map(e => [e.from, e.to])).toEqual([['group:fib', 'group:report']]);
    expect(layout.boxes.get('group:fib')!.width).toBeGreaterThanOrEqual(120);
  });

  it('lays independent tasks out as a grid in creation order, not one long column', () => {
    const tasks = Array.from({ length: 40 }, (_, i) => task(`t${i}`, 'tiny'));
    const layout = layoutDag(buildDag(tasks), { direction: 'LR' });
    expect(overlaps(layout.boxes)).toEqual([]);
    const ratio = layout.width / layout.height;
    expect(ratio).toBeGreaterThan(0.8);
    expect(ratio).toBeLessThan(4);
    const b = (i: number) => layout.boxes.get(`t${i}`)!;
    expect(b(1).x).toBeGreaterThan(b(0).x); // row by row
    expect(b(0).y).toBe(b(1).y);
  });

  it('packs unconnected parts side by side without overlaps, edges moved with them', () => {
    const tasks: ITaskRow[] = [];
    for (let c = 0; c < 12; c++) {
      tasks.push(task(`a${c}`, 'load'), task(`b${c}`, 'square', [`a${c}`]));
    }
    tasks.push(task('lonely', 'other'));
    const dag = buildDag(tasks);
    const layout = layoutDag(dag, { direction: 'LR' });
    expect(overlaps(layout.boxes)).toEqual([]);
    expect(layout.width / layout.height).toBeGreaterThan(0.8);
    expect(layout.edges.map(e => e.from)).toEqual(dag.edges.map(e => e.from));
    for (const e of layout.edges) {
      const from = layout.boxes.get(e.from)!;
      const to = layout.boxes.get(e.to)!;
      const [p, q] = [e.points[0], e.points[e.points.length - 1]];
      expect(Math.abs(p.y - from.y)).toBeLessThanOrEqual(from.height / 2 + 0.5);
      expect(Math.abs(q.x - (to.x - to.width / 2))).toBeLessThanOrEqual(1);
    }
    for (const box of layout.boxes.values()) {
      expect(box.x + box.width / 2).toBeLessThanOrEqual(layout.width);
      expect(box.y + box.height / 2).toBeLessThanOrEqual(layout.height);
    }
  });
});
