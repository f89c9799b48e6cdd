import { describe, expect, it } from 'vitest';
import { ApiError, errorFrom, query } from './api';
import { parseHash } from './router';

describe('query strings', () => {
  it('skips empty values and escapes the rest', () => {
    expect(query({ a: 'x y', b: '', c: null, d: undefined, e: 0, f: true })).toBe('?a=x+y&e=0&f=true');
    expect(query({})).toBe('');
  });
});

describe('errorFrom', () => {
  it('reads the contract error shape', async () => {
    const res = new Response(JSON.stringify({ error: { code: 'purpose_required', message: 'X-Purpose header required', field: 'X-Purpose' } }), { status: 400 });
    const e = await errorFrom(res);
    expect(e).toBeInstanceOf(ApiError);
    expect([e.status, e.code, e.message, e.field]).toEqual([400, 'purpose_required', 'X-Purpose header required', 'X-Purpose']);
  });

  it('survives non-JSON bodies', async () => {
    const e = await errorFrom(new Response('not found here', { status: 404, statusText: 'Not Found' }));
    expect([e.status, e.code, e.message]).toEqual([404, 'http_404', 'not found here']);
  });
});

describe('hash routes', () => {
  it('splits name, argument and query', () => {
    const r = parseHash('#/incident/abc%2F1?tab=timeline');
    expect(r.name).toBe('incident');
    expect(r.arg).toBe('abc/1');
    expect(r.query.get('tab')).toBe('timeline');
    expect(parseHash('')).toMatchObject({ name: '', arg: null });
  });
});
