// Connects the store to the server: initial loads of units, open incidents and alerts, and
// the SSE stream whose events are batched (rAF, ≤4 flushes/s) before reaching the store.

import { getAll, getToken, PURPOSE } from './api';
import { Batcher, LiveStream, streamUrl, type StreamState } from './sse';
import { store, type LiveEvent } from './store';
import type { Alert, Incident, Unit } from './types';

let stream: LiveStream | null = null;
let batcher: Batcher<LiveEvent> | null = null;
let state: StreamState = 'connecting';
const stateListeners = new Set<(s: StreamState) => void>();

export function streamState(): StreamState { return state; }
export function onStreamState(f: (s: StreamState) => void): () => void {
  stateListeners.add(f);
  return () => stateListeners.delete(f);
}

export function startLive(): void {
  const token = getToken();
  if (!token || stream) return;
  batcher = new Batcher<LiveEvent>((events) => store.applyBatch(events), { minIntervalMs: 250 });
  stream = new LiveStream(() => { const t = getToken(); return t ? streamUrl(t) : null; }, (e) => batcher?.push(e), (s, reconnected) => {
    state = s;
    for (const f of stateListeners) f(s);
    // Events sent while we were away are lost: re-read the live state once back.
    if (reconnected) resync();
  }, resync);
  stream.start();
}

let lastResync = 0;

/** Re-reads units and open incidents, at most every 5 s however often the server asks. */
function resync(): void {
  const now = Date.now();
  if (now - lastResync < 5000) return;
  lastResync = now;
  void loadUnits().catch(() => undefined);
  void loadOpenIncidents().catch(() => undefined);
}

export function stopLive(): void {
  stream?.stop();
  stream = null;
  batcher = null;
}

/** Pushes an event through the same batching path as the stream (used by the perf harness). */
export function injectEvent(e: LiveEvent): void { batcher?.push(e); }

export async function loadUnits(orgId?: string): Promise<void> {
  const q = orgId ? `?org_id=${encodeURIComponent(orgId)}` : '';
  store.setUnits(await getAll<Unit>(`/units${q}`));
}

export async function loadOpenIncidents(orgId?: string): Promise<Incident[]> {
  const q = orgId ? `&org_id=${encodeURIComponent(orgId)}` : '';
  const items = await getAll<Incident>(`/incidents?open=true${q}`);
  store.upsertIncidents(items);
  return items;
}

export async function loadAlerts(status?: string): Promise<Alert[]> {
  const items = await getAll<Alert>(`/alerts${status ? `?status=${status}` : ''}`, 2000, PURPOSE.alerts);
  store.upsertAlerts(items);
  return items;
}
