import { describe, expect, it } from 'vitest';
import { boundsOf, heatToGeoJSON, labelAnchor, ringCentroid } from './geojson';

describe('GeoJSON conversion', () => {
  it('closes H3 rings and normalises weights to the busiest cell', () => {
    const fc = heatToGeoJSON([
      { h3: 'x', count: 10, boundary: [[0, 0], [1, 0], [1, 1]] },
      { h3: 'y', count: 5, boundary: [[0, 0], [1, 0], [1, 1], [0, 0]] },
      { h3: 'z', count: 1, boundary: [[0, 0], [1, 1]] },
    ]);
    expect(fc.features).toHaveLength(2);
    expect(fc.features[0].geometry.coordinates).toEqual([[[0, 0], [1, 0], [1, 1], [0, 0]]]);
    expect(fc.features[0].properties!.weight).toBe(1);
    expect(fc.features[1].properties!.weight).toBe(0.5);
    expect((fc.features[1].geometry.coordinates as number[][][])[0]).toHaveLength(4);
  });
});

describe('label anchors and bounds', () => {
  it('finds the centroid of a square', () => {
    expect(ringCentroid([[0, 0], [2, 0], [2, 2], [0, 2], [0, 0]])).toEqual([1, 1]);
  });

  it('uses the largest polygon of a MultiPolygon', () => {
    const small = [[[10, 10], [11, 10], [11, 11], [10, 11], [10, 10]]];
    const big = [[[0, 0], [4, 0], [4, 4], [0, 4], [0, 0]]];
    expect(labelAnchor({ type: 'MultiPolygon', coordinates: [small, big] })).toEqual([2, 2]);
    expect(labelAnchor({ type: 'Point', coordinates: [1, 2] })).toBeNull();
  });

  it('computes bounds over nested coordinates', () => {
    expect(boundsOf({ type: 'FeatureCollection', features: [
      { type: 'Feature', geometry: { type: 'LineString', coordinates: [[104, 30], [104.5, 30.2]] }, properties: {} },
      { type: 'Feature', geometry: { type: 'Point', coordinates: [103.9, 30.8] }, properties: {} },
    ] })).toEqual([[103.9, 30], [104.5, 30.8]]);
    expect(boundsOf({ type: 'FeatureCollection', features: [] })).toBeNull();
  });
});
