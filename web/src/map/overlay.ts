// Moving units drawn on a 2D canvas stacked over the MapLibre canvas. Units move several
// times a second; as a MapLibre layer every move re-tiled the GeoJSON in the worker and
// redrew the whole map (roads, borders, 5,000 incidents) — in software WebGL that is
// 100–200 ms per move. Here a move costs one projection and one sprite blit per unit on a
// transparent canvas, and the map below redraws only when the camera or its own data change.
// The map's 'render' event redraws the dots in the same frame, so they never lag a pan/zoom.

import type { Map as MlMap } from 'maplibre-gl';
import { unitStatusColor } from '../styles';
import type { Unit } from '../types';

/** The stops of the former MapLibre circle layer: radius and white rim grow with zoom. */
const RADIUS_STOPS: [number, number][] = [[9, 2.5], [15, 6]];
const STROKE_STOPS: [number, number][] = [[9, 0.3], [15, 1.5]];
/** Stale positions (no fix for a while) are drawn faint so live ones stand out. */
const STALE_ALPHA = 0.35;
/** Extra pixels around the visible area so dots half off the edge are still drawn. */
const EDGE_PX = 8;

/** Linear interpolation between zoom stops, clamped at both ends (MapLibre `interpolate linear`). */
export function zoomInterpolate(stops: [number, number][], zoom: number): number {
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

export function unitRadiusPx(zoom: number): number { return zoomInterpolate(RADIUS_STOPS, zoom); }
export function unitStrokePx(zoom: number): number { return zoomInterpolate(STROKE_STOPS, zoom); }

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

/** One unit as the overlay keeps it: flat fields, no reference to the store's object. */
interface Dot { id: string; lng: number; lat: number; sprite: string }

export class UnitOverlay {
  readonly canvas: HTMLCanvasElement;
  private readonly ctx: CanvasRenderingContext2D;
  private dots: Dot[] = [];
  /** Screen positions (CSS px) and dot indices of what the last draw put on screen. */
  private xs = new Float32Array(0);
  private ys = new Float32Array(0);
  private drawnIdx = new Int32Array(0);
  private drawn = 0;
  private visible = true;
  private frame = 0;
  /** Pre-rendered dots per colour/staleness for the current radius and pixel ratio. */
  private sprites = new Map<string, HTMLCanvasElement>();
  private spriteKey = '';

  constructor(private readonly map: MlMap) {
    this.canvas = document.createElement('canvas');
    this.canvas.className = 'unit-overlay';
    // Above the map canvas, below markers and popups (appended later to the same container).
    this.map.getCanvas().after(this.canvas);
    const ctx = this.canvas.getContext('2d');
    if (!ctx) throw new Error('2D canvas unavailable');
    this.ctx = ctx;
    this.resize();
    this.map.on('resize', this.onResize);
    this.map.on('render', this.onRender);
  }

  /** Number of units the last draw put inside the visible map. */
  get drawnCount(): number { return this.drawn; }

  setUnits(units: Iterable<Unit>): void {
    const dots: Dot[] = [];
    for (const u of units) {
      if (!u.position) continue;
      dots.push({ id: String(u.id), lng: u.position.lng, lat: u.position.lat, sprite: `${unitStatusColor(u.status)}|${u.stale ? 1 : 0}` });
    }
    this.dots = dots;
    this.schedule();
  }

  setVisible(v: boolean): void {
    this.visible = v;
    this.canvas.style.display = v ? '' : 'none';
    if (v) this.schedule();
  }

  /** Id of the unit drawn under (or within a few px of) a point in map-container pixels. */
  hitTest(p: { x: number; y: number }): string | null {
    if (!this.visible) return null;
    const i = nearestWithin(this.xs, this.ys, this.drawn, p.x, p.y, unitRadiusPx(this.map.getZoom()) + 3);
    return i < 0 ? null : this.dots[this.drawnIdx[i]]?.id ?? null;
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

  /** The map drew a frame (camera moved, its data changed): follow it in the same frame. */
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

  private sprite(kind: string, radius: number, stroke: number, ratio: number): HTMLCanvasElement {
    const k = `${radius.toFixed(2)}|${stroke.toFixed(2)}|${ratio}`;
    if (k !== this.spriteKey) { this.sprites.clear(); this.spriteKey = k; }
    let s = this.sprites.get(kind);
    if (!s) {
      const [color, stale] = kind.split('|');
      const outer = radius + stroke / 2;
      const size = Math.ceil((outer + 1) * 2 * ratio);
      s = document.createElement('canvas');
      s.width = s.height = size;
      const c = s.getContext('2d')!;
      c.scale(ratio, ratio);
      c.globalAlpha = stale === '1' ? STALE_ALPHA : 1;
      c.beginPath();
      c.arc(size / ratio / 2, size / ratio / 2, radius, 0, Math.PI * 2);
      c.fillStyle = color;
      c.fill();
      if (stroke > 0) { c.lineWidth = stroke; c.strokeStyle = '#ffffff'; c.stroke(); }
      this.sprites.set(kind, s);
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
    const radius = unitRadiusPx(zoom), stroke = unitStrokePx(zoom);
    const w = src.clientWidth, h = src.clientHeight;
    let k = 0;
    for (let i = 0; i < n; i++) {
      const d = this.dots[i];
      const p = this.map.project([d.lng, d.lat]);
      if (p.x < -EDGE_PX || p.y < -EDGE_PX || p.x > w + EDGE_PX || p.y > h + EDGE_PX) continue;
      const s = this.sprite(d.sprite, radius, stroke, ratio);
      // Whole device pixels: an unscaled blit is far cheaper than a resampled one.
      ctx.drawImage(s, Math.round(p.x * ratio - s.width / 2), Math.round(p.y * ratio - s.height / 2));
      this.xs[k] = p.x; this.ys[k] = p.y; this.drawnIdx[k] = i;
      k++;
    }
    this.drawn = k;
  }
}
