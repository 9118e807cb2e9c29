import { deploymentHealth, formatNumber, LibraryBoard, librarySections } from '../libraries';

// The shape the status board has (runtime/rayground/util/library_status.py and each library's
// status_board.py); tests/lab/test_libraries.py checks the Python side produces it.
const board: LibraryBoard = {
  serve: {
    serve: {
      key: 'serve',
      title: 'Serve',
      state: 'RUNNING',
      updated: 10,
      applications: [
        {
          name: 'echo',
          status: 'RUNNING',
          route: '/echo',
          message: '',
          deployments: [
            {
              name: 'Echo',
              status: 'HEALTHY',
              message: '',
              target: 2,
              replicas: { RUNNING: 2 },
              requests_per_s: 12.5,
              ongoing: 1,
              queued: 3
            },
            {
              name: 'Model',
              status: 'HEALTHY',
              message: '',
              target: 2,
              replicas: { RUNNING: 1, STARTING: 1 },
              requests_per_s: 0,
              ongoing: 0,
              queued: 0
            }
          ]
        }
      ]
    }
  },
  tune: {
    old: {
      key: 'old',
      title: 'old_exp',
      state: 'FINISHED',
      updated: 5,
      metric: 'loss',
      mode: 'min',
      counts: { TERMINATED: 1 },
      best: { trial: 't0', value: 0.5, config: 'lr=0.1' },
      trials: [{ trial: 't0', status: 'TERMINATED', config: 'lr=0.1', iter: 3, last: 0.5, best: 0.5, why: 'finished' }]
    },
    now: {
      key: 'now',
      title: 'asha_exp',
      state: 'RUNNING',
      updated: 4,
      metric: 'loss',
      mode: 'min',
      counts: { RUNNING: 1, TERMINATED: 2 },
      best: { trial: 't2', value: 0.25, config: 'lr=0.01' },
      trials: [
        { trial: 't1', status: 'TERMINATED', config: 'lr=1', iter: 5, last: 0.9, best: 0.9, why: 'stopped by ASHA at rung 5' },
        { trial: 't2', status: 'TERMINATED', config: 'lr=0.01', iter: 20, last: 0.25, best: 0.25, why: 'finished' },
        { trial: 't3', status: 'RUNNING', config: 'lr=0.1', iter: 7, last: 0.6, best: 0.6, why: '' }
      ]
    }
  },
  data: {
    p1: {
      key: 'p1',
      title: 'ReadRange->Filter(f)',
      state: 'RUNNING',
      updated: 9,
      elapsed_s: 1.5,
      operators: [{ name: 'ReadRange->Filter(f)', tasks: 3, blocks: 2, rows: 1234, rows_per_s: 822.7 }]
    }
  }
};

describe('librarySections', () => {
  const sections = librarySections(board);

  it('orders Serve, then running experiments and pipelines before finished ones', () => {
    expect(sections.map(s => `${s.library}:${s.key}`)).toEqual(['serve:serve', 'tune:now', 'tune:old', 'data:p1']);
  });

  it('shows each deployment with its health, replicas and load', () => {
    const serve = sections[0];
    expect(serve.summary).toBe('1 application, 2 deployments, 4 replicas · 12.5 req/s');
    expect(serve.rows.map(r => r.cells)).toEqual([
      ['echo/Echo', 'HEALTHY', '2 running', '12.5', '1/3'],
      ['echo/Model', 'UPDATING', '1 running, 1 starting', '0', '0/0']
    ]);
    expect(serve.rows[0].title).toBe('route /echo');
  });

  it('shows trials, running first then best first, with why a trial stopped on hover', () => {
    const tune = sections[1];
    expect(tune.heading).toBe('Tune: asha_exp');
    expect(tune.summary).toBe('3 trials (1 running, 2 terminated) · best loss 0.25 (lr=0.01)');
    expect(tune.rows.map(r => r.cells[0])).toEqual(['t3', 't2', 't1']);
    expect(tune.rows[2].title).toBe('stopped by ASHA at rung 5');
    expect(tune.columns[3]).toBe('best loss');
    // The narrow side panel shows trial, status and best metric.
    expect(tune.compactColumns.map(i => tune.columns[i])).toEqual(['trial', 'status', 'best loss']);
  });

  it('ranks by the highest metric when mode is max', () => {
    const max: LibraryBoard = {
      tune: { e: { ...board.tune.now, mode: 'max', trials: board.tune.now.trials!.filter(t => t.status !== 'RUNNING') } }
    };
    expect(librarySections(max)[0].rows.map(r => r.cells[0])).toEqual(['t1', 't2']);
  });

  it("shows a pipeline's operators and rows out", () => {
    const data = sections[3];
    expect(data.summary).toBe('1,234 rows out in 1.5 s');
    expect(data.rows[0].cells).toEqual(['ReadRange->Filter(f)', '3', '2', '1,234', '822.7']);
    expect(data.stateColumn).toBeNull();
  });

  it('is empty for no board, and skips unknown libraries and malformed entries', () => {
    expect(librarySections(undefined)).toEqual([]);
    expect(librarySections({})).toEqual([]);
    const odd = { train: { x: { key: 'x', title: 'x', state: 'RUNNING', updated: 1 } }, data: { y: {} } } as any;
    expect(librarySections(odd)).toEqual([]);
  });
});

describe('formatting', () => {
  it('formats metrics and counts for a narrow panel', () => {
    expect(formatNumber(null)).toBe('–');
    expect(formatNumber(1234567)).toBe('1,234,567');
    expect(formatNumber(0.123456)).toBe('0.1235');
    expect(formatNumber(2.5)).toBe('2.5');
    expect(formatNumber(12345.6)).toBe('12,346');
  });

  it('calls a healthy deployment short of its replicas UPDATING', () => {
    const d = board.serve.serve.applications![0].deployments[1];
    expect(deploymentHealth(d)).toBe('UPDATING');
    expect(deploymentHealth({ ...d, replicas: { RUNNING: 2 } })).toBe('HEALTHY');
  });
});
