// Shapes the side-panel data: today's counters, response times against targets, the
// year-over-year trend and top incident types. Server payloads are normalised defensively
// because the stats endpoints are young; anything unrecognised yields empty panels.

import type { Incident, Today } from './types';

/** Targets the city commits to (seconds): 60 s call→dispatch, 5 min urban dispatch→arrival. */
export const TARGETS = { dispatch_s: 60, arrival_s: 300 } as const;

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/** Accepts `{today:{…}}` or the counters object itself. */
export function normaliseToday(raw: unknown): Today | null {
  if (!raw || typeof raw !== 'object') return null;
  const o = ((raw as { today?: unknown }).today ?? raw) as Record<string, unknown>;
  const calls = num(o.calls), incidents = num(o.incidents);
  if (calls === null && incidents === null) return null;
  return {
    calls: calls ?? 0,
    incidents: incidents ?? 0,
    dispatched: num(o.dispatched) ?? 0,
    arrived: num(o.arrived) ?? 0,
    median_dispatch_s: num(o.median_dispatch_s),
    median_arrival_s: num(o.median_arrival_s),
  };
}

export interface Trend { dates: string[]; thisYear: number[]; lastYear: number[] }

/**
 * Accepts `{days|items:[{date, count|this_year, last_year|count_last_year|previous}]}`
 * or column form `{dates:[…], this_year:[…], last_year:[…]}`.
 */
export function normaliseTrend(raw: unknown): Trend {
  const out: Trend = { dates: [], thisYear: [], lastYear: [] };
  if (!raw || typeof raw !== 'object') return out;
  const o = raw as Record<string, unknown>;
  const rows = (Array.isArray(o.days) ? o.days : Array.isArray(o.items) ? o.items : Array.isArray(raw) ? raw : null) as Record<string, unknown>[] | null;
  if (rows) {
    for (const r of rows) {
      const date = String(r.date ?? r.day ?? '');
      if (!date) continue;
      out.dates.push(date);
      out.thisYear.push(num(r.this_year) ?? num(r.count) ?? 0);
      out.lastYear.push(num(r.last_year) ?? num(r.count_last_year) ?? num(r.previous) ?? 0);
    }
    return out;
  }
  if (Array.isArray(o.dates) && Array.isArray(o.this_year)) {
    out.dates = (o.dates as unknown[]).map(String);
    out.thisYear = (o.this_year as unknown[]).map((v) => num(v) ?? 0);
    out.lastYear = Array.isArray(o.last_year) ? (o.last_year as unknown[]).map((v) => num(v) ?? 0) : out.dates.map(() => 0);
  }
  return out;
}

/** Year-over-year change of the totals as a ratio (0.12 = +12 %), null without a base. */
export function yoyChange(trend: Trend): number | null {
  const a = trend.thisYear.reduce((s, v) => s + v, 0);
  const b = trend.lastYear.reduce((s, v) => s + v, 0);
  return b > 0 ? (a - b) / b : null;
}

/** The `n` most frequent incident types created at or after `sinceMs`, most frequent first, ties by name. */
export function topTypes(incidents: Iterable<Incident>, sinceMs: number, n = 8): { name: string; count: number }[] {
  const counts = new Map<string, number>();
  for (const i of incidents) {
    if (Date.parse(i.created_at) < sinceMs) continue;
    const name = i.type_name || i.type_code || '—';
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return [...counts.entries()]
    .map(([name, count]) => ({ name, count }))
    .sort((a, b) => b.count - a.count || a.name.localeCompare(b.name))
    .slice(0, n);
}

/** Start of the current day in China Standard Time (UTC+8, no DST), as epoch ms. */
export function startOfDayCst(nowMs: number): number {
  const offset = 8 * 3600_000;
  return Math.floor((nowMs + offset) / 86_400_000) * 86_400_000 - offset;
}

/** Today's counters from the incidents we hold, used until the server sends its own. */
export function todayFromIncidents(incidents: Iterable<Incident>, nowMs: number): Today {
  const since = startOfDayCst(nowMs);
  let n = 0, dispatched = 0, arrived = 0;
  const dispatchS: number[] = [], arrivalS: number[] = [];
  for (const i of incidents) {
    const c = Date.parse(i.created_at);
    if (c < since) continue;
    n++;
    if (i.dispatched_at) { dispatched++; dispatchS.push((Date.parse(i.dispatched_at) - c) / 1000); }
    if (i.arrived_at) {
      arrived++;
      if (i.dispatched_at) arrivalS.push((Date.parse(i.arrived_at) - Date.parse(i.dispatched_at)) / 1000);
    }
  }
  return { calls: n, incidents: n, dispatched, arrived, median_dispatch_s: median(dispatchS), median_arrival_s: median(arrivalS) };
}

export function median(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
