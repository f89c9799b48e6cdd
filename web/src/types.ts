// Wire types of the pingan HTTP API (see ../API.md); only what the console reads.

export interface LatLng { lat: number; lng: number }

/** Server ids are integers today; the console keys its maps by `String(id)` so either works. */
export type Id = string | number;

/** Map key for any id. */
export function key(id: Id | null | undefined): string { return id == null ? '' : String(id); }

export type Role =
  | 'admin' | 'commander' | 'dispatcher' | 'station_officer'
  | 'analyst' | 'auditor' | 'partner' | 'sensor';

export interface User {
  id: Id; username: string; display_name: string; role: Role; org_id: Id; org_name: string;
  /** Set when the account belongs to a field officer bound to one unit (optional in the contract). */
  unit_id?: Id | null;
}

export interface LoginResponse { token: string; expires_at: string; user: User }

export interface Page<T> { items: T[]; total: number; limit: number; offset: number }

export type UnitStatus = 'available' | 'dispatched' | 'en_route' | 'on_scene' | 'busy' | 'off_duty';
export type UnitKind = 'patrol_car' | 'foot_patrol' | 'motorcycle' | 'grid_worker' | 'volunteer' | 'drone';

export interface Unit {
  id: Id; callsign: string; kind: UnitKind; org_id: Id; status: UnitStatus;
  position: LatLng | null; position_at: string | null; stale: boolean; capabilities: string[];
  /** The incident the unit is assigned to, when the server includes it. */
  incident_id?: Id | null;
}

export type Priority = 'P1' | 'P2' | 'P3' | 'P4';
export type IncidentStatus =
  | 'created' | 'classified' | 'diverted' | 'dispatched' | 'acknowledged'
  | 'en_route' | 'on_scene' | 'cleared' | 'closed';

export interface IncidentUnit { unit_id: Id; callsign: string; status: string }

export interface Incident {
  /** Type and priority are null until the call is classified. */
  id: Id; number: string; status: IncidentStatus; type_code: string | null; type_name: string | null;
  priority: Priority | null; description: string; location: LatLng | null; address: string | null;
  org: { station_id: Id | null; station_name: string | null; district_id: Id | null; city_id: Id | null } | null;
  caller: { phone_masked: string | null; name_masked: string | null } | null;
  created_at: string; dispatched_at: string | null; arrived_at: string | null; closed_at: string | null;
  units: IncidentUnit[];
  timeline?: TimelineEntry[];
}

export interface TimelineEntry { at: string; kind: string; actor: string | null; detail: unknown }

export interface Suggestion {
  type_code: string; type_name: string; priority: Priority; confidence: number; evidence: string[];
}

export interface Duplicate { incident_id: Id; number: string; distance_m: number; minutes_ago: number }

export interface CallResponse { incident: Incident; suggestion: Suggestion | null; duplicates: Duplicate[]; receipt_code?: string | null }

export interface Recommendation {
  unit_id: Id; callsign: string; kind: UnitKind; eta_s: number; distance_m: number;
  first_responder: boolean; reasons: string[];
  /** Optional from the server: a sentence explaining the rank, and whether the position is old. */
  explanation?: string; position_stale?: boolean;
}

export interface TaxonomyType { code: string; name_zh: string; name_en: string; priority: Priority }

/**
 * An alert. The contract names `at`/`summary`/`org_id`; the server's alert module sends
 * `time`/`label`/`org_path` and word priorities (`low`…`critical`): both are accepted, read
 * through `alertTime`, `alertText` and `normalisePriority`.
 */
export interface Alert {
  id: Id; rule: string; watch_id: Id | null; priority: string; status: string;
  sensor_id: Id | null; location: LatLng | null;
  at?: string; time?: string; summary?: string; label?: string;
  org_id?: Id | null; org_path?: string; case_ref?: string | null;
  identifiers_masked?: unknown; identifiers?: { kind: string; value: string }[];
}

export function alertTime(a: Alert): string | null { return a.at ?? a.time ?? null; }
export function alertText(a: Alert): string { return a.summary ?? a.label ?? a.rule; }

export interface Sensor {
  id: Id; kind: string; name: string; location: LatLng | null; org_id: Id | null;
  status: string; last_seen_at?: string | null; last_seen?: string | null; silent?: boolean;
}

export interface Org {
  id: Id; parent_id: Id | null; kind: 'city' | 'district' | 'station'; code: string; name: string; has_area: boolean;
}

export interface HeatCell { h3: string; count: number; boundary: [number, number][] }

export interface Today {
  calls: number; incidents: number; dispatched: number; arrived: number;
  median_dispatch_s: number | null; median_arrival_s: number | null;
}

export interface Bbox { min_lat: number; min_lng: number; max_lat: number; max_lng: number; center: LatLng }

export interface AuditEntry {
  seq: number; at: string; user: string; role: string; action: string; object_type: string;
  object_ids: string[]; purpose: string | null; outcome: string;
}

export interface SearchHit {
  entity_id: Id; kind: string; title: string; snippet: string; fields_masked: Record<string, unknown>; score: number;
}

/** Geometry as GeoJSON (kept loose: the console only passes it to MapLibre or reads coordinates). */
export interface Feature { type: 'Feature'; geometry: { type: string; coordinates: unknown }; properties: Record<string, unknown> | null }
export interface FeatureCollection { type: 'FeatureCollection'; features: Feature[] }
