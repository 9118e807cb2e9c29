/** Small text formatters shared by the panel's views. */

export function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !isFinite(n)) {
    return '?';
  }
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const digits = unit === 0 || value >= 100 ? 0 : 1;
  return `${value.toFixed(digits)} ${units[unit]}`;
}

/** Resources a learner cares about: CPU, GPU and custom ones (not node:* or memory). */
export function formatResources(
  total: Record<string, number>,
  available?: Record<string, number>
): string {
  const parts: string[] = [];
  const keys = Object.keys(total)
    .filter(
      k =>
        !k.startsWith('node:') && k !== 'memory' && k !== 'object_store_memory'
    )
    .sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  for (const key of keys) {
    const t = total[key];
    if (key !== 'CPU' && !t) {
      continue;
    }
    const used = available ? t - (available[key] ?? 0) : null;
    parts.push(
      used === null
        ? `${key} ${num(t)}`
        : `${key} ${num(Math.max(0, used))}/${num(t)} in use`
    );
  }
  return parts.join(' · ');
}

function rank(key: string): number {
  return key === 'CPU' ? 0 : key === 'GPU' ? 1 : 2;
}

function num(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toFixed(2);
}

export function shortId(id: string, keep = 10): string {
  return id.length <= keep ? id : `${id.slice(0, keep)}…`;
}

/** Ratio in [0, 1] for fill bars (0 when the capacity is unknown). */
export function fillRatio(used: number, capacity: number | null | undefined): number {
  if (!capacity || capacity <= 0) {
    return 0;
  }
  return Math.max(0, Math.min(1, used / capacity));
}

/** Resources summed over a cluster's nodes (total and available), for the cluster list. */
export function sumResources(
  nodes: {
    resources_total: Record<string, number>;
    resources_available: Record<string, number>;
  }[]
): { total: Record<string, number>; available: Record<string, number> } {
  const total: Record<string, number> = {};
  const available: Record<string, number> = {};
  for (const node of nodes) {
    for (const [k, v] of Object.entries(node.resources_total ?? {})) {
      total[k] = (total[k] ?? 0) + v;
    }
    for (const [k, v] of Object.entries(node.resources_available ?? {})) {
      available[k] = (available[k] ?? 0) + v;
    }
  }
  return { total, available };
}
