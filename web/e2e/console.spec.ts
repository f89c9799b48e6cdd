// End-to-end: a dispatcher logs in, takes a call, sees it on the map, dispatches the
// recommended unit, a second browser context sees the unit's status change live, and the
// language switch persists. Screenshots of each main screen go to test-results/screens/.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { ACCOUNTS, api, apiLogin, launchBrowser, login, newPage, screenshot, startServer, waitForMap, type Server } from './harness';

let server: Server;
let browser: Browser;
let ctxA: BrowserContext;
let ctxB: BrowserContext;
let pageA: Page & { errors: string[] };
let pageB: Page & { errors: string[] };
let incidentId = '';
let unitId = '';

const VIEWPORT = { width: 1440, height: 900 };

beforeAll(async () => {
  server = await startServer();
  browser = await launchBrowser();
  ctxA = await browser.newContext({ viewport: VIEWPORT, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' });
  ctxB = await browser.newContext({ viewport: VIEWPORT, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' });
  pageA = await newPage(ctxA);
  pageB = await newPage(ctxB);
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe('dispatcher flow', () => {
  it('logs in and lands on the city command map with live layers', async () => {
    await login(pageA, server.url, ACCOUNTS.dispatcher);
    expect(await pageA.locator('header.topbar nav a').evaluateAll((as) => as.map((a) => (a as HTMLElement).dataset.nav))).toEqual(['command', 'intake', 'board']);
    await waitForMap(pageA);
    await pageA.waitForFunction(() => (window as any).__pingan.store.units.size > 0, undefined, { timeout: 30_000 });
    await pageA.waitForSelector('#live-state.open', { timeout: 20_000 });
    await pageA.waitForTimeout(1000);
    await screenshot(pageA, '01-command');
    expect(pageA.errors).toEqual([]);
  });

  it('takes a call with a location picked on the map', async () => {
    await pageA.click('a[data-nav=intake]');
    await pageA.waitForSelector('#intake-map');
    await waitForMap(pageA);
    await pageA.selectOption('select[name=channel]', '110');
    await pageA.fill('input[name=phone]', '13800138000');
    await pageA.fill('textarea[name=description]', '有人在商场门口打架，有人受伤流血');
    await pageA.click('#pick-on-map');
    const box = (await pageA.locator('#intake-map canvas.maplibregl-canvas').boundingBox())!;
    await pageA.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
    await expect.poll(() => pageA.textContent('#picked-location')).toMatch(/^\d+\.\d{5}, \d+\.\d{5}$/);
    await pageA.click('#submit-call');
    const card = pageA.locator('#intake-result [data-incident-id]');
    // Either the result card or an error toast: fail fast with the server's message.
    await pageA.waitForSelector('#intake-result [data-incident-id], .toast.error', { timeout: 20_000 });
    const failure = await pageA.locator('.toast.error').allTextContents();
    expect(failure, 'POST /calls failed').toEqual([]);
    incidentId = (await card.getAttribute('data-incident-id'))!;
    expect(incidentId).toBeTruthy();
    // The suggestion block shows a priority badge and the duplicates section is present.
    expect(await pageA.locator('#intake-result [data-priority]').count()).toBeGreaterThan(0);
    expect(await pageA.locator('#duplicates, #no-duplicates').count()).toBe(1);
    await screenshot(pageA, '02-intake');
  });

  it('shows the new incident on the city map', async () => {
    expect(incidentId, 'needs the incident taken in the previous step').not.toBe('');
    await pageA.click('a[data-nav=command]');
    await waitForMap(pageA);
    await pageA.waitForFunction((id) => (window as any).__pingan.store.incidents.has(id), incidentId, { timeout: 20_000 });
    // Rendered (not just held in state): the incident overlay drew it at the incident's pixel.
    await pageA.waitForFunction((id) => {
      const p = (window as any).__pingan;
      const inc = p.store.incidents.get(id);
      const pt = p.map.map.project([inc.location.lng, inc.location.lat]);
      const at = p.map.incidents.drawnAt(id);
      return !!at && Math.abs(at.x - pt.x) < 1 && Math.abs(at.y - pt.y) < 1;
    }, incidentId, { timeout: 20_000 });
  });

  it('shows a unit\'s details when its dot is clicked', async () => {
    if (!(await pageA.$('#city-map'))) await pageA.click('a[data-nav=command]');
    await waitForMap(pageA);
    await pageA.waitForFunction(() => (window as any).__pingan.store.units.size > 0, undefined, { timeout: 30_000 });
    const target = await pageA.evaluate(() => {
      const p = (window as any).__pingan;
      const m = p.map.map;
      const c = m.getCanvas();
      for (const u of p.store.units.values()) {
        if (!u.position) continue;
        const pt = m.project([u.position.lng, u.position.lat]);
        if (pt.x > 200 && pt.x < c.clientWidth - 60 && pt.y > 60 && pt.y < c.clientHeight - 60) return { id: u.id, x: pt.x, y: pt.y };
      }
      return null;
    });
    expect(target).not.toBeNull();
    const box = (await pageA.locator('#city-map canvas.maplibregl-canvas').boundingBox())!;
    await pageA.mouse.click(box.x + target!.x, box.y + target!.y);
    await pageA.waitForSelector('.unit-popup', { timeout: 10_000 });
  });

  it('dispatches the recommended unit and a second context sees its status change live', async () => {
    expect(incidentId, 'needs the incident taken in the previous step').not.toBe('');
    // Second dispatcher watches the same incident from another browser context.
    await login(pageB, server.url, ACCOUNTS.dispatcher);
    await pageB.waitForFunction(() => (window as any).__pingan.store.units.size > 0, undefined, { timeout: 30_000 });
    await pageB.goto(`${server.url}/#/incident/${incidentId}`);
    await pageB.waitForSelector('#incident-head h2');
    await pageB.waitForSelector('#live-state.open', { timeout: 20_000 });

    await pageA.goto(`${server.url}/#/incident/${incidentId}`);
    const first = pageA.locator('#recommendation-table tbody tr').first();
    await first.waitFor({ timeout: 20_000 });
    unitId = (await first.getAttribute('data-unit-id'))!;
    expect(await pageB.evaluate((u) => (window as any).__pingan.store.units.get(u)?.status, unitId)).toBe('available');
    await screenshot(pageA, '03-incident-before-dispatch');
    await pageA.click('#dispatch-top');
    await pageA.waitForSelector(`#incident-units [data-unit-id="${unitId}"]`, { timeout: 20_000 });

    // B never reloads: the change arrives over SSE.
    await pageB.waitForSelector(`#incident-units [data-unit-id="${unitId}"] [data-status]`, { timeout: 20_000 });
    await pageB.waitForFunction((u) => ['dispatched', 'en_route', 'on_scene'].includes((window as any).__pingan.store.units.get(u)?.status), unitId, { timeout: 20_000 });
    const status = await pageB.getAttribute(`#incident-units [data-unit-id="${unitId}"] [data-status]`, 'data-status');
    expect(['dispatched', 'en_route', 'on_scene']).toContain(status);
    await screenshot(pageB, '04-incident-live-second-context');
    await screenshot(pageA, '05-incident-dispatched');
  });

  it('lists the incident on the dispatch board', async () => {
    expect(incidentId, 'needs the incident taken in the previous step').not.toBe('');
    await pageA.click('a[data-nav=board]');
    await pageA.waitForSelector(`#incident-table tr[data-incident-id="${incidentId}"]`, { timeout: 20_000 });
    await screenshot(pageA, '06-board');
  });

  it('switches to English and keeps the choice across reloads', async () => {
    await pageA.click('#lang-switch');
    await pageA.waitForFunction(() => document.querySelector('a[data-nav=command]')?.textContent === 'City view');
    expect(await pageA.textContent('a[data-nav=board]')).toBe('Dispatch board');
    expect(await pageA.evaluate(() => localStorage.getItem('pingan.lang'))).toBe('en');
    await pageA.reload();
    await pageA.waitForSelector('a[data-nav=intake]');
    expect(await pageA.textContent('a[data-nav=intake]')).toBe('Call taking');
    await screenshot(pageA, '07-board-english');
    await pageA.click('#lang-switch');
    await pageA.waitForFunction(() => document.querySelector('a[data-nav=command]')?.textContent === '全域态势');
    expect(pageA.errors).toEqual([]);
    expect(pageB.errors).toEqual([]);
  });
});

describe('officer on a phone', () => {
  it('acknowledges and arrives from the officer view while a dispatcher watches live', async () => {
    // Setup through the API: find an officer bound to a unit, raise an incident at the unit and dispatch it.
    const admin = await apiLogin(server.url, ACCOUNTS.admin);
    const users = await api<{ items: { username: string; role: string; unit_id: number | null }[] }>(server.url, admin, '/users?limit=1000');
    const officer = users.items.find((u) => u.role === 'station_officer' && u.unit_id != null);
    expect(officer, 'the demo seeds station officers bound to units').toBeTruthy();
    const unitKey = String(officer!.unit_id);
    const disp = await apiLogin(server.url, ACCOUNTS.dispatcher);
    const unit = await api<{ position: { lat: number; lng: number } | null; status: string }>(server.url, disp, `/units/${unitKey}`);
    const bbox = await api<{ center: { lat: number; lng: number } }>(server.url, disp, '/geo/bbox');
    const call = await api<{ incident: { id: number | string } }>(server.url, disp, '/calls', {
      channel: '110', caller_phone: '13900139000', description: '邻居家中传出呼救声，请求民警到场查看', location: unit.position ?? bbox.center,
    });
    const incKey = String(call.incident.id);
    await api(server.url, disp, `/incidents/${incKey}/dispatch`, { unit_ids: [officer!.unit_id] });

    // The dispatcher in context B watches this incident.
    await pageB.goto(`${server.url}/#/incident/${incKey}`);
    await pageB.waitForSelector(`#incident-units [data-unit-id="${unitKey}"]`, { timeout: 20_000 });

    const ctx = await browser.newContext({ viewport: { width: 390, height: 844 }, locale: 'zh-CN', timezoneId: 'Asia/Shanghai', isMobile: true, hasTouch: true });
    const phone = await newPage(ctx);
    await login(phone, server.url, officer!.username);
    await phone.goto(`${server.url}/#/officer`);
    await phone.waitForFunction((u) => (document.querySelector('#officer-unit') as HTMLSelectElement | null)?.value === u, unitKey, { timeout: 20_000 });
    const card = phone.locator(`.assignment[data-incident-id="${incKey}"]`);
    await card.waitFor({ timeout: 20_000 });
    await screenshot(phone, '22-officer-assignment');
    await card.locator('button[data-action=acknowledged]').click();
    await pageB.waitForSelector('#incident-status [data-status=acknowledged]', { timeout: 20_000 });
    await card.locator('button[data-action=en_route]').click();
    await pageB.waitForSelector(`#incident-units [data-unit-id="${unitKey}"] [data-status=en_route]`, { timeout: 20_000 });
    await card.locator('button[data-action=on_scene]').click();
    await pageB.waitForSelector(`#incident-units [data-unit-id="${unitKey}"] [data-status=on_scene]`, { timeout: 20_000 });
    await screenshot(phone, '23-officer-on-scene');
    await screenshot(pageB, '24-dispatcher-sees-on-scene');
    expect(phone.errors, phone.errors.join('\n')).toEqual([]);
    await ctx.close();
  });
});

describe('other screens', () => {
  it('renders every admin screen without a script error', async () => {
    const ctx = await browser.newContext({ viewport: VIEWPORT, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' });
    const page = await newPage(ctx);
    await login(page, server.url, ACCOUNTS.admin);
    const screens = await page.locator('header.topbar nav a').evaluateAll((as) => as.map((a) => (a as HTMLElement).dataset.nav!));
    expect(screens).toEqual(['command', 'intake', 'board', 'station', 'officer', 'alerts', 'watches', 'search', 'audit', 'ledger', 'evaluations', 'notifications']);
    for (const [n, s] of screens.entries()) {
      await page.click(`a[data-nav=${s}]`);
      await page.waitForSelector(`main[data-screen=${s}]`);
      if (s === 'station' || s === 'command' || s === 'intake') await waitForMap(page);
      if (s === 'command') {
        // Heat layers load on demand; a missing endpoint must show an error, not break the page.
        await page.check('input[data-layer=heat]');
        await page.check('input[data-layer=crowd]');
      }
      await page.waitForLoadState('networkidle').catch(() => undefined);
      await page.waitForTimeout(500);
      expect(await page.locator('main').innerText()).not.toBe('');
      await screenshot(page, `1${n}-admin-${s}`);
    }
    // The officer view is laid out for a phone.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.click('a[data-nav=officer]');
    await page.waitForSelector('#officer-assignments');
    await page.waitForTimeout(500);
    await screenshot(page, '21-officer-phone');
    await page.setViewportSize(VIEWPORT);
    // Client validation blocks an incomplete watch before any request is made.
    await page.click('a[data-nav=watches]');
    await page.click('#create-watch');
    expect(await page.locator('#watch-form .field.invalid').count()).toBeGreaterThanOrEqual(3);
    expect(page.errors).toEqual([]);
    await ctx.close();
  });

  it('serves the public citizen portal without login and verifies the case in the browser', async () => {
    // A call taken by a dispatcher yields the caller's receipt code.
    const token = await apiLogin(server.url, ACCOUNTS.dispatcher);
    const call = await api<{ incident: { number: string }; receipt_code: string | null }>(server.url, token, '/calls', {
      channel: '110', caller_phone: '13912345678', description: '家门口的电动车被人偷走了',
      location: (await api<{ center: { lat: number; lng: number } }>(server.url, token, '/geo/bbox')).center,
    });
    expect(call.receipt_code).toBeTruthy();
    const ctx = await browser.newContext({ viewport: { width: 420, height: 860 }, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' });
    const page = await newPage(ctx);
    await page.goto(`${server.url}/#/portal`);
    // Wrong digits reveal nothing: a readable error, no case.
    await page.fill('#portal-code', call.receipt_code!);
    await page.fill('#portal-phone4', '0000');
    await page.click('form.portal-card button[type=submit]');
    await page.waitForSelector('#portal-result .error', { timeout: 20_000 });
    expect(await page.locator('#portal-case').count()).toBe(0);
    await page.fill('#portal-phone4', '5678');
    await page.click('form.portal-card button[type=submit]');
    await page.waitForSelector('#portal-case', { timeout: 20_000 });
    expect(await page.textContent('#portal-case h3')).toContain(call.incident.number);
    // The inclusion proof is checked here, against the signed checkpoint.
    await page.waitForSelector('#portal-proof[data-verified]', { timeout: 20_000 });
    expect(await page.getAttribute('#portal-proof', 'data-verified')).toBe('true');
    await screenshot(page, '20-portal');
    expect(page.errors).toEqual([]);
    await ctx.close();
  });
});
