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
  it('offers acknowledge, depart, arrive and clear in order of the job', () => {
    expect(actionsFor('dispatched', 'dispatched').map((a) => a.status)).toEqual(['acknowledged', 'en_route', 'on_scene']);
    expect(actionsFor('dispatched', 'acknowledged').map((a) => a.status)).toEqual(['en_route', 'on_scene']);
    expect(actionsFor('en_route', 'en_route').map((a) => a.status)).toEqual(['on_scene']);
    expect(actionsFor('on_scene', 'on_scene').map((a) => a.status)).toEqual(['cleared']);
    expect(actionsFor('available', 'closed')).toEqual([]);
  });
});

import { watchBody } from './watches';
import { normalisePriority, priorityColor } from '../styles';
import { alertText, alertTime, type Alert } from '../types';

describe('watch request body', () => {
  it('uses the alert module\'s tagged target, scope and condition', () => {
    const body = watchBody({ targetKind: 'plate', targetValue: ' 川A12345 ', legalBasis: ' 刑事诉讼法 ', caseRef: ' A2026-001 ', startsAt: '', expiresAt: '2026-12-24T02:00:00Z', priority: 'high' });
    expect(body).toEqual({
      label: 'A2026-001 plate',
      target: { type: 'identifiers', identifiers: [{ kind: 'plate', value: '川A12345' }] },
      scope: { type: 'city' },
      condition: { type: 'sighting' },
      expires_at: '2026-12-24T02:00:00.000Z',
      legal_basis: '刑事诉讼法',
      case_ref: 'A2026-001',
      priority: 'high',
    });
  });
});

describe('alert fields in either shape', () => {
  const base = { id: 1, rule: 'watch_hit', watch_id: 3, priority: 'critical', status: 'new', sensor_id: 'cam-1', location: null };
  it('reads contract and server names', () => {
    expect(alertText({ ...base, summary: 'S', label: 'L' } as Alert)).toBe('S');
    expect(alertText({ ...base, label: 'L' } as Alert)).toBe('L');
    expect(alertText(base as Alert)).toBe('watch_hit');
    expect(alertTime({ ...base, time: '2026-11-24T01:00:00Z' } as Alert)).toBe('2026-11-24T01:00:00Z');
  });
  it('maps word priorities onto P1–P4 colours', () => {
    expect(['critical', 'high', 'normal', 'low', 'P2', 'HIGH', 'weird', null].map((p) => normalisePriority(p))).toEqual(['P1', 'P2', 'P3', 'P4', 'P2', 'P2', null, null]);
    expect(priorityColor('critical')).toBe(priorityColor('P1'));
  });
});
