// E2E harness: starts a real `pingan demo` on a free localhost port with a throw-away data
// dir, launches Debian's chromium through playwright-core (never a downloaded browser) and
// offers login/screenshot helpers shared by the specs.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

const WEB_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const REPO_DIR = resolve(WEB_DIR, '..');
export const SCREENS_DIR = join(WEB_DIR, 'test-results', 'screens');

/** Demo accounts; the demo seeds them all with the same password. */
export const DEMO_PASSWORD = process.env.PINGAN_DEMO_PASSWORD ?? 'pingan-demo';
export const ACCOUNTS = {
  dispatcher: process.env.PINGAN_DISPATCHER ?? 'dispatcher',
  admin: process.env.PINGAN_ADMIN ?? 'admin',
};

export function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => ok(port));
    });
  });
}

export interface Server { url: string; stop(): Promise<void>; log(): string }

/** Starts `pingan demo` and waits for /healthz; the binary comes from PINGAN_BIN or target/debug. */
export async function startServer(): Promise<Server> {
  const bin = process.env.PINGAN_BIN ? resolve(process.env.PINGAN_BIN) : join(REPO_DIR, 'target', 'debug', 'pingan');
  if (!existsSync(bin)) throw new Error(`pingan binary not found at ${bin}: build it (cargo build -p pingan-cli) or set PINGAN_BIN`);
  if (!existsSync(join(WEB_DIR, 'dist', 'index.html'))) throw new Error('web/dist is missing: run `npm run build` first');
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'pingan-e2e-'));
  const url = `http://127.0.0.1:${port}`;
  let output = '';
  const child: ChildProcess = spawn(bin, ['demo', '--port', String(port), '--data-dir', dataDir], {
    cwd: REPO_DIR,
    env: { ...process.env, PINGAN_WEB_DIR: join(WEB_DIR, 'dist'), RUST_LOG: process.env.RUST_LOG ?? 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const keep = (b: Buffer) => { output = (output + b.toString()).slice(-20_000); };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let exited: number | null = null;
  child.on('exit', (code) => { exited = code ?? -1; });

  const deadline = Date.now() + Number(process.env.PINGAN_START_TIMEOUT_MS ?? 120_000);
  for (;;) {
    if (exited !== null) throw new Error(`pingan demo exited with ${exited} before becoming healthy:\n${output}`);
    try {
      const r = await fetch(`${url}/healthz`);
      if (r.ok) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) { child.kill('SIGKILL'); throw new Error(`pingan demo not healthy after timeout:\n${output}`); }
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    url,
    log: () => output,
    async stop() {
      if (exited === null) {
        const gone = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await Promise.race([gone, new Promise((r) => setTimeout(r, 5000))]);
        if (exited === null) child.kill('SIGKILL');
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Flags for Debian chromium in a container; SwiftShader provides WebGL without a GPU. */
export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: CHROMIUM_ARGS });
}

/** A page that records uncaught errors so specs can assert none happened. */
export async function newPage(ctx: BrowserContext): Promise<Page & { errors: string[] }> {
  const page = (await ctx.newPage()) as Page & { errors: string[] };
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  return page;
}

export async function login(page: Page, baseUrl: string, username: string, password = DEMO_PASSWORD): Promise<void> {
  await page.goto(`${baseUrl}/#/login`);
  await page.fill('input[name=username]', username);
  await page.fill('input[name=password]', password);
  await page.click('form.login-card button[type=submit]');
  await page.waitForSelector('header.topbar nav', { timeout: 20_000 });
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENS_DIR, { recursive: true });
  const path = join(SCREENS_DIR, `${name}.png`);
  await page.screenshot({ path });
  return path;
}

/** Waits until the city map has its style and base data on screen. */
export async function waitForMap(page: Page): Promise<void> {
  await page.waitForFunction(() => {
    const m = (window as unknown as { __pingan?: { map?: { map?: { loaded(): boolean } } } }).__pingan?.map?.map;
    return !!m && m.loaded();
  }, undefined, { timeout: 60_000 });
}

/** Direct API calls from the test process (setup steps that are not under test). */
export async function apiLogin(baseUrl: string, username: string, password = DEMO_PASSWORD): Promise<string> {
  const r = await fetch(`${baseUrl}/api/v1/auth/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ username, password }) });
  if (!r.ok) throw new Error(`login ${username}: ${r.status} ${await r.text()}`);
  return ((await r.json()) as { token: string }).token;
}

export async function api<T>(baseUrl: string, token: string, path: string, body?: unknown): Promise<T> {
  const r = await fetch(`${baseUrl}/api/v1${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { Authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!r.ok) throw new Error(`${path}: ${r.status} ${await r.text()}`);
  return (await r.json()) as T;
}
