// Colours for priorities and statuses, shared by the map layers (as MapLibre expressions)
// and by the HTML badges so both always agree.

import type { IncidentStatus, Priority, UnitStatus } from './types';

export const PRIORITY_COLORS: Record<Priority, string> = {
  P1: '#e5322d', // red: life at risk
  P2: '#f08c00',
  P3: '#f2c94c',
  P4: '#8a8f98', // grey: routine
};

export const UNIT_STATUS_COLORS: Record<UnitStatus, string> = {
  available: '#2fb344',
  dispatched: '#f08c00',
  en_route: '#1c7ed6',
  on_scene: '#ae3ec9',
  busy: '#e5322d',
  off_duty: '#5c636e',
};

const FALLBACK = '#8a8f98';

/** Word priorities of watches and alerts mapped onto the P1–P4 scale of incidents. */
const WORD_PRIORITY: Record<string, Priority> = { critical: 'P1', high: 'P2', normal: 'P3', low: 'P4' };

export function normalisePriority(p: string | null | undefined): Priority | null {
  if (!p) return null;
  if (p in PRIORITY_COLORS) return p as Priority;
  return WORD_PRIORITY[p.toLowerCase()] ?? null;
}

export function priorityColor(p: string | null | undefined): string {
  const n = normalisePriority(p);
  return n ? PRIORITY_COLORS[n] : FALLBACK;
}

export function unitStatusColor(s: string | null | undefined): string {
  return (UNIT_STATUS_COLORS as Record<string, string>)[s ?? ''] ?? FALLBACK;
}

/** P1 draws largest so the eye finds it first on a crowded map. */
export function priorityRadius(p: string | null | undefined): number {
  switch (p) {
    case 'P1': return 9;
    case 'P2': return 7;
    case 'P3': return 6;
    default: return 5;
  }
}

/** Open incident statuses: everything before cleared/closed/diverted. */
export function isOpenIncident(status: IncidentStatus | string): boolean {
  return !['cleared', 'closed', 'diverted'].includes(status);
}

/** A MapLibre `match` expression mapping a string property to colours. */
export function matchColor(property: string, table: Record<string, string>): unknown[] {
  const expr: unknown[] = ['match', ['get', property]];
  for (const [k, v] of Object.entries(table)) expr.push(k, v);
  expr.push(FALLBACK);
  return expr;
}

/**
 * Road widths by OSM highway class, interpolated by zoom for the offline base map. Minor
 * streets appear from zoom 13: at the whole-city view they are a grey mesh that costs most
 * of a redraw (software WebGL) and hides nothing a dispatcher needs.
 */
export const ROAD_CLASSES: { classes: string[]; color: string; width: [number, number]; minzoom: number }[] = [
  { classes: ['motorway', 'motorway_link', 'trunk', 'trunk_link'], color: '#d4a24c', width: [1.2, 6], minzoom: 0 },
  { classes: ['primary', 'primary_link'], color: '#c9b27c', width: [1, 5], minzoom: 0 },
  { classes: ['secondary', 'secondary_link', 'tertiary', 'tertiary_link'], color: '#7d8797', width: [0.6, 3.5], minzoom: 9 },
  { classes: ['residential', 'unclassified', 'living_street', 'service', 'road'], color: '#4b5563', width: [0.3, 2], minzoom: 13 },
];

export function roadClassOf(highway: string | null | undefined): number {
  const i = ROAD_CLASSES.findIndex((c) => c.classes.includes(highway ?? ''));
  return i < 0 ? ROAD_CLASSES.length - 1 : i;
}
