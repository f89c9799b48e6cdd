// Offline address suggestions: the contract has no geocoder, so the intake form suggests
// road and jurisdiction names from the city's own GeoJSON, each with a representative point.

import type { FeatureCollection, LatLng } from './types';
import { labelAnchor } from './map/geojson';

export interface Place { name: string; kind: 'road' | 'area'; location: LatLng }

/** Middle vertex of a LineString/MultiLineString, a point that lies on the road. */
function lineMidpoint(g: { type: string; coordinates: unknown }): [number, number] | null {
  let line: [number, number][] | undefined;
  if (g.type === 'LineString') line = g.coordinates as [number, number][];
  else if (g.type === 'MultiLineString') line = (g.coordinates as [number, number][][])[0];
  if (!line || line.length === 0) return null;
  return line[Math.floor(line.length / 2)];
}

/** One place per distinct name (a road split into many segments appears once). */
export function buildPlaces(roads: FeatureCollection, areas: FeatureCollection): Place[] {
  const seen = new Set<string>();
  const places: Place[] = [];
  for (const f of areas.features) {
    const name = f.properties?.name;
    if (typeof name !== 'string' || !name || seen.has(name) || !f.geometry) continue;
    const at = labelAnchor(f.geometry);
    if (!at) continue;
    seen.add(name);
    places.push({ name, kind: 'area', location: { lat: at[1], lng: at[0] } });
  }
  for (const f of roads.features) {
    const name = f.properties?.name;
    if (typeof name !== 'string' || !name || seen.has(name) || !f.geometry) continue;
    const at = lineMidpoint(f.geometry);
    if (!at) continue;
    seen.add(name);
    places.push({ name, kind: 'road', location: { lat: at[1], lng: at[0] } });
  }
  return places;
}

/** Case-insensitive match; names starting with the query rank before names merely containing it. */
export function suggest(places: Place[], q: string, limit = 8): Place[] {
  const needle = q.trim().toLowerCase();
  if (!needle) return [];
  const starts: Place[] = [], contains: Place[] = [];
  for (const p of places) {
    const n = p.name.toLowerCase();
    if (n.startsWith(needle)) starts.push(p);
    else if (n.includes(needle)) contains.push(p);
  }
  const byLen = (a: Place, b: Place) => a.name.length - b.name.length || a.name.localeCompare(b.name);
  return [...starts.sort(byLen), ...contains.sort(byLen)].slice(0, limit);
}
