// The offline city map: a MapLibre map whose style has no external source, no glyphs and
// no sprite. Roads and jurisdictions come from pingan's own GeoJSON; labels are a handful of
// HTML markers (symbol text would need a glyph server). Sensors and heat cells are GeoJSON
// sources; alerts, incidents and moving units, which change while the map is watched, are
// drawn by canvas overlays (overlay.ts) so their changes never redraw the map below: the map
// itself redraws only when the camera moves or a sensor/heat layer reloads.

import maplibregl, { type GeoJSONSource, type Map as MlMap, type StyleSpecification } from 'maplibre-gl';
import 'maplibre-gl/dist/maplibre-gl.css';
import { get } from '../api';
import { t } from '../i18n';
import { ROAD_CLASSES } from '../styles';
import type { Alert, Bbox, FeatureCollection, HeatCell, Incident, LatLng, Sensor, Unit } from '../types';
import { boundsOf, heatToGeoJSON, labelAnchor, sensorsToGeoJSON } from './geojson';
import { alertDots, incidentDots, PointOverlay, unitDots } from './overlay';

const EMPTY: FeatureCollection = { type: 'FeatureCollection', features: [] };

/** Layer groups the operator can switch on and off. */
export type LayerGroup = 'borders' | 'heat' | 'crowd' | 'sensors' | 'alerts' | 'incidents' | 'units';

const GROUP_LAYERS: Record<LayerGroup, string[]> = {
  borders: ['juris-fill', 'juris-line-station', 'juris-line-district'],
  heat: ['heat-incidents'],
  crowd: ['heat-crowd'],
  sensors: ['sensors'],
  // Alerts, incidents and units are canvas overlays, not style layers.
  alerts: [],
  incidents: [],
  units: [],
};

let baseData: Promise<{ roads: FeatureCollection; jurisdictions: FeatureCollection; bbox: Bbox | null }> | null = null;

/** Roads and jurisdictions rarely change: fetched once per page load and shared by all maps. */
export function loadBaseData(): Promise<{ roads: FeatureCollection; jurisdictions: FeatureCollection; bbox: Bbox | null }> {
  if (!baseData) {
    baseData = Promise.all([
      get<FeatureCollection>('/geo/roads').catch(() => EMPTY),
      get<FeatureCollection>('/geo/jurisdictions').catch(() => EMPTY),
      get<Bbox>('/geo/bbox').catch(() => null),
    ]).then(([roads, jurisdictions, bbox]) => ({ roads, jurisdictions, bbox }));
    // A failed load must not be cached forever (e.g. logged out mid-request).
    baseData.catch(() => { baseData = null; });
  }
  return baseData;
}

export function resetBaseData(): void { baseData = null; }

function baseStyle(): StyleSpecification {
  const heatRamp = ['interpolate', ['linear'], ['get', 'weight'], 0, '#1d3b58', 0.3, '#2b8cbe', 0.6, '#fdae61', 1, '#d7191c'];
  const crowdRamp = ['interpolate', ['linear'], ['get', 'weight'], 0, '#2a1f4a', 0.5, '#7b3294', 1, '#f768a1'];
  return {
    version: 8,
    sources: {
      roads: { type: 'geojson', data: EMPTY as never },
      juris: { type: 'geojson', data: EMPTY as never },
      'heat-incidents': { type: 'geojson', data: EMPTY as never },
      'heat-crowd': { type: 'geojson', data: EMPTY as never },
      sensors: { type: 'geojson', data: EMPTY as never },
      pick: { type: 'geojson', data: EMPTY as never },
    },
    layers: [
      { id: 'bg', type: 'background', paint: { 'background-color': '#0d1726' } },
      // No antialiasing pass: the border lines drawn above cover the fill's edges anyway.
      { id: 'juris-fill', type: 'fill', source: 'juris', filter: ['==', ['get', 'kind'], 'station'], paint: { 'fill-color': '#15243a', 'fill-opacity': 0.6, 'fill-antialias': false } },
      ...ROAD_CLASSES.slice().reverse().map((c, i) => ({
        id: `roads-${ROAD_CLASSES.length - 1 - i}`,
        type: 'line' as const,
        source: 'roads',
        minzoom: c.minzoom,
        filter: ['in', ['get', 'highway'], ['literal', c.classes]] as never,
        layout: { 'line-cap': 'round' as const, 'line-join': 'round' as const },
        paint: {
          'line-color': c.color,
          'line-width': ['interpolate', ['exponential', 1.6], ['zoom'], 8, c.width[0], 17, c.width[1]] as never,
        },
      })),
      { id: 'heat-incidents', type: 'fill', source: 'heat-incidents', layout: { visibility: 'none' }, paint: { 'fill-color': heatRamp as never, 'fill-opacity': 0.55, 'fill-outline-color': 'rgba(0,0,0,0)' } },
      { id: 'heat-crowd', type: 'fill', source: 'heat-crowd', layout: { visibility: 'none' }, paint: { 'fill-color': crowdRamp as never, 'fill-opacity': 0.55, 'fill-outline-color': 'rgba(0,0,0,0)' } },
      { id: 'juris-line-station', type: 'line', source: 'juris', filter: ['==', ['get', 'kind'], 'station'], paint: { 'line-color': '#3d5a80', 'line-width': 1, 'line-dasharray': [2, 2] } },
      { id: 'juris-line-district', type: 'line', source: 'juris', filter: ['!=', ['get', 'kind'], 'station'], paint: { 'line-color': '#7aa2d6', 'line-width': 2 } },
      { id: 'sensors', type: 'circle', source: 'sensors', minzoom: 11, paint: {
        'circle-radius': 3, 'circle-color': ['case', ['get', 'silent'], '#5c636e', '#22b8cf'] as never, 'circle-opacity': 0.8 } },
      { id: 'pick', type: 'circle', source: 'pick', paint: { 'circle-radius': 8, 'circle-color': '#ffffff', 'circle-stroke-color': '#e5322d', 'circle-stroke-width': 3 } },
    ],
  } as StyleSpecification;
}

export interface CityMapOptions {
  onIncidentClick?: (id: string) => void;
  onUnitClick?: (id: string) => void;
  /** Restrict the view to one jurisdiction (station cockpit). */
  focusOrgId?: string;
}

export class CityMap {
  readonly map: MlMap;
  /** Resolves once the style and base data are on screen. */
  readonly ready: Promise<void>;
  private labels: maplibregl.Marker[] = [];
  /** Open alerts, drawn over the map canvas. */
  readonly alerts: PointOverlay;
  /** Open incidents, drawn over the alerts. */
  readonly incidents: PointOverlay;
  /** Moving units, drawn over the incidents. */
  readonly units: PointOverlay;
  private pickHandler: ((p: LatLng) => void) | null = null;

  constructor(readonly container: HTMLElement, private readonly opts: CityMapOptions = {}) {
    this.map = new maplibregl.Map({
      container,
      style: baseStyle(),
      center: [104.066, 30.657],
      zoom: 10,
      attributionControl: false,
      fadeDuration: 0,
    });
    this.map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'bottom-right');
    this.map.addControl(new maplibregl.ScaleControl({ unit: 'metric' }), 'bottom-left');
    this.alerts = new PointOverlay(this.map, 'alert-overlay');
    this.incidents = new PointOverlay(this.map, 'incident-overlay', this.alerts.canvas);
    this.units = new PointOverlay(this.map, 'unit-overlay', this.incidents.canvas);
    const loaded = new Promise<void>((resolve) => this.map.once('load', () => resolve()));
    this.ready = Promise.all([loaded, loadBaseData()]).then(([, base]) => this.applyBase(base.roads, base.jurisdictions, base.bbox));
    this.wireEvents();
  }

  private destroyed = false;

  /** Undefined once the map is destroyed: a view's late async work must not touch a removed map. */
  private source(id: string): GeoJSONSource | undefined {
    if (this.destroyed) return undefined;
    return this.map.getSource(id) as GeoJSONSource | undefined;
  }

  private applyBase(roads: FeatureCollection, juris: FeatureCollection, bbox: Bbox | null): void {
    if (this.destroyed) return;
    this.source('roads')?.setData(roads as never);
    let shown = juris;
    if (this.opts.focusOrgId) {
      const focusId = this.opts.focusOrgId;
      const focus = juris.features.filter((f) => String(f.properties?.id) === focusId || String(f.properties?.parent_id) === focusId);
      if (focus.length > 0) shown = { type: 'FeatureCollection', features: focus };
    }
    this.source('juris')?.setData(shown as never);
    const b = (this.opts.focusOrgId ? boundsOf(shown) : null) ?? (bbox ? [[bbox.min_lng, bbox.min_lat], [bbox.max_lng, bbox.max_lat]] as [[number, number], [number, number]] : boundsOf(juris) ?? boundsOf(roads));
    if (b) this.map.fitBounds(b, { padding: 30, duration: 0 });
    this.addLabels(shown);
  }

  /** District names always; station names only when zoomed in (CSS class toggled on zoom). */
  private addLabels(juris: FeatureCollection): void {
    for (const m of this.labels) m.remove();
    this.labels = [];
    for (const f of juris.features) {
      const name = f.properties?.name;
      if (typeof name !== 'string' || !f.geometry) continue;
      const at = labelAnchor(f.geometry);
      if (!at) continue;
      const el = document.createElement('div');
      el.className = `map-label kind-${String(f.properties?.kind ?? 'station')}`;
      el.textContent = name;
      this.labels.push(new maplibregl.Marker({ element: el }).setLngLat(at).addTo(this.map));
    }
    const toggle = () => this.container.classList.toggle('zoomed-in', this.map.getZoom() >= 12);
    toggle();
    this.map.on('zoomend', toggle);
  }

  private wireEvents(): void {
    this.map.on('click', (e) => {
      if (this.pickHandler) {
        const p = { lat: e.lngLat.lat, lng: e.lngLat.lng };
        this.setPick(p);
        this.pickHandler(p);
        return;
      }
      // Units draw on top of incidents, so they take the click first.
      const unitId = this.units.hitTest(e.point);
      if (unitId !== null) { this.opts.onUnitClick?.(unitId); return; }
      const incidentId = this.incidents.hitTest(e.point);
      if (incidentId !== null) this.opts.onIncidentClick?.(incidentId);
    });
    let over = false;
    this.map.on('mousemove', (e) => {
      const now = this.units.hitTest(e.point) !== null || this.incidents.hitTest(e.point) !== null;
      if (now === over) return;
      over = now;
      if (!this.pickHandler) this.map.getCanvas().style.cursor = over ? 'pointer' : '';
    });
  }

  /** While set, a click picks a location instead of selecting a feature. */
  setPickMode(handler: ((p: LatLng) => void) | null): void {
    this.pickHandler = handler;
    this.map.getCanvas().style.cursor = handler ? 'crosshair' : '';
    this.container.title = handler ? t('map.pick') : '';
  }

  setPick(p: LatLng | null): void {
    this.source('pick')?.setData((p ? { type: 'FeatureCollection', features: [{ type: 'Feature', geometry: { type: 'Point', coordinates: [p.lng, p.lat] }, properties: {} }] } : EMPTY) as never);
  }

  setUnits(units: Iterable<Unit>): void { if (!this.destroyed) this.units.setDots(unitDots(units)); }
  setIncidents(incidents: Iterable<Incident>): void { if (!this.destroyed) this.incidents.setDots(incidentDots(incidents)); }
  setAlerts(alerts: Iterable<Alert>): void { if (!this.destroyed) this.alerts.setDots(alertDots(alerts)); }
  setSensors(sensors: Iterable<Sensor>): void { this.source('sensors')?.setData(sensorsToGeoJSON(sensors) as never); }
  setHeat(layer: 'incidents' | 'crowd', cells: HeatCell[]): void { this.source(`heat-${layer}`)?.setData(heatToGeoJSON(cells) as never); }

  setVisible(group: LayerGroup, visible: boolean): void {
    if (this.destroyed) return;
    for (const id of GROUP_LAYERS[group]) {
      if (this.map.getLayer(id)) this.map.setLayoutProperty(id, 'visibility', visible ? 'visible' : 'none');
    }
    if (group === 'units') this.units.setVisible(visible);
    if (group === 'incidents') this.incidents.setVisible(visible);
    if (group === 'alerts') this.alerts.setVisible(visible);
    if (group === 'borders') for (const m of this.labels) m.getElement().style.display = visible ? '' : 'none';
  }

  private popupRef: maplibregl.Popup | null = null;

  /** One popup at a time, closed by the next or by the map's close button. */
  popup(p: LatLng, content: HTMLElement): void {
    if (this.destroyed) return;
    this.popupRef?.remove();
    this.popupRef = new maplibregl.Popup({ closeButton: true, maxWidth: '280px' }).setLngLat([p.lng, p.lat]).setDOMContent(content).addTo(this.map);
  }

  /** Frames a set of points (e.g. an incident and the units recommended for it). */
  fitPoints(points: LatLng[], maxZoom = 15): void {
    if (points.length === 0 || this.destroyed) return;
    const lngs = points.map((p) => p.lng), lats = points.map((p) => p.lat);
    this.map.fitBounds([[Math.min(...lngs), Math.min(...lats)], [Math.max(...lngs), Math.max(...lats)]], { padding: 40, maxZoom, duration: 0 });
  }

  /**
   * Resolves once what the map and its overlays hold is on screen: the map has loaded its
   * sources and painted them (MapLibre's 'idle'), and two frames have passed so the overlays
   * drew their latest dots (they draw in the next animation frame after a change).
   */
  whenDrawn(): Promise<void> {
    return new Promise((resolve) => {
      const frames = () => requestAnimationFrame(() => requestAnimationFrame(() => resolve()));
      if (this.destroyed || this.map.loaded()) frames();
      else this.map.once('idle', frames);
    });
  }

  flyTo(p: LatLng, zoom = 15): void { if (!this.destroyed) this.map.flyTo({ center: [p.lng, p.lat], zoom, duration: 600 }); }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const m of this.labels) m.remove();
    this.popupRef?.remove();
    this.units.destroy();
    this.incidents.destroy();
    this.alerts.destroy();
    this.map.remove();
  }
}

/** Creates a map, or shows a message in the container if WebGL is unavailable. */
export function createMap(container: HTMLElement, opts: CityMapOptions = {}): CityMap | null {
  try {
    return new CityMap(container, opts);
  } catch (e) {
    container.replaceChildren();
    const msg = document.createElement('div');
    msg.className = 'error map-error';
    msg.textContent = `${t('map.noWebgl')} — ${e instanceof Error ? e.message : String(e)}`;
    container.append(msg);
    return null;
  }
}
