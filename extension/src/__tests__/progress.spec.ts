import { ILesson, IExerciseProgress, summariseCourse, summariseLesson } from '../progress';
import { fillRatio, formatBytes, formatResources, sumResources } from '../format';

function lesson(number: number, stem: string, exercises: string[]): ILesson {
  return { path: `notebooks/${stem}.ipynb`, stem, number, title: stem, exercises };
}

const solved = (updated = '2026-11-23T10:00:00Z'): IExerciseProgress => ({
  status: 'solved',
  attempts: 1,
  updated
});
const attempted = (updated = '2026-11-23T09:00:00Z'): IExerciseProgress => ({
  status: 'attempted',
  attempts: 2,
  updated
});

describe('summariseLesson', () => {
  const l = lesson(1, '01_tasks', ['01_tasks:square', '01_tasks:parallel', '01_tasks:wait']);

  it('counts solved and attempted exercises and names the next one', () => {
    const s = summariseLesson(l, {
      '01_tasks:square': solved(),
      '01_tasks:parallel': attempted()
    });
    expect(s).toMatchObject({
      total: 3,
      solved: 1,
      attempted: 1,
      state: 'in-progress',
      next: '01_tasks:parallel',
      lastUpdated: '2026-11-23T10:00:00Z'
    });
  });

  it('is not started with no progress, and done when all are solved', () => {
    expect(summariseLesson(l, {}).state).toBe('not-started');
    expect(summariseLesson(l, {}).next).toBe('01_tasks:square');
    const all = Object.fromEntries(l.exercises.map(id => [id, solved()]));
    const s = summariseLesson(l, all);
    expect(s.state).toBe('done');
    expect(s.next).toBeNull();
  });

  it('keeps recorded work for exercises the notebook no longer lists', () => {
    const s = summariseLesson(l, { '01_tasks:renamed': solved(), '02_other:x': solved() });
    expect(s.total).toBe(4);
    expect(s.solved).toBe(1);
  });

  it('calls a lesson without exercises a reading', () => {
    expect(summariseLesson(lesson(0, '00_intro', []), {}).state).toBe('reading');
  });
});

describe('summariseCourse', () => {
  const lessons = [
    lesson(2, '02_objects', ['02_objects:put']),
    lesson(0, '00_intro', []),
    lesson(1, '01_tasks', ['01_tasks:a', '01_tasks:b'])
  ];

  it('orders lessons and totals the course', () => {
    const c = summariseCourse(lessons, { '01_tasks:a': solved(), '02_objects:put': solved() });
    expect(c.lessons.map(s => s.lesson.stem)).toEqual(['00_intro', '01_tasks', '02_objects']);
    expect(c.solved).toBe(2);
    expect(c.total).toBe(3);
    expect(c.current).toBe('01_tasks');
  });

  it('points at the first lesson not done when none is in progress', () => {
    expect(summariseCourse(lessons, {}).current).toBe('01_tasks');
    const all = { '01_tasks:a': solved(), '01_tasks:b': solved(), '02_objects:put': solved() };
    expect(summariseCourse(lessons, all).current).toBeNull();
  });
});

describe('format', () => {
  it('formats bytes', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(8 * 1024 ** 3)).toBe('8.0 GiB');
    expect(formatBytes(undefined)).toBe('?');
  });

  it('shows CPU, GPU and custom resources in use, not node or memory entries', () => {
    const total = { CPU: 4, GPU: 0, memory: 1e9, 'node:127.0.0.1': 1, accel: 2 };
    const available = { CPU: 1, GPU: 0, memory: 1e9, 'node:127.0.0.1': 1, accel: 2 };
    expect(formatResources(total, available)).toBe('CPU 3/4 in use · accel 0/2 in use');
  });

  it('sums resources over the nodes of a cluster', () => {
    const { total, available } = sumResources([
      { resources_total: { CPU: 2, GPU: 1 }, resources_available: { CPU: 1, GPU: 1 } },
      { resources_total: { CPU: 4 }, resources_available: { CPU: 4 } }
    ]);
    expect(total).toEqual({ CPU: 6, GPU: 1 });
    expect(formatResources(total, available)).toBe('CPU 1/6 in use · GPU 0/1 in use');
  });

  it('clamps fill ratios', () => {
    expect(fillRatio(5, 10)).toBe(0.5);
    expect(fillRatio(50, 10)).toBe(1);
    expect(fillRatio(5, 0)).toBe(0);
  });
});
