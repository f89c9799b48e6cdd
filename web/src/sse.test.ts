import { describe, expect, it } from 'vitest';
import { backoffMs, Batcher, parseEvent, streamUrl } from './sse';

/** A fake frame clock: `frame()` runs the callbacks scheduled for the next frame. */
function frames() {
  let now = 0;
  let queue: (() => void)[] = [];
  return {
    now: () => now,
    schedule: (cb: () => void) => { queue.push(cb); },
    frame(ms = 16) { now += ms; const q = queue; queue = []; for (const cb of q) cb(); },
    get scheduled() { return queue.length; },
  };
}

describe('Batcher', () => {
  it('delivers everything pushed before a frame in one flush', () => {
    const clock = frames();
    const got: number[][] = [];
    const b = new Batcher<number>((xs) => got.push(xs), { minIntervalMs: 250, now: clock.now, schedule: clock.schedule });
    for (let i = 0; i < 2000; i++) b.push(i);
    expect(clock.scheduled).toBe(1);
    clock.frame();
    expect(got).toHaveLength(1);
    expect(got[0]).toHaveLength(2000);
    expect(got[0][1999]).toBe(1999);
  });

  it('flushes at most once per interval however many frames pass', () => {
    const clock = frames();
    const got: number[][] = [];
    const b = new Batcher<number>((xs) => got.push(xs), { minIntervalMs: 250, now: clock.now, schedule: clock.schedule });
    // One second of 60 fps frames with an event every frame.
    for (let f = 0; f < 60; f++) { b.push(f); clock.frame(1000 / 60); }
    clock.frame(300);
    expect(got.length).toBeLessThanOrEqual(5);
    expect(got.length).toBeGreaterThanOrEqual(4);
    expect(got.flat()).toEqual([...Array(60).keys()]);
    expect(b.pending).toBe(0);
  });

  it('stops scheduling frames when idle', () => {
    const clock = frames();
    const b = new Batcher<number>(() => {}, { minIntervalMs: 0, now: clock.now, schedule: clock.schedule });
    b.push(1);
    clock.frame();
    expect(clock.scheduled).toBe(0);
    expect(b.flushes).toBe(1);
  });
});

describe('parseEvent', () => {
  it('parses known events and drops unknown names or bad JSON', () => {
    expect(parseEvent('unit.status', '{"id":"u1","status":"en_route","incident_id":null,"at":"t"}')).toEqual({
      type: 'unit.status', data: { id: 'u1', status: 'en_route', incident_id: null, at: 't' },
    });
    expect(parseEvent('unit.teleport', '{}')).toBeNull();
    expect(parseEvent('kpi.tick', '{oops')).toBeNull();
  });

  it('puts the token in the query string, escaped', () => {
    expect(streamUrl('a+b/c')).toBe('/api/v1/stream?access_token=a%2Bb%2Fc');
  });
});

describe('reconnect backoff', () => {
  it('doubles from one second up to thirty', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 20].map(backoffMs)).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
  });
});
