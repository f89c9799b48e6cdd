// Test and performance hooks on `window.__pingan`: the e2e specs read live state and the
// current map through this object instead of scraping the canvas.

import { lang } from './i18n';
import { injectEvent } from './live';
import { store } from './store';

export const hooks = { store, injectEvent, lang, map: null as unknown };
(globalThis as unknown as { __pingan: typeof hooks }).__pingan = hooks;

export function setCurrentMap(m: unknown): void { hooks.map = m; }
