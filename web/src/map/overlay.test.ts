import { describe, expect, it } from 'vitest';
import { alertDots, incidentDots, incidentStyle, mercatorX, mercatorY, nearestWithin, unitDots, unitStyle, zoomInterpolate } from './overlay';
import { PRIORITY_COLORS, UNIT_STATUS_COLORS } from '../styles';
import type { Alert, Incident, Unit } from '../types';

const unit = (id: string, position: Unit['position'], status: Unit['status'] = 'available', stale = false): Unit => ({
  id, callsign: id, kind: 'patrol_car', org_id: 'o', status, position, position_at: null, stale, capabilities: [],
});
const inc = (id: string, priority: Incident['priority'], status: Incident['status'] = 'created'): Incident => ({
  id, number: id, status, type_code: 't', type_name: 'T', priority, description: '', location: { lat: 30, lng: 104 + Number(id) / 100 }, address: null,
  org: null, caller: null, created_at: 't', dispatched_at: null, arrived_at: null, closed_at: null, units: [],
});

describe('overlay geometry', () => {
  it('interpolates by zoom like MapLibre, clamped outside the stops', () => {
    const stops: [number, number][] = [[9, 2], [15, 8], [17, 10]];
    expect(zoomInterpolate(stops, 5)).toBe(2);
    expect(zoomInterpolate(stops, 9)).toBe(2);
    expect(zoomInterpolate(stops, 12)).toBe(5);
    expect(zoomInterpolate(stops, 16)).toBe(9);
    expect(zoomInterpolate(stops, 20)).toBe(10);
    expect(zoomInterpolate([[0, 1]], 14)).toBe(1);
  });

  it('puts lng/lat on the Web Mercator square like MapLibre', () => {
    expect(mercatorX(-180)).toBe(0);
    expect(mercatorX(0)).toBe(0.5);
    expect(mercatorX(90)).toBe(0.75);
    expect(mercatorY(0)).toBeCloseTo(0.5, 15);
    // The latitude where Web Mercator's square ends.
    expect(mercatorY(85.0511287798066)).toBeCloseTo(0, 12);
    expect(mercatorY(-85.0511287798066)).toBeCloseTo(1, 12);
    // Chengdu: MercatorCoordinate.fromLngLat([104.066, 30.657]).
    expect(mercatorX(104.066)).toBeCloseTo(0.7890722222222223, 14);
    expect(mercatorY(30.657)).toBeCloseTo(0.41046083022212, 12);
  });

  it('hits the nearest dot within the radius, the later one on a tie, nothing beyond it', () => {
    const xs = [10, 20, 20, 100], ys = [10, 10, 10, 100];
    expect(nearestWithin(xs, ys, 4, 12, 10, 5)).toBe(0);
    expect(nearestWithin(xs, ys, 4, 19, 11, 5)).toBe(2);
    expect(nearestWithin(xs, ys, 4, 60, 60, 5)).toBe(-1);
    expect(nearestWithin(xs, ys, 4, 104, 100, 4)).toBe(3);
    expect(nearestWithin(xs, ys, 4, 104.5, 100, 4)).toBe(-1);
    // Only the first n entries count (the arrays are reused and may hold stale tails).
    expect(nearestWithin(xs, ys, 3, 100, 100, 5)).toBe(-1);
  });
});

describe('dots from live state', () => {
  it('turns positioned units into dots coloured by status, stale ones faint, unknown positions skipped', () => {
    const dots = unitDots([unit('a', { lat: 30.5, lng: 104.1 }, 'en_route'), unit('b', null), unit('c', { lat: 30, lng: 104 }, 'busy', true)]);
    expect(dots.map((d) => [d.id, d.lng, d.lat])).toEqual([['a', 104.1, 30.5], ['c', 104, 30]]);
    expect(dots[0].style).toMatchObject({ fill: UNIT_STATUS_COLORS.en_route, alpha: 1 });
    expect(dots[1].style).toMatchObject({ fill: UNIT_STATUS_COLORS.busy, alpha: 0.35 });
    // Same look, same style object: sprites are cached per style.
    expect(unitStyle('en_route', false)).toBe(dots[0].style);
    // The sizes of the former circle layer.
    expect(zoomInterpolate(dots[0].style.radius, 12)).toBe(4.25);
    expect(zoomInterpolate(dots[0].style.strokeWidth, 12)).toBeCloseTo(0.9, 10);
  });

  it('keeps open incidents only and draws P1 last (on top), unclassified at the bottom', () => {
    const dots = incidentDots([inc('1', 'P4'), inc('2', 'P1'), inc('3', 'P2', 'closed'), inc('4', null), inc('5', 'P2', 'dispatched'), inc('6', 'P4')]);
    expect(dots.map((d) => d.id)).toEqual(['1', '4', '6', '5', '2']);
    expect(dots.map((d) => d.lng)).toEqual([104.01, 104.04, 104.06, 104.05, 104.02]);
    expect(dots[4].style).toBe(incidentStyle('P1'));
    expect(dots[4].style.fill).toBe(PRIORITY_COLORS.P1);
    expect(zoomInterpolate(dots[4].style.radius, 15)).toBe(11);
    expect(zoomInterpolate(dots[3].style.radius, 9)).toBe(5);
    expect(dots[1].style.fill).toBe('#8a8f98');
  });

  it('rings open alerts in their priority colour, word priorities mapped, closed ones dropped', () => {
    const a = { id: 'a', at: 't', rule: 'r', watch_id: null, priority: 'P1', sensor_id: null, location: { lat: 1, lng: 2 }, org_id: null, summary: 's', identifiers_masked: null, status: 'new' } as unknown as Alert;
    const dots = alertDots([a, { ...a, id: 'b', status: 'closed' }, { ...a, id: 'c', priority: 'high' }, { ...a, id: 'd', priority: 'whatever' }, { ...a, id: 'e', location: null }] as Alert[]);
    expect(dots.map((d) => [d.id, d.lng, d.lat])).toEqual([['a', 2, 1], ['c', 2, 1], ['d', 2, 1]]);
    expect(dots.map((d) => d.style.stroke)).toEqual([PRIORITY_COLORS.P1, PRIORITY_COLORS.P2, PRIORITY_COLORS.P4]);
    expect(dots[0].style).toMatchObject({ fill: 'transparent', alpha: 1 });
    expect(zoomInterpolate(dots[0].style.radius, 12)).toBe(11);
    expect(zoomInterpolate(dots[0].style.strokeWidth, 12)).toBe(2.5);
  });
});
