// SSE connection to /api/v1/stream and the batcher that turns a stream of events into at
// most a few store updates per second, aligned to animation frames.

import { LIVE_EVENT_NAMES, type LiveEvent } from './store';

export interface BatcherOptions {
  /** Minimum time between two flushes; 250 ms = at most 4 redraws a second. */
  minIntervalMs?: number;
  now?: () => number;
  /** Schedules a callback for the next frame (requestAnimationFrame in the browser). */
  schedule?: (cb: () => void) => void;
}

/**
 * Collects items and hands them to `flush` in one array, no more often than `minIntervalMs`,
 * and only from the scheduler's callback, so map `setData` runs inside an animation frame.
 */
export class Batcher<T> {
  private queue: T[] = [];
  private scheduled = false;
  private lastFlush = -Infinity;
  private readonly minIntervalMs: number;
  private readonly now: () => number;
  private readonly schedule: (cb: () => void) => void;
  flushes = 0;

  constructor(private readonly flush: (items: T[]) => void, opts: BatcherOptions = {}) {
    this.minIntervalMs = opts.minIntervalMs ?? 250;
    this.now = opts.now ?? (() => performance.now());
    this.schedule = opts.schedule ?? ((cb) => {
      if (typeof requestAnimationFrame === 'function') requestAnimationFrame(() => cb());
      else setTimeout(cb, 16);
    });
  }

  get pending(): number { return this.queue.length; }

  push(item: T): void {
    this.queue.push(item);
    if (!this.scheduled) {
      this.scheduled = true;
      this.schedule(this.tick);
    }
  }

  private tick = (): void => {
    if (this.now() - this.lastFlush < this.minIntervalMs) {
      // Too soon: wait for a later frame rather than a timer, so we never flush off-frame.
      this.schedule(this.tick);
      return;
    }
    this.scheduled = false;
    const items = this.queue;
    this.queue = [];
    this.lastFlush = this.now();
    if (items.length > 0) {
      this.flushes += 1;
      this.flush(items);
    }
  };
}

/** Parses one SSE message into a typed event; malformed payloads are dropped, not thrown. */
export function parseEvent(type: string, data: string): LiveEvent | null {
  if (!(LIVE_EVENT_NAMES as readonly string[]).includes(type)) return null;
  try {
    return { type, data: JSON.parse(data) } as LiveEvent;
  } catch {
    return null;
  }
}

export type StreamState = 'connecting' | 'open' | 'error';

/** Reconnect delay after the n-th consecutive failure: 1 s doubling to at most 30 s. */
export function backoffMs(failures: number): number {
  return Math.min(30_000, 1000 * 2 ** Math.max(0, failures - 1));
}

/**
 * Owns one EventSource. The browser retries dropped connections itself, but gives up for good
 * on an HTTP error (e.g. 401, 502 while the server restarts); then we reopen with backoff.
 */
export class LiveStream {
  private source: EventSource | null = null;
  private failures = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;
  constructor(
    private readonly url: () => string | null,
    private readonly onEvent: (e: LiveEvent) => void,
    private readonly onState: (s: StreamState, reconnected: boolean) => void = () => {},
    /** The server dropped events for this slow subscriber (`resync`): state must be re-read. */
    private readonly onResync: () => void = () => {},
  ) {}

  start(): void {
    this.stopped = false;
    if (this.source) return;
    const url = this.url();
    if (!url) return;
    this.onState('connecting', false);
    const es = new EventSource(url);
    this.source = es;
    es.onopen = () => {
      const reconnected = this.failures > 0;
      this.failures = 0;
      this.onState('open', reconnected);
    };
    es.onerror = () => {
      this.failures++;
      this.onState('error', false);
      if (es.readyState === EventSource.CLOSED && !this.stopped) {
        this.source = null;
        this.timer = setTimeout(() => { this.timer = null; this.start(); }, backoffMs(this.failures));
      }
    };
    es.addEventListener('resync', () => this.onResync());
    for (const name of LIVE_EVENT_NAMES) {
      es.addEventListener(name, (m) => {
        const ev = parseEvent(name, (m as MessageEvent<string>).data);
        if (ev) this.onEvent(ev);
      });
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.source?.close();
    this.source = null;
  }
}

export function streamUrl(token: string): string {
  return `/api/v1/stream?access_token=${encodeURIComponent(token)}`;
}
