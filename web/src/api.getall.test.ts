import { afterEach, describe, expect, it, vi } from 'vitest';
import { getAll, MAX_PAGE } from './api';

afterEach(() => vi.unstubAllGlobals());

describe('getAll', () => {
  it('reads every page within the server limit', async () => {
    const total = 2500;
    const seen: string[] = [];
    vi.stubGlobal('fetch', async (url: string) => {
      seen.push(url);
      const u = new URL(url, 'http://x');
      const limit = Number(u.searchParams.get('limit'));
      const offset = Number(u.searchParams.get('offset'));
      const items = Array.from({ length: Math.max(0, Math.min(limit, total - offset)) }, (_, i) => offset + i);
      return new Response(JSON.stringify({ items, total, limit, offset }), { headers: { 'Content-Type': 'application/json' } });
    });
    const all = await getAll<number>('/units?org_id=3');
    expect(all).toHaveLength(total);
    expect(all[0]).toBe(0);
    expect(all[total - 1]).toBe(total - 1);
    expect(seen).toEqual([
      `/api/v1/units?org_id=3&limit=${MAX_PAGE}&offset=0`,
      `/api/v1/units?org_id=3&limit=${MAX_PAGE}&offset=1000`,
      `/api/v1/units?org_id=3&limit=${MAX_PAGE}&offset=2000`,
    ]);
  });

  it('stops at the cap', async () => {
    vi.stubGlobal('fetch', async () => new Response(JSON.stringify({ items: Array(1000).fill(1), total: 9000 }), { headers: { 'Content-Type': 'application/json' } }));
    expect(await getAll<number>('/alerts', 1500)).toHaveLength(1500);
  });
});
