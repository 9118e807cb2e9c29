import * as fs from 'fs';
import * as path from 'path';
import {
  buildDag,
  CATEGORIES,
  CATEGORY_COLORS,
  CATEGORY_LABELS,
  DEFAULT_GROUP_ABOVE,
  dominantCategory,
  emptyCounts,
  ITaskRow,
  stateCategory,
  summariseFunctions
} from '../dag';

// The one fixture the Python model (runtime/rayground/jupyter/dag.py) is checked against too.
const FIXTURE = JSON.parse(
  fs.readFileSync(
    path.resolve(__dirname, '../../../tests/lab/fixtures/dag_model.json'),
    'utf8'
  )
);

function task(id: string, name: string, state: string, deps: string[] = []): ITaskRow {
  return { id, name, state, deps };
}

describe('the shared DAG model fixture', () => {
  it('has the same categories, labels, colours and threshold', () => {
    expect(CATEGORIES).toEqual(FIXTURE.categories);
    expect(CATEGORY_LABELS).toEqual(FIXTURE.labels);
    expect(CATEGORY_COLORS).toEqual(FIXTURE.colors);
    expect(DEFAULT_GROUP_ABOVE).toBe(FIXTURE.group_above);
  });

  it.each(Object.entries(FIXTURE.states as Record<string, string>))(
    'state %s is %s',
    (state, category) => {
      expect(stateCategory(state)).toBe(category);
    }
  );

  it.each((FIXTURE.cases as any[]).map(c => [c.name, c]))('%s', (_name, c) => {
    const dag = buildDag(c.tasks, { groupAbove: c.group_above ?? FIXTURE.group_above });
    const got = {
      grouped: dag.grouped,
      parentEdges: dag.parentEdges,
      totalTasks: dag.totalTasks,
      counts: dag.counts,
      nodes: dag.nodes.map(n => ({
        id: n.id,
        name: n.name,
        label: n.label,
        size: n.size,
        category: n.category,
        counts: n.counts
      })),
      edges: dag.edges
    };
    expect(got).toEqual(c.expect);
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
  const dag = buildDag(tasks);

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
  });

  it('merges task edges into one weighted edge', () => {
    expect(dag.edges).toEqual([{ from: 'group:map', to: 'group:reduce', count: 10000 }]);
    expect(dag.totalTasks).toBe(10100);
  });

  it('keeps one node per task up to the threshold', () => {
    expect(buildDag(tasks.slice(0, 150), { groupAbove: 150 }).grouped).toBe(false);
    expect(buildDag(tasks.slice(0, 151), { groupAbove: 150 }).grouped).toBe(true);
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
