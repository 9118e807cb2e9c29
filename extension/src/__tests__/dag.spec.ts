import {
  assignLayers,
  buildDag,
  dominantCategory,
  emptyCounts,
  IDagNode,
  ITaskRow,
  stateCategory,
  summariseFunctions
} from '../dag';

function task(id: string, name: string, state: string, deps: string[] = []): ITaskRow {
  return { id, name, state, deps };
}

describe('stateCategory', () => {
  it.each([
    ['PENDING_ARGS_AVAIL', 'pending'],
    ['PENDING_NODE_ASSIGNMENT', 'waiting'],
    ['SUBMITTED_TO_WORKER', 'waiting'],
    ['RUNNING', 'running'],
    ['FINISHED', 'finished'],
    ['FAILED', 'failed'],
    ['SOMETHING_NEW', 'pending']
  ])('%s is %s', (state, category) => {
    expect(stateCategory(state)).toBe(category);
  });
});

describe('buildDag: one node per task', () => {
  // a diamond: load -> (left, right) -> merge
  const tasks = [
    task('t1', 'load', 'FINISHED'),
    task('t2', 'left', 'RUNNING', ['t1']),
    task('t3', 'right', 'PENDING_NODE_ASSIGNMENT', ['t1']),
    task('t4', 'merge', 'PENDING_ARGS_AVAIL', ['t2', 't3'])
  ];
  const dag = buildDag(tasks);

  it('keeps every task and the edges between them', () => {
    expect(dag.grouped).toBe(false);
    expect(dag.nodes.map(n => n.id)).toEqual(['t1', 't2', 't3', 't4']);
    expect(dag.edges).toEqual([
      { from: 't1', to: 't2', count: 1 },
      { from: 't1', to: 't3', count: 1 },
      { from: 't2', to: 't4', count: 1 },
      { from: 't3', to: 't4', count: 1 }
    ]);
  });

  it('layers by longest path and colours by state', () => {
    const byId = Object.fromEntries(dag.nodes.map(n => [n.id, n]));
    expect([byId.t1.layer, byId.t2.layer, byId.t3.layer, byId.t4.layer]).toEqual([0, 1, 1, 2]);
    expect(byId.t2.category).toBe('running');
    expect(byId.t3.category).toBe('waiting');
    expect(byId.t4.category).toBe('pending');
    // a dependent is drawn below what it depends on
    expect(byId.t4.y).toBeGreaterThan(byId.t2.y);
    expect(byId.t2.y).toBeGreaterThan(byId.t1.y);
  });

  it('counts states', () => {
    expect(dag.counts).toEqual({ pending: 1, waiting: 1, running: 1, finished: 1, failed: 0 });
    expect(dag.totalTasks).toBe(4);
  });

  it('ignores dependencies on tasks it does not show', () => {
    const d = buildDag([task('t9', 'f', 'FINISHED', ['gone'])]);
    expect(d.edges).toEqual([]);
  });

  it('wraps a wide layer into rows', () => {
    const wide = Array.from({ length: 25 }, (_, i) => task(`w${i}`, 'f', 'FINISHED'));
    const d = buildDag(wide, { perRow: 10, dx: 20, dy: 30 });
    const ys = new Set(d.nodes.map(n => n.y));
    expect(ys.size).toBe(3);
    expect(Math.max(...d.nodes.map(n => n.x)) - Math.min(...d.nodes.map(n => n.x))).toBe(9 * 20);
    expect(d.height).toBeGreaterThanOrEqual(2 * 30);
  });
});

describe('buildDag: grouped by function when large', () => {
  // map-reduce with 10,000 map tasks feeding 100 reducers
  const tasks: ITaskRow[] = [];
  for (let i = 0; i < 10000; i++) {
    tasks.push(task(`m${i}`, 'map', i < 9000 ? 'FINISHED' : 'RUNNING'));
  }
  for (let r = 0; r < 100; r++) {
    const deps = Array.from({ length: 100 }, (_, k) => `m${r * 100 + k}`);
    tasks.push(task(`r${r}`, 'reduce', 'PENDING_ARGS_AVAIL', deps));
  }
  const started = Date.now();
  const dag = buildDag(tasks, { groupAbove: 150 });
  const elapsed = Date.now() - started;

  it('makes one node per function with per-state counts', () => {
    expect(dag.grouped).toBe(true);
    expect(dag.nodes).toHaveLength(2);
    const map = dag.nodes.find(n => n.id === 'group:map')!;
    const reduce = dag.nodes.find(n => n.id === 'group:reduce')!;
    expect(map.size).toBe(10000);
    expect(map.counts.finished).toBe(9000);
    expect(map.counts.running).toBe(1000);
    expect(map.category).toBe('running');
    expect(map.label).toBe('map ×10000');
    expect(reduce.counts.pending).toBe(100);
    expect(reduce.layer).toBe(1);
    expect(map.layer).toBe(0);
  });

  it('gives each group its own row, indented by layer, so labels never overlap', () => {
    const ys = dag.nodes.map(n => n.y);
    expect(new Set(ys).size).toBe(dag.nodes.length);
    const map = dag.nodes.find(n => n.id === 'group:map')!;
    const reduce = dag.nodes.find(n => n.id === 'group:reduce')!;
    expect(reduce.y).toBeGreaterThan(map.y);
    expect(reduce.x).toBeGreaterThan(map.x);
  });

  it('merges task edges into one weighted edge', () => {
    expect(dag.edges).toEqual([{ from: 'group:map', to: 'group:reduce', count: 10000 }]);
    expect(dag.totalTasks).toBe(10100);
  });

  it('is quick enough to redraw live', () => {
    expect(elapsed).toBeLessThan(500);
  });

  it('keeps one node per task at the threshold', () => {
    const small = tasks.slice(0, 150);
    expect(buildDag(small, { groupAbove: 150 }).grouped).toBe(false);
    expect(buildDag(tasks.slice(0, 151), { groupAbove: 150 }).grouped).toBe(true);
  });
});

describe('assignLayers', () => {
  function node(id: string): IDagNode {
    return { id, label: id, size: 1, counts: emptyCounts(), category: 'pending', layer: -1, x: 0, y: 0 };
  }

  it('puts nodes of a cycle (possible only between groups) after the rest', () => {
    const nodes = [node('a'), node('b'), node('c')];
    assignLayers(nodes, [
      { from: 'a', to: 'b', count: 1 },
      { from: 'b', to: 'c', count: 1 },
      { from: 'c', to: 'b', count: 1 }
    ]);
    expect(nodes.map(n => n.layer)).toEqual([0, 1, 1]);
  });

  it('ignores self-loops (a function consuming its own results)', () => {
    const nodes = [node('f')];
    assignLayers(nodes, [{ from: 'f', to: 'f', count: 5 }]);
    expect(nodes[0].layer).toBe(0);
  });
});

describe('dominantCategory', () => {
  it('prefers running, then failed, then waiting, then pending, then finished', () => {
    const c = emptyCounts();
    c.finished = 5;
    expect(dominantCategory(c)).toBe('finished');
    c.pending = 1;
    expect(dominantCategory(c)).toBe('pending');
    c.failed = 1;
    expect(dominantCategory(c)).toBe('failed');
    c.running = 1;
    expect(dominantCategory(c)).toBe('running');
  });
});

describe('summariseFunctions', () => {
  it('counts tasks per function and state, most tasks first', () => {
    const rows = [
      task('a', 'load', 'FINISHED'),
      task('b', 'combine', 'RUNNING'),
      task('c', 'load', 'FAILED'),
      task('d', 'load', 'RUNNING'),
      task('e', 'save', 'PENDING_ARGS_AVAIL'),
      task('f', 'combine', 'FINISHED')
    ];
    const summary = summariseFunctions(rows);
    expect(summary.map(s => [s.name, s.total])).toEqual([
      ['load', 3],
      ['combine', 2],
      ['save', 1]
    ]);
    expect(summary[0].counts).toEqual({ pending: 0, waiting: 0, running: 1, finished: 1, failed: 1 });
  });
});
