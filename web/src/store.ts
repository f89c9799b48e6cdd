// Live state of the console: units, incidents, alerts and today's counters, kept by id and
// updated from the API (initial loads) and the SSE stream (batched). Screens subscribe and
// receive one change summary per batch, so a burst of 2,000 positions costs one redraw.

import { key, type Alert, type Id, type Incident, type LatLng, type Today, type Unit, type UnitStatus } from './types';

export type LiveEvent =
  | { type: 'unit.position'; data: { id: Id; position: LatLng; at: string } }
  | { type: 'unit.positions'; data: { items: { id: Id; position: LatLng; at: string }[] } }
  | { type: 'unit.status'; data: { id: Id; status: UnitStatus; incident_id: Id | null; at: string } }
  | { type: 'incident.created' | 'incident.updated'; data: { incident: Incident } }
  | { type: 'alert.created' | 'alert.updated'; data: { alert: Alert } }
  | { type: 'kpi.tick'; data: { today: Today } };

export const LIVE_EVENT_NAMES = [
  'unit.position', 'unit.positions', 'unit.status', 'incident.created', 'incident.updated',
  'alert.created', 'alert.updated', 'kpi.tick',
] as const;

/** What one batch changed; listeners redraw only what is named here. */
export interface Change {
  /** Any unit position or status changed. */
  units: boolean;
  /** Units whose status changed (positions alone are not listed: too many, and lists don't show them). */
  unitStatus: Set<string>;
  incidents: Set<string>;
  alerts: Set<string>;
  today: boolean;
}

export function emptyChange(): Change {
  return { units: false, unitStatus: new Set(), incidents: new Set(), alerts: new Set(), today: false };
}

export function isEmpty(c: Change): boolean {
  return !c.units && c.incidents.size === 0 && c.alerts.size === 0 && !c.today;
}

export class LiveStore {
  readonly units = new Map<string, Unit>();
  readonly incidents = new Map<string, Incident>();
  readonly alerts = new Map<string, Alert>();
  today: Today | null = null;
  /** Last unit status event per unit, including the incident it concerns. */
  readonly unitIncident = new Map<string, string | null>();
  private listeners = new Set<(c: Change) => void>();

  subscribe(f: (c: Change) => void): () => void {
    this.listeners.add(f);
    return () => this.listeners.delete(f);
  }

  private notify(c: Change): void {
    if (isEmpty(c)) return;
    for (const f of this.listeners) f(c);
  }

  setUnits(units: Unit[]): void {
    const c = emptyChange();
    this.units.clear();
    for (const u of units) this.units.set(key(u.id), u);
    c.units = true;
    this.notify(c);
  }

  upsertIncidents(list: Incident[]): void {
    const c = emptyChange();
    for (const i of list) this.putIncident(i, c);
    this.notify(c);
  }

  upsertAlerts(list: Alert[]): void {
    const c = emptyChange();
    for (const a of list) { this.alerts.set(key(a.id), a); c.alerts.add(key(a.id)); }
    this.notify(c);
  }

  setToday(today: Today): void {
    this.today = today;
    this.notify({ ...emptyChange(), today: true });
  }

  /** Applies a batch of stream events in order and notifies listeners once. */
  applyBatch(events: readonly LiveEvent[]): Change {
    const c = emptyChange();
    for (const e of events) this.apply(e, c);
    this.notify(c);
    return c;
  }

  private putIncident(i: Incident, c: Change): void {
    // Events may carry an incident without its timeline; keep the one we already fetched.
    const k = key(i.id);
    const prev = this.incidents.get(k);
    this.incidents.set(k, prev?.timeline && !i.timeline ? { ...i, timeline: prev.timeline } : i);
    c.incidents.add(k);
  }

  private movePosition(id: Id, position: LatLng, at: string, c: Change): void {
    const u = this.units.get(key(id));
    // Units outside the user's jurisdiction or not yet loaded are not drawn.
    if (!u) return;
    u.position = position;
    u.position_at = at;
    u.stale = false;
    c.units = true;
  }

  private apply(e: LiveEvent, c: Change): void {
    switch (e.type) {
      case 'unit.position':
        this.movePosition(e.data.id, e.data.position, e.data.at, c);
        break;
      case 'unit.positions':
        for (const p of e.data.items) this.movePosition(p.id, p.position, p.at, c);
        break;
      case 'unit.status': {
        const uid = key(e.data.id);
        const u = this.units.get(uid);
        this.unitIncident.set(uid, e.data.incident_id == null ? null : key(e.data.incident_id));
        if (u) { u.status = e.data.status; c.units = true; }
        c.unitStatus.add(uid);
        // Keep the incident's own unit list in step so its page shows the change at once.
        if (e.data.incident_id != null) {
          const inc = this.incidents.get(key(e.data.incident_id));
          const iu = inc?.units.find((x) => key(x.unit_id) === uid);
          if (inc && iu) { iu.status = e.data.status; c.incidents.add(key(inc.id)); }
        }
        break;
      }
      case 'incident.created':
      case 'incident.updated':
        if (e.data?.incident?.id != null) this.putIncident(e.data.incident, c);
        break;
      case 'alert.created':
      case 'alert.updated':
        if (e.data?.alert?.id != null) { this.alerts.set(key(e.data.alert.id), e.data.alert); c.alerts.add(key(e.data.alert.id)); }
        break;
      case 'kpi.tick':
        if (e.data?.today) { this.today = e.data.today; c.today = true; }
        break;
    }
  }
}

/** The one store of the running app (tests construct their own). */
export const store = new LiveStore();
