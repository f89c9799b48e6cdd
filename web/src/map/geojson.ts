// Pure conversions from API objects to GeoJSON for the map sources, plus label anchors
// for jurisdiction polygons. Kept free of MapLibre so they are unit-tested in Node.

import type { FeatureCollection, HeatCell, Sensor } from '../types';

type Point = { type: 'Feature'; geometry: { type: 'Point'; coordinates: [number, number] }; properties: Record<string, unknown> };

function point(lng: number, lat: number, properties: Record<string, unknown>): Point {
  return { type: 'Feature', geometry: { type: 'Point', coordinates: [lng, lat] }, properties };
}

export function sensorsToGeoJSON(sensors: Iterable<Sensor>): FeatureCollection {
  const features: Point[] = [];
  for (const s of sensors) {
    if (!s.location) continue;
    features.push(point(s.location.lng, s.location.lat, { id: s.id, kind: s.kind, name: s.name, silent: s.silent ?? s.status === 'silent' }));
  }
  return { type: 'FeatureCollection', features };
}

/** H3 cells as polygons with `weight` = count / max count, so one colour ramp fits any window. */
export function heatToGeoJSON(cells: HeatCell[]): FeatureCollection {
  const max = cells.reduce((m, c) => Math.max(m, c.count), 0);
  return {
    type: 'FeatureCollection',
    features: cells
      .filter((c) => c.boundary.length >= 3)
      .map((c) => {
        const ring = c.boundary.map(([lng, lat]) => [lng, lat] as [number, number]);
        const [f, l] = [ring[0], ring[ring.length - 1]];
        if (f[0] !== l[0] || f[1] !== l[1]) ring.push(f);
        return {
          type: 'Feature' as const,
          geometry: { type: 'Polygon', coordinates: [ring] },
          properties: { h3: c.h3, count: c.count, weight: max > 0 ? c.count / max : 0 },
        };
      }),
  };
}

/** Area-weighted centroid of a ring ([lng,lat] pairs); falls back to the vertex mean if degenerate. */
export function ringCentroid(ring: [number, number][]): [number, number] {
  let a = 0, cx = 0, cy = 0;
  for (let i = 0, n = ring.length; i < n; i++) {
    const [x0, y0] = ring[i];
    const [x1, y1] = ring[(i + 1) % n];
    const cross = x0 * y1 - x1 * y0;
    a += cross; cx += (x0 + x1) * cross; cy += (y0 + y1) * cross;
  }
  if (Math.abs(a) < 1e-12) {
    const sx = ring.reduce((s, p) => s + p[0], 0), sy = ring.reduce((s, p) => s + p[1], 0);
    return [sx / ring.length, sy / ring.length];
  }
  return [cx / (3 * a), cy / (3 * a)];
}

function ringArea(ring: [number, number][]): number {
  let a = 0;
  for (let i = 0, n = ring.length; i < n; i++) {
    const [x0, y0] = ring[i];
    const [x1, y1] = ring[(i + 1) % n];
    a += x0 * y1 - x1 * y0;
  }
  return Math.abs(a / 2);
}

/** Label position for a Polygon/MultiPolygon: centroid of the largest outer ring. */
export function labelAnchor(geometry: { type: string; coordinates: unknown }): [number, number] | null {
  let rings: [number, number][][] = [];
  if (geometry.type === 'Polygon') rings = [(geometry.coordinates as [number, number][][])[0]];
  else if (geometry.type === 'MultiPolygon') rings = (geometry.coordinates as [number, number][][][]).map((p) => p[0]);
  rings = rings.filter((r) => r && r.length >= 3);
  if (rings.length === 0) return null;
  const biggest = rings.reduce((b, r) => (ringArea(r) > ringArea(b) ? r : b));
  return ringCentroid(biggest);
}

/** Bounds [[minLng,minLat],[maxLng,maxLat]] of every coordinate in a collection, or null if empty. */
export function boundsOf(fc: FeatureCollection): [[number, number], [number, number]] | null {
  let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
  const walk = (c: unknown): void => {
    if (Array.isArray(c) && typeof c[0] === 'number') {
      const [x, y] = c as [number, number];
      if (x < minX) minX = x; if (x > maxX) maxX = x; if (y < minY) minY = y; if (y > maxY) maxY = y;
    } else if (Array.isArray(c)) for (const x of c) walk(x);
  };
  for (const f of fc.features) walk(f.geometry?.coordinates);
  return minX === Infinity ? null : [[minX, minY], [maxX, maxY]];
}
