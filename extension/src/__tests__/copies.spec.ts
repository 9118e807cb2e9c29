import { IObjectRow, IObjectTable } from '../api';
import { absorbCopies, ICopy } from '../stream';

function table(rows: Partial<IObjectRow>[]): IObjectTable {
  return {
    rows: rows.map(r => ({
      id: 'x',
      size: 0,
      where: 'shared_memory',
      spilled: false,
      status: 'READY',
      owner: null,
      task_id: null,
      refs: 1,
      pins: 0,
      holders: [],
      owner_name: '',
      held_by: [],
      created: null,
      node: null,
      copies: [],
      ...r
    })),
    count: rows.length,
    used: 0,
    capacity: null,
    spilled_bytes: 0
  };
}

describe('absorbCopies', () => {
  it('remembers task results copied to other nodes, after they are freed too', () => {
    const copies = new Map<string, ICopy>();
    absorbCopies(
      copies,
      table([
        { id: 't1.0', task_id: 't1', size: 5, node: 'n1', copies: ['n2', 'n3'] },
        { id: 'o9', task_id: null, size: 7, node: 'n1', copies: ['n2'] }, // a put: no producer
        { id: 't2.0', task_id: 't2', size: 3, node: 'n1', copies: [] }
      ])
    );
    absorbCopies(copies, table([])); // freed since
    expect([...copies.values()]).toEqual([
      { oid: 't1.0', task_id: 't1', size: 5, from: 'n1', to: 'n2' },
      { oid: 't1.0', task_id: 't1', size: 5, from: 'n1', to: 'n3' }
    ]);
  });
});
