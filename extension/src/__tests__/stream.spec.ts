import { ITaskRow } from '../dag';
import { barWidth, buildStream, FUNCTION_PALETTE, scaleX, tickStep } from '../stream';

function run(
  id: string,
  name: string,
  pid: number,
  start: number,
  end: number | null,
  extra: Partial<ITaskRow> = {}
): ITaskRow {
  return {
    id,
    name,
    state: end === null ? 'RUNNING' : 'FINISHED',
    deps: [],
    pid,
    start_ms: start,
    end_ms: end,
    ...extra
  };
}

describe('buildStream', () => {
  const T = 1_700_000_000_000;
  const tasks = [
    run('a', 'load', 11, T, T + 100, { node: 'n2' }),
    run('b', 'load', 10, T + 5, T + 50, { node: 'n1' }),
    run('c', 'square', 10, T + 80, T + 81, { node: 'n1' }),
    run('d', 'square', 12, T + 90, null, { node: 'n1' }),
    run('e', 'merge', 11, T + 150, T + 200, {
      node: 'n2',
      blocked: [
        [T + 160, T + 190],
        [T + 195, null]
      ]
    }),
    { id: 'p', name: 'never_ran', state: 'PENDING_ARGS_AVAIL', deps: [] }
  ];
  const s = buildStream({ tasks, nowMs: T + 120, nodes: { n1: '10.0.0.1', n2: '10.0.0.2' } });

  it('makes one lane per worker, grouped by node in order of first use', () => {
    expect(s.lanes.map(l => l.key)).toEqual(['n2/11', 'n1/10', 'n1/12']);
    expect(s.lanes.map(l => l.nodeLabel)).toEqual(['10.0.0.2', '10.0.0.1', '10.0.0.1']);
    expect(s.bars.map(b => [b.id, b.lane])).toEqual([
      ['a', 0],
      ['b', 1],
      ['c', 1],
      ['d', 2],
      ['e', 0]
    ]);
  });

  it('colours by function, one colour each, in order of first run', () => {
    expect(s.functions.map(f => [f.name, f.color, f.count])).toEqual([
      ['load', FUNCTION_PALETTE[0], 2],
      ['square', FUNCTION_PALETTE[1], 2],
      ['merge', FUNCTION_PALETTE[2], 1]
    ]);
    expect(s.bars.find(b => b.id === 'c')!.color).toBe(FUNCTION_PALETTE[1]);
  });

  it('ends a running task now and spans the bars shown', () => {
    const d = s.bars.find(b => b.id === 'd')!;
    expect(d.running).toBe(true);
    expect(d.end).toBe(T + 120);
    expect([s.t0, s.t1]).toEqual([T, T + 200]);
  });

  it('clips blocked-in-get spans to the run and sums them per worker', () => {
    const e = s.bars.find(b => b.id === 'e')!;
    expect(e.blocked).toEqual([
      [T + 160, T + 190],
      [T + 195, T + 200]
    ]);
    expect(s.lanes[0].blockedMs).toBe(35);
  });

  it('measures busy and idle time and marks the idle gaps', () => {
    // worker 10: busy 5..50 and 80..81 in a 0..200 span
    expect(s.lanes[1].busyMs).toBe(46);
    expect(s.lanes[1].idleMs).toBe(200 - 46);
    expect(s.gaps.filter(g => g.lane === 1).map(g => [g.start - T, g.end - T])).toEqual([
      [0, 5],
      [50, 80],
      [81, 200]
    ]);
  });

  it('places a worker whose node is unknown on the only node there is', () => {
    const one = buildStream({
      tasks: [run('x', 'f', 99, T, T + 1)],
      nowMs: T + 1,
      nodes: { n1: '10.0.0.1 (head)' }
    });
    expect(one.lanes.map(l => [l.key, l.nodeLabel])).toEqual([['n1/99', '10.0.0.1 (head)']]);
  });

  it('is empty before anything ran', () => {
    const empty = buildStream({ tasks: [tasks[5]], nowMs: T });
    expect(empty.bars).toEqual([]);
    expect(empty.lanes).toEqual([]);
  });
});

describe('scaling', () => {
  it('scales to the span shown: a 1 ms task in a 10 ms run is a tenth of the width', () => {
    const T = 5000;
    const tasks = Array.from({ length: 10 }, (_, i) => run(`t${i}`, 'tiny', 7, T + i, T + i + 1));
    const s = buildStream({ tasks, nowMs: T + 10 });
    const x = scaleX(s.t0, s.t1, 800);
    for (const bar of s.bars) {
      expect(barWidth(bar, x)).toBeCloseTo(80);
    }
  });

  it('never draws a bar narrower than 2 px (a 1 ms task in a minute-long run)', () => {
    const s = buildStream({
      tasks: [run('long', 'slow', 1, 0, 60_000), run('short', 'tiny', 2, 30_000, 30_001)],
      nowMs: 60_000
    });
    const x = scaleX(s.t0, s.t1, 800);
    const short = s.bars.find(b => b.id === 'short')!;
    expect(x(short.end) - x(short.start)).toBeLessThan(0.1);
    expect(barWidth(short, x)).toBe(2);
  });

  it('picks 1-2-5 tick steps', () => {
    expect(tickStep(10)).toBe(2);
    expect(tickStep(1000)).toBe(200);
    expect(tickStep(60_000)).toBe(10_000);
    expect(tickStep(3)).toBe(0.5);
  });
});

describe('transfers between nodes', () => {
  const T = 1_700_000_000_000;
  const tasks = [
    run('make', 'make', 10, T, T + 10, { node: 'n1' }),
    run('small', 'make', 10, T, T + 10, { node: 'n1' }),
    // Two consumers on n2: the transfer shows at the first one's start.
    run('use1', 'use', 20, T + 20, T + 30, { node: 'n2', deps: ['make'] }),
    run('use2', 'use', 21, T + 25, T + 35, { node: 'n2', deps: ['make'] }),
    // A consumer on the node that made it: no transfer.
    run('local', 'use', 10, T + 40, T + 45, { node: 'n1', deps: ['make'] })
  ];
  const nodes = { n1: '10.0.0.1 (head)', n2: '10.0.0.2' };
  const copies = [
    { oid: 'make.0', task_id: 'make', size: 8 << 20, from: 'n1', to: 'n2' },
    // Copied to a node where no task took it (a driver's get there): nothing to draw.
    { oid: 'small.0', task_id: 'small', size: 200_000, from: 'n1', to: 'n2' }
  ];

  it("marks a copy on the receiving task's lane at its start", () => {
    const s = buildStream({ tasks, nowMs: T + 100, nodes, copies });
    expect(s.transfers).toHaveLength(1);
    const [tr] = s.transfers;
    expect(tr.at).toBe(T + 20);
    expect(s.bars[tr.bar].id).toBe('use1');
    expect(s.lanes[tr.lane].pid).toBe(20);
    expect([tr.fromLabel, tr.toLabel, tr.producer, tr.bytes]).toEqual([
      '10.0.0.1 (head)',
      '10.0.0.2',
      'make',
      8 << 20
    ]);
  });

  it('has none without copies', () => {
    expect(buildStream({ tasks, nowMs: T + 100, nodes }).transfers).toEqual([]);
  });
});
