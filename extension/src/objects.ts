/**
 * The object store view's logic, pure (panes.ts draws it): sorting the table and the "why is
 * memory not going down?" note, shown when objects that something still references hold most
 * of the store.
 */
import { IObjectRow, IObjectTable } from './api';
import { formatBytes } from './format';

export type ObjectColumn = 'id' | 'size' | 'where' | 'owner' | 'held_by' | 'refs';

export const OBJECT_COLUMNS: { key: ObjectColumn; label: string; numeric?: boolean }[] = [
  { key: 'id', label: 'object' },
  { key: 'size', label: 'size', numeric: true },
  { key: 'where', label: 'where' },
  { key: 'owner', label: 'owner' },
  { key: 'held_by', label: 'kept alive by' },
  { key: 'refs', label: 'refs', numeric: true }
];

export function whereText(o: IObjectRow): string {
  if (o.spilled) {
    return 'spilled to disk';
  }
  return (o.where || '').replace('shared_memory', 'shared memory');
}

function cell(o: IObjectRow, key: ObjectColumn): string | number {
  switch (key) {
    case 'id':
      return o.id;
    case 'size':
      return o.size;
    case 'where':
      return whereText(o);
    case 'owner':
      return o.owner_name ?? o.owner ?? '';
    case 'held_by':
      return (o.held_by ?? []).join(', ');
    case 'refs':
      return o.refs;
  }
}

/** Sorted copy; ties keep the feed's order (largest first). */
export function sortObjects(rows: IObjectRow[], key: ObjectColumn, descending: boolean): IObjectRow[] {
  const sign = descending ? -1 : 1;
  return rows
    .map((o, i) => ({ o, i }))
    .sort((a, b) => {
      const x = cell(a.o, key);
      const y = cell(b.o, key);
      const c = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
      return c * sign || a.i - b.i;
    })
    .map(({ o }) => o);
}

/** Stored bytes (shared memory or spilled, not inline values) that something still holds. */
export function heldBytes(rows: IObjectRow[]): { bytes: number; count: number; byDriver: number } {
  let bytes = 0;
  let count = 0;
  let byDriver = 0;
  for (const o of rows) {
    if (o.where === 'inline' || !(o.held_by ?? []).length) {
      continue;
    }
    bytes += o.size;
    count += 1;
    if ((o.held_by ?? []).some(x => x.startsWith('a driver'))) {
      byDriver += o.size;
    }
  }
  return { bytes, count, byDriver };
}

/**
 * The note, or null: when referenced objects hold more than half of what the store uses,
 * explain that the store frees an object only when nothing refers to it any more.
 */
export function memoryNote(table: IObjectTable): string | null {
  const used = table.used + (table.spilled_bytes || 0);
  const held = heldBytes(table.rows);
  if (used <= 0 || held.bytes < used / 2) {
    return null;
  }
  return (
    `Why is memory not going down? ${held.count} object${held.count === 1 ? '' : 's'} ` +
    `(${formatBytes(held.bytes)}) are still referenced` +
    (held.byDriver ? `, ${formatBytes(held.byDriver)} of it by a driver` : '') +
    '. The store frees an object only when nothing refers to it: not an ObjectRef kept in a ' +
    'variable or a list of results, not a NumPy array returned by get (it reads the store ' +
    'without copying), not a pending task that takes it as an argument. `del` those ' +
    '(or let them go out of scope) and the memory comes back.'
  );
}
