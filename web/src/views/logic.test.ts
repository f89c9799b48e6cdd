import { describe, expect, it } from 'vitest';
import { matchesFilter } from './board';
import { actionsFor } from './officer';
import type { Incident } from '../types';

const inc = (status: Incident['status'], priority: Incident['priority']): Incident => ({
  id: 'i', number: 'n', status, type_code: 't', type_name: 'T', priority, description: '', location: null, address: null,
  org: null, caller: null, created_at: 't', dispatched_at: null, arrived_at: null, closed_at: null, units: [],
});

describe('board filter', () => {
  it('matches status, priority and open-only', () => {
    expect(matchesFilter(inc('created', 'P1'), { status: '', priority: '', open: true })).toBe(true);
    expect(matchesFilter(inc('closed', 'P1'), { status: '', priority: '', open: true })).toBe(false);
    expect(matchesFilter(inc('closed', 'P1'), { status: 'closed', priority: '', open: false })).toBe(true);
    expect(matchesFilter(inc('created', 'P2'), { status: '', priority: 'P1', open: false })).toBe(false);
  });
});

describe('officer actions', () => {
  it('offers acknowledge, arrive and clear in order of the job', () => {
    expect(actionsFor('dispatched').map((a) => a.status)).toEqual(['en_route', 'on_scene', 'available']);
    expect(actionsFor('en_route').map((a) => a.status)).toEqual(['on_scene', 'available']);
    expect(actionsFor('on_scene').map((a) => a.status)).toEqual(['available']);
    expect(actionsFor('available')).toEqual([]);
  });
});
