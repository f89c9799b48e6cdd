// Live points (moving units, open incidents, open alerts) drawn on 2D canvases stacked over the MapLibre
// canvas. As MapLibre GeoJSON layers every change re-tiled the data in the worker and redrew
// the whole map — roads, borders and 5,000 points; in software WebGL that is 100–400 ms, and
// units move several times a second. Here a change costs one projection and one sprite blit
// per point on its own transparent canvas, and the map below redraws only when the camera
// moves. The map's 'render' event redraws the dots in the same frame, so they never lag a
// pan or zoom.

import type { Map as MlMap } from 'maplibre-gl';
import { isOpenIncident, normalisePriority, PRIORITY_COLORS, unitStatusColor } from '../styles';
import type { Alert, Incident, Unit } from '../types';

/** Zoom stops `[zoom, px]`, interpolated linearly and clamped like MapLibre `interpolate linear`. */
export type Stops = [number, number][];

/** How one class of dot looks; dots share these objects, and sprites are cached per object. */
export interface DotStyle {
  fill: string;
  stroke: string;
  alpha: number;
  radius: Stops;
  strokeWidth: Stops;
}

/** One point as an overlay keeps it: flat fields, no reference to the store's object. */
export interface Dot { id: string; lng: number; lat: number; style: DotStyle }

/** Web Mercator world coordinates in [0, 1] (x east, y south), as MapLibre's MercatorCoordinate. */
export function mercatorX(lng: number): number { return (180 + lng) / 360; }
export function mercatorY(lat: number): number {
  return (180 - (180 / Math.PI) * Math.log(Math.tan(Math.PI / 4 + (lat * Math.PI) / 360))) / 360;
}

/** Extra pixels around the visible area so dots half off the edge are still drawn. */
const EDGE_PX = 12;
/** Hits count this many pixels beyond a dot's rim (fingers and mice are not exact). */
const HIT_SLOP_PX = 3;

export function zoomInterpolate(stops: Stops, zoom: number): number {
  if (zoom <= stops[0][0]) return stops[0][1];
  for (let i = 1; i < stops.length; i++) {
    const [z1, v1] = stops[i];
    if (zoom <= z1) {
      const [z0, v0] = stops[i - 1];
      return v0 + ((zoom - z0) / (z1 - z0)) * (v1 - v0);
    }
  }
  return stops[stops.length - 1][1];
}

/**
 * Index of the point nearest to (x, y) among the first `n` of `xs`/`ys`, if it lies within
 * `maxPx`; -1 otherwise. Later points win ties because they are drawn on top.
 */
export function nearestWithin(xs: ArrayLike<number>, ys: ArrayLike<number>, n: number, x: number, y: number, maxPx: number): number {
  let best = -1;
  let bestD = maxPx * maxPx;
  for (let i = 0; i < n; i++) {
    const dx = xs[i] - x, dy = ys[i] - y;
    const d = dx * dx + dy * dy;
    if (d <= bestD) { bestD = d; best = i; }
  }
  return best;
}

// Units: the sizes of the former circle layer; stale positions drawn faint.
const UNIT_RADIUS: Stops = [[9, 2.5], [15, 6]];
const UNIT_STROKE: Stops = [[9, 0.3], [15, 1.5]];
const unitStyles = new Map<string, DotStyle>();

export function unitStyle(status: string, stale: boolean): DotStyle {
  const k = `${status}|${stale}`;
  let s = unitStyles.get(k);
  if (!s) {
    s = { fill: unitStatusColor(status), stroke: '#ffffff', alpha: stale ? 0.35 : 1, radius: UNIT_RADIUS, strokeWidth: UNIT_STROKE };
    unitStyles.set(k, s);
  }
  return s;
}

export function unitDots(units: Iterable<Unit>): Dot[] {
  const dots: Dot[] = [];
  for (const u of units) {
    if (u.position) dots.push({ id: String(u.id), lng: u.position.lng, lat: u.position.lat, style: unitStyle(u.status, u.stale) });
  }
  return dots;
}

// Incidents: P1 largest; unclassified ones (no priority yet) small and grey.
const INCIDENT_STROKE: Stops = [[0, 1]];
const incidentStyleOf = (fill: string, small: number, large: number): DotStyle =>
  ({ fill, stroke: '#0d1726', alpha: 1, radius: [[9, small], [15, large]], strokeWidth: INCIDENT_STROKE });
const INCIDENT_STYLES = {
  P1: incidentStyleOf(PRIORITY_COLORS.P1, 6, 11),
  P2: incidentStyleOf(PRIORITY_COLORS.P2, 5, 9),
  P3: incidentStyleOf(PRIORITY_COLORS.P3, 4, 7),
  P4: incidentStyleOf(PRIORITY_COLORS.P4, 4, 7),
  none: incidentStyleOf('#8a8f98', 4, 7),
};

export function incidentStyle(priority: string | null): DotStyle {
  return INCIDENT_STYLES[normalisePriority(priority) ?? 'none'];
}

/** Open incidents only (closed ones would bury the live picture), P1 last so it draws on top. */
export function incidentDots(incidents: Iterable<Incident>): Dot[] {
  const byRank: Dot[][] = [[], [], [], [], []];
  for (const i of incidents) {
    if (!i.location || !isOpenIncident(i.status)) continue;
    const p = normalisePriority(i.priority);
    byRank[p ? 4 - Number(p.slice(1)) : 0].push({ id: String(i.id), lng: i.location.lng, lat: i.location.lat, style: incidentStyle(p) });
  }
  // Unclassified and P4 share the bottom; a stable bucket sort keeps arrival order within a rank.
  return byRank.flat();
}

// Alerts: a ring in the priority colour, wide enough to circle the incident or unit it concerns.
const ALERT_RADIUS: Stops = [[0, 11]];
const ALERT_STROKE: Stops = [[0, 2.5]];
const alertStyleOf = (stroke: string): DotStyle => ({ fill: 'transparent', stroke, alpha: 1, radius: ALERT_RADIUS, strokeWidth: ALERT_STROKE });
const ALERT_STYLES = {
  P1: alertStyleOf(PRIORITY_COLORS.P1),
  P2: alertStyleOf(PRIORITY_COLORS.P2),
  P3: alertStyleOf(PRIORITY_COLORS.P3),
  P4: alertStyleOf(PRIORITY_COLORS.P4),
};

/** Alerts not yet closed, placed where they were raised; word priorities map onto P1–P4 (unknown: P4). */
export function alertDots(alerts: Iterable<Alert>): Dot[] {
  const dots: Dot[] = [];
  for (const a of alerts) {
    if (!a.location || a.status === 'closed') continue;
    dots.push({ id: String(a.id), lng: a.location.lng, lat: a.location.lat, style: ALERT_STYLES[normalisePriority(a.priority) ?? 'P4'] });
  }
  return dots;
}

export class PointOverlay {
  readonly canvas: HTMLCanvasElement;
  private readonly ctx: CanvasRenderingContext2D;
  private dots: Dot[] = [];
  /** Mercator coordinates of `dots`, computed once per change instead of once per frame. */
  private mx = new Float64Array(0);
  private my = new Float64Array(0);
  /** Screen positions (CSS px) and dot indices of what the last draw put on screen. */
  private xs = new Float32Array(0);
  private ys = new Float32Array(0);
  private drawnIdx = new Int32Array(0);
  private drawn = 0;
  private maxRadius = 0;
  private visible = true;
  private frame = 0;
  /** Pre-rendered dots per style for the current zoom and pixel ratio. */
  private sprites = new Map<DotStyle, HTMLCanvasElement>();
  private spriteKey = '';

  /** `after`: the canvas this one stacks on (the map's, or another overlay's). */
  constructor(private readonly map: MlMap, className: string, after: HTMLCanvasElement = map.getCanvas()) {
    this.canvas = document.createElement('canvas');
    this.canvas.className = `point-overlay ${className}`;
    // Above the map canvas, below markers and popups (appended later to the same container).
    after.after(this.canvas);
    const ctx = this.canvas.getContext('2d');
    if (!ctx) throw new Error('2D canvas unavailable');
    this.ctx = ctx;
    this.resize();
    this.map.on('resize', this.onResize);
    this.map.on('render', this.onRender);
  }

  /** Number of dots the last draw put inside the visible map. */
  get drawnCount(): number { return this.drawn; }

  setDots(dots: Dot[]): void {
    this.dots = dots;
    if (this.mx.length < dots.length) { this.mx = new Float64Array(dots.length); this.my = new Float64Array(dots.length); }
    for (let i = 0; i < dots.length; i++) { this.mx[i] = mercatorX(dots[i].lng); this.my[i] = mercatorY(dots[i].lat); }
    this.schedule();
  }

  /**
   * Mercator → screen as an affine map [ox, oy, ax, ay, bx, by] (screen = o + a·x + b·y),
   * read off three projected points around the view centre. Exact without pitch (rotation
   * included); with pitch the projection is perspective and each dot is projected instead.
   */
  private affine(): number[] | null {
    if (this.map.getPitch() !== 0) return null;
    const c = this.map.getCenter();
    const x0 = mercatorX(c.lng), y0 = mercatorY(c.lat), d = 1e-3;
    const toLngLat = (x: number, y: number): [number, number] =>
      [x * 360 - 180, (360 / Math.PI) * Math.atan(Math.exp(((180 - y * 360) * Math.PI) / 180)) - 90];
    const p0 = this.map.project(toLngLat(x0, y0)), px = this.map.project(toLngLat(x0 + d, y0)), py = this.map.project(toLngLat(x0, y0 + d));
    const ax = (px.x - p0.x) / d, ay = (px.y - p0.y) / d, bx = (py.x - p0.x) / d, by = (py.y - p0.y) / d;
    return [p0.x - ax * x0 - bx * y0, p0.y - ay * x0 - by * y0, ax, ay, bx, by];
  }

  setVisible(v: boolean): void {
    this.visible = v;
    this.canvas.style.display = v ? '' : 'none';
    if (v) this.schedule();
  }

  /** Id of the dot drawn under (or within a few px of) a point in map-container pixels. */
  hitTest(p: { x: number; y: number }): string | null {
    if (!this.visible) return null;
    const i = nearestWithin(this.xs, this.ys, this.drawn, p.x, p.y, this.maxRadius + HIT_SLOP_PX);
    return i < 0 ? null : this.dots[this.drawnIdx[i]]?.id ?? null;
  }

  /** Where the last draw put the dot with this id (CSS px in the map), or null if it is not on screen. */
  drawnAt(id: string): { x: number; y: number } | null {
    for (let k = 0; k < this.drawn; k++) if (this.dots[this.drawnIdx[k]]?.id === id) return { x: this.xs[k], y: this.ys[k] };
    return null;
  }

  destroy(): void {
    cancelAnimationFrame(this.frame);
    this.map.off('resize', this.onResize);
    this.map.off('render', this.onRender);
    this.canvas.remove();
  }

  /** Data changed: draw once in the next frame (several changes in a frame cost one draw). */
  private schedule(): void {
    if (this.frame || !this.visible) return;
    this.frame = requestAnimationFrame(() => { this.frame = 0; this.draw(); });
  }

  /** The map drew a frame (camera moved, its own layers changed): follow it in the same frame. */
  private onRender = (): void => {
    if (this.frame) { cancelAnimationFrame(this.frame); this.frame = 0; }
    this.draw();
  };

  private onResize = (): void => { this.resize(); this.draw(); };

  private resize(): void {
    const src = this.map.getCanvas();
    const ratio = this.map.getPixelRatio();
    const w = src.clientWidth, h = src.clientHeight;
    this.canvas.width = Math.max(1, Math.round(w * ratio));
    this.canvas.height = Math.max(1, Math.round(h * ratio));
    this.canvas.style.width = `${w}px`;
    this.canvas.style.height = `${h}px`;
  }

  private sprite(style: DotStyle, zoom: number, ratio: number): HTMLCanvasElement {
    let s = this.sprites.get(style);
    if (!s) {
      const radius = zoomInterpolate(style.radius, zoom), stroke = zoomInterpolate(style.strokeWidth, zoom);
      const size = Math.ceil((radius + stroke / 2 + 1) * 2 * ratio);
      s = document.createElement('canvas');
      s.width = s.height = size;
      const c = s.getContext('2d')!;
      c.scale(ratio, ratio);
      c.globalAlpha = style.alpha;
      c.beginPath();
      c.arc(size / ratio / 2, size / ratio / 2, radius, 0, Math.PI * 2);
      c.fillStyle = style.fill;
      c.fill();
      if (stroke > 0) { c.lineWidth = stroke; c.strokeStyle = style.stroke; c.stroke(); }
      this.sprites.set(style, s);
      this.maxRadius = Math.max(this.maxRadius, radius + stroke / 2);
    }
    return s;
  }

  private draw(): void {
    const ratio = this.map.getPixelRatio();
    const src = this.map.getCanvas();
    if (this.canvas.width !== Math.round(src.clientWidth * ratio) || this.canvas.height !== Math.round(src.clientHeight * ratio)) this.resize();
    const ctx = this.ctx;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    this.drawn = 0;
    if (!this.visible || this.dots.length === 0) return;
    const n = this.dots.length;
    if (this.xs.length < n) { this.xs = new Float32Array(n); this.ys = new Float32Array(n); this.drawnIdx = new Int32Array(n); }
    const zoom = this.map.getZoom();
    // Sprites are redrawn only when the zoom (hence the size) or the pixel ratio changes.
    const key = `${zoom.toFixed(2)}|${ratio}`;
    if (key !== this.spriteKey) { this.sprites.clear(); this.spriteKey = key; this.maxRadius = 0; }
    const w = src.clientWidth, h = src.clientHeight;
    const t = this.affine();
    let k = 0;
    for (let i = 0; i < n; i++) {
      const d = this.dots[i];
      let x: number, y: number;
      if (t) { x = t[0] + t[2] * this.mx[i] + t[4] * this.my[i]; y = t[1] + t[3] * this.mx[i] + t[5] * this.my[i]; }
      else { const p = this.map.project([d.lng, d.lat]); x = p.x; y = p.y; }
      if (x < -EDGE_PX || y < -EDGE_PX || x > w + EDGE_PX || y > h + EDGE_PX) continue;
      const s = this.sprite(d.style, zoom, ratio);
      // Whole device pixels: an unscaled blit is far cheaper than a resampled one.
      ctx.drawImage(s, Math.round(x * ratio - s.width / 2), Math.round(y * ratio - s.height / 2));
      this.xs[k] = x; this.ys[k] = y; this.drawnIdx[k] = i;
      k++;
    }
    this.drawn = k;
  }
}
