import { describe, expect, it } from 'vitest';
import { LiveStore, type Change } from './store';
import type { Incident, Unit } from './types';

function unit(id: string, over: Partial<Unit> = {}): Unit {
  return { id, callsign: `C-${id}`, kind: 'patrol_car', org_id: 'st1', status: 'available', position: { lat: 30.6, lng: 104.0 }, position_at: null, stale: true, capabilities: [], ...over };
}

function incident(id: string, over: Partial<Incident> = {}): Incident {
  return {
    id, number: `JQ${id}`, status: 'created', type_code: 'theft', type_name: '盗窃', priority: 'P3', description: 'x',
    location: { lat: 30.6, lng: 104.0 }, address: null, org: null, caller: null,
    created_at: '2026-11-24T01:00:00Z', dispatched_at: null, arrived_at: null, closed_at: null, units: [], ...over,
  };
}

describe('LiveStore', () => {
  it('applies a batch of positions and notifies once', () => {
    const s = new LiveStore();
    s.setUnits([unit('u1'), unit('u2')]);
    const seen: Change[] = [];
    s.subscribe((c) => seen.push(c));
    s.applyBatch([
      { type: 'unit.position', data: { id: 'u1', position: { lat: 30.7, lng: 104.1 }, at: '2026-11-24T01:00:01Z' } },
      { type: 'unit.positions', data: { items: [
        { id: 'u2', position: { lat: 30.8, lng: 104.2 }, at: '2026-11-24T01:00:02Z' },
        { id: 'u1', position: { lat: 30.9, lng: 104.3 }, at: '2026-11-24T01:00:03Z' },
      ] } },
    ]);
    expect(seen).toHaveLength(1);
    expect(seen[0].units).toBe(true);
    expect(s.units.get('u1')!.position).toEqual({ lat: 30.9, lng: 104.3 });
    expect(s.units.get('u1')!.stale).toBe(false);
    expect(s.units.get('u2')!.position_at).toBe('2026-11-24T01:00:02Z');
  });

  it('ignores positions of units it does not hold and stays silent', () => {
    const s = new LiveStore();
    let calls = 0;
    s.subscribe(() => calls++);
    const c = s.applyBatch([{ type: 'unit.position', data: { id: 'ghost', position: { lat: 1, lng: 2 }, at: 'x' } }]);
    expect(c.units).toBe(false);
    expect(calls).toBe(0);
    expect(s.units.size).toBe(0);
  });

  it('propagates a unit status into the incident it serves', () => {
    const s = new LiveStore();
    s.setUnits([unit('u1')]);
    s.upsertIncidents([incident('i1', { status: 'dispatched', units: [{ unit_id: 'u1', callsign: 'C-u1', status: 'dispatched' }] })]);
    const c = s.applyBatch([{ type: 'unit.status', data: { id: 'u1', status: 'on_scene', incident_id: 'i1', at: 't' } }]);
    expect(s.units.get('u1')!.status).toBe('on_scene');
    expect(s.incidents.get('i1')!.units[0].status).toBe('on_scene');
    expect([...c.unitStatus]).toEqual(['u1']);
    expect([...c.incidents]).toEqual(['i1']);
    expect(s.unitIncident.get('u1')).toBe('i1');
  });

  it('upserts incidents from events and keeps a fetched timeline', () => {
    const s = new LiveStore();
    s.upsertIncidents([incident('i1', { timeline: [{ at: 't', kind: 'created', actor: null, detail: null }] })]);
    s.applyBatch([
      { type: 'incident.updated', data: { incident: incident('i1', { status: 'dispatched' }) } },
      { type: 'incident.created', data: { incident: incident('i2') } },
    ]);
    expect(s.incidents.get('i1')!.status).toBe('dispatched');
    expect(s.incidents.get('i1')!.timeline).toHaveLength(1);
    expect(s.incidents.get('i2')!.number).toBe('JQi2');
  });

  it('records alerts and KPI ticks', () => {
    const s = new LiveStore();
    const c = s.applyBatch([
      { type: 'alert.created', data: { alert: { id: 'a1', at: 't', rule: 'r', watch_id: null, priority: 'P1', status: 'new', sensor_id: null, location: null, org_id: 'st1', summary: 's', identifiers_masked: null } } },
      { type: 'kpi.tick', data: { today: { calls: 5, incidents: 4, dispatched: 3, arrived: 2, median_dispatch_s: 40, median_arrival_s: 280 } } },
    ]);
    expect(c.alerts.has('a1')).toBe(true);
    expect(c.today).toBe(true);
    expect(s.today!.calls).toBe(5);
  });

  it('unsubscribes', () => {
    const s = new LiveStore();
    let calls = 0;
    const off = s.subscribe(() => calls++);
    s.setUnits([unit('u1')]);
    off();
    s.setUnits([unit('u2')]);
    expect(calls).toBe(1);
  });
});

describe('integer ids from the server', () => {
  it('keys everything by the id text so numeric events meet string lookups', () => {
    const s = new LiveStore();
    s.setUnits([unit(7 as unknown as string)]);
    s.upsertIncidents([incident(42 as unknown as string, { units: [{ unit_id: 7, callsign: 'C-7', status: 'dispatched' }] })]);
    const c = s.applyBatch([
      { type: 'unit.status', data: { id: 7, status: 'en_route', incident_id: 42, at: 't' } },
      { type: 'unit.position', data: { id: 7, position: { lat: 30.1, lng: 104.1 }, at: 't' } },
    ]);
    expect(s.units.get('7')!.status).toBe('en_route');
    expect(s.units.get('7')!.position).toEqual({ lat: 30.1, lng: 104.1 });
    expect(s.incidents.get('42')!.units[0].status).toBe('en_route');
    expect(s.unitIncident.get('7')).toBe('42');
    expect([...c.incidents]).toEqual(['42']);
  });
});
