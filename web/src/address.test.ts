import { describe, expect, it } from 'vitest';
import { buildPlaces, suggest } from './address';
import type { FeatureCollection } from './types';

const roads: FeatureCollection = { type: 'FeatureCollection', features: [
  { type: 'Feature', geometry: { type: 'LineString', coordinates: [[104.0, 30.0], [104.1, 30.1], [104.2, 30.2]] }, properties: { name: '天府大道', highway: 'primary' } },
  { type: 'Feature', geometry: { type: 'LineString', coordinates: [[104.3, 30.3], [104.4, 30.4]] }, properties: { name: '天府大道', highway: 'primary' } },
  { type: 'Feature', geometry: { type: 'LineString', coordinates: [[104.0, 30.5], [104.1, 30.5]] }, properties: { name: '南天府街', highway: 'residential' } },
  { type: 'Feature', geometry: { type: 'LineString', coordinates: [[104.0, 30.5], [104.1, 30.5]] }, properties: { name: null, highway: 'service' } },
] };
const areas: FeatureCollection = { type: 'FeatureCollection', features: [
  { type: 'Feature', geometry: { type: 'Polygon', coordinates: [[[104, 30], [104.2, 30], [104.2, 30.2], [104, 30.2], [104, 30]]] }, properties: { name: '天府派出所', kind: 'station' } },
] };

describe('address suggestions', () => {
  it('builds one place per name with a point on the road or inside the area', () => {
    const places = buildPlaces(roads, areas);
    expect(places.map((p) => p.name)).toEqual(['天府派出所', '天府大道', '南天府街']);
    expect(places[0].location.lat).toBeCloseTo(30.1);
    expect(places[0].location.lng).toBeCloseTo(104.1);
    expect(places[1].location).toEqual({ lat: 30.1, lng: 104.1 });
  });

  it('ranks prefix matches first, shorter names first', () => {
    const places = buildPlaces(roads, areas);
    expect(suggest(places, '天府').map((p) => p.name)).toEqual(['天府大道', '天府派出所', '南天府街']);
    expect(suggest(places, '  ')).toEqual([]);
    expect(suggest(places, '天府', 1)).toHaveLength(1);
  });
});
