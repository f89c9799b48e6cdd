import { describe, expect, it } from 'vitest';
import { median, normaliseToday, normaliseTrend, startOfDayCst, todayFromIncidents, topTypes, yoyChange } from './stats';
import type { Incident } from './types';

const inc = (id: string, type_name: string, created_at: string, over: Partial<Incident> = {}): Incident => ({
  id, number: id, status: 'created', type_code: type_name, type_name, priority: 'P3', description: '', location: null, address: null,
  org: null, caller: null, created_at, dispatched_at: null, arrived_at: null, closed_at: null, units: [], ...over,
});

describe('stats normalisation', () => {
  it('accepts today counters wrapped or bare', () => {
    const t = { calls: 12, incidents: 10, dispatched: 8, arrived: 6, median_dispatch_s: 45, median_arrival_s: 290 };
    expect(normaliseToday({ today: t })).toEqual(t);
    expect(normaliseToday({ calls: 3 })).toEqual({ calls: 3, incidents: 0, dispatched: 0, arrived: 0, median_dispatch_s: null, median_arrival_s: null });
    expect(normaliseToday({ nothing: 1 })).toBeNull();
    expect(normaliseToday(null)).toBeNull();
  });

  it('accepts trend rows and columns', () => {
    expect(normaliseTrend({ days: [{ date: '2026-11-23', count: 5, last_year: 4 }, { date: '2026-11-24', this_year: 7, count_last_year: 9 }] }))
      .toEqual({ dates: ['2026-11-23', '2026-11-24'], thisYear: [5, 7], lastYear: [4, 9] });
    expect(normaliseTrend({ dates: ['a', 'b'], this_year: [1, 2] })).toEqual({ dates: ['a', 'b'], thisYear: [1, 2], lastYear: [0, 0] });
    expect(normaliseTrend('junk')).toEqual({ dates: [], thisYear: [], lastYear: [] });
  });

  it('computes year-over-year change of totals', () => {
    expect(yoyChange({ dates: ['a', 'b'], thisYear: [6, 6], lastYear: [5, 5] })).toBeCloseTo(0.2);
    expect(yoyChange({ dates: ['a'], thisYear: [3], lastYear: [0] })).toBeNull();
  });
});

describe('derived panels', () => {
  it('ranks today\'s incident types, ties by name', () => {
    const since = Date.parse('2026-11-24T00:00:00Z');
    const list = [
      inc('1', '盗窃', '2026-11-24T01:00:00Z'), inc('2', '盗窃', '2026-11-24T02:00:00Z'),
      inc('3', '纠纷', '2026-11-24T03:00:00Z'), inc('4', 'A', '2026-11-24T03:00:00Z'),
      inc('5', '纠纷', '2026-11-23T03:00:00Z'),
    ];
    expect(topTypes(list, since)).toEqual([{ name: '盗窃', count: 2 }, { name: 'A', count: 1 }, { name: '纠纷', count: 1 }]);
    expect(topTypes(list, since, 1)).toEqual([{ name: '盗窃', count: 2 }]);
  });

  it('starts the day at midnight China Standard Time', () => {
    // 2026-11-24 02:00 UTC is 10:00 in Beijing; that day began at 2026-11-23 16:00 UTC.
    expect(new Date(startOfDayCst(Date.parse('2026-11-24T02:00:00Z'))).toISOString()).toBe('2026-11-23T16:00:00.000Z');
    expect(new Date(startOfDayCst(Date.parse('2026-11-24T17:00:00Z'))).toISOString()).toBe('2026-11-24T16:00:00.000Z');
  });

  it('derives today\'s counters and medians from incidents', () => {
    const now = Date.parse('2026-11-24T04:00:00Z');
    const t = todayFromIncidents([
      inc('1', 'x', '2026-11-24T01:00:00Z', { dispatched_at: '2026-11-24T01:01:00Z', arrived_at: '2026-11-24T01:05:00Z' }),
      inc('2', 'x', '2026-11-24T02:00:00Z', { dispatched_at: '2026-11-24T02:00:30Z' }),
      inc('3', 'x', '2026-11-23T10:00:00Z', { dispatched_at: '2026-11-23T10:01:00Z' }),
    ], now);
    expect(t).toEqual({ calls: 2, incidents: 2, dispatched: 2, arrived: 1, median_dispatch_s: 45, median_arrival_s: 240 });
  });

  it('computes medians of odd and even lengths', () => {
    expect(median([])).toBeNull();
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });
});
