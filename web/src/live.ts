// Connects the store to the server: initial loads of units, open incidents and alerts, and
// the SSE stream whose events are batched (rAF, ≤4 flushes/s) before reaching the store.

import { get, getToken } from './api';
import { Batcher, LiveStream, streamUrl, type StreamState } from './sse';
import { store, type LiveEvent } from './store';
import type { Alert, Incident, Page, Unit } from './types';

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
    if (reconnected) {
      void loadUnits().catch(() => undefined);
      void loadOpenIncidents().catch(() => undefined);
    }
  });
  stream.start();
}

export function stopLive(): void {
  stream?.stop();
  stream = null;
  batcher = null;
}

/** Pushes an event through the same batching path as the stream (used by the perf harness). */
export function injectEvent(e: LiveEvent): void { batcher?.push(e); }

export async function loadUnits(orgId?: string): Promise<void> {
  const q = orgId ? `&org_id=${encodeURIComponent(orgId)}` : '';
  const page = await get<Page<Unit>>(`/units?limit=5000${q}`);
  store.setUnits(page.items);
}

export async function loadOpenIncidents(orgId?: string): Promise<Incident[]> {
  const q = orgId ? `&org_id=${encodeURIComponent(orgId)}` : '';
  const page = await get<Page<Incident>>(`/incidents?open=true&limit=5000${q}`);
  store.upsertIncidents(page.items);
  return page.items;
}

export async function loadAlerts(status?: string): Promise<Alert[]> {
  const page = await get<Page<Alert>>(`/alerts?limit=1000${status ? `&status=${status}` : ''}`);
  store.upsertAlerts(page.items);
  return page.items;
}
