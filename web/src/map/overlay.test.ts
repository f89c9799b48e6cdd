import { describe, expect, it } from 'vitest';
import { nearestWithin, unitRadiusPx, unitStrokePx, zoomInterpolate } from './unitlayer';

describe('unit overlay geometry', () => {
  it('interpolates by zoom like MapLibre, clamped outside the stops', () => {
    const stops: [number, number][] = [[9, 2], [15, 8], [17, 10]];
    expect(zoomInterpolate(stops, 5)).toBe(2);
    expect(zoomInterpolate(stops, 9)).toBe(2);
    expect(zoomInterpolate(stops, 12)).toBe(5);
    expect(zoomInterpolate(stops, 16)).toBe(9);
    expect(zoomInterpolate(stops, 20)).toBe(10);
  });

  it('keeps the sizes of the former circle layer', () => {
    expect(unitRadiusPx(9)).toBe(2.5);
    expect(unitRadiusPx(12)).toBe(4.25);
    expect(unitRadiusPx(15)).toBe(6);
    expect(unitStrokePx(8)).toBe(0.3);
    expect(unitStrokePx(12)).toBeCloseTo(0.9, 10);
    expect(unitStrokePx(18)).toBe(1.5);
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
