import { IObjectRow, IObjectTable } from '../api';
import { memoryNote, sortObjects } from '../objects';

function obj(id: string, size: number, extra: Partial<IObjectRow> = {}): IObjectRow {
  return {
    id,
    size,
    where: 'shared_memory',
    spilled: false,
    status: 'READY',
    owner: 'c1',
    task_id: null,
    refs: 1,
    pins: 0,
    holders: ['c1'],
    owner_name: 'a driver (notebook or script)',
    held_by: ['a driver (notebook or script)'],
    created: null,
    node: null,
    copies: [],
    ...extra
  };
}

describe('sortObjects', () => {
  const rows = [
    obj('b', 10, { refs: 3 }),
    obj('a', 300, { spilled: true }),
    obj('c', 20, { owner_name: 'worker pid 7', refs: 2 })
  ];
  it('sorts by size, either way', () => {
    expect(sortObjects(rows, 'size', true).map(o => o.id)).toEqual(['a', 'c', 'b']);
    expect(sortObjects(rows, 'size', false).map(o => o.id)).toEqual(['b', 'c', 'a']);
  });
  it('sorts text columns by their words', () => {
    expect(sortObjects(rows, 'where', false).map(o => o.id)).toEqual(['b', 'c', 'a']);
    expect(sortObjects(rows, 'owner', true).map(o => o.id)).toEqual(['c', 'b', 'a']);
    expect(sortObjects(rows, 'refs', true).map(o => o.id)).toEqual(['b', 'c', 'a']);
  });
});

describe('memoryNote', () => {
  const table = (rows: IObjectRow[], used: number): IObjectTable => ({
    rows,
    count: rows.length,
    used,
    capacity: 1000,
    spilled_bytes: 0
  });
  it('explains when referenced objects hold most of the store', () => {
    const note = memoryNote(table([obj('big', 800), obj('small', 50, { held_by: [] })], 850));
    expect(note).toMatch(/^Why is memory not going down\? 1 object \(800 B\) are still referenced, 800 B of it by a driver\./);
    expect(note).toContain('NumPy array returned by get');
  });
  it('says nothing when most of the store is being freed or inline', () => {
    expect(memoryNote(table([obj('big', 800, { held_by: [] }), obj('x', 100)], 900))).toBeNull();
    expect(memoryNote(table([obj('i', 800, { where: 'inline' })], 800))).toBeNull();
    expect(memoryNote(table([], 0))).toBeNull();
  });
});
