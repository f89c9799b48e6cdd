// Entry point: the app shell (header, role-filtered navigation, language switch, live
// indicator) and the hash router that mounts one view at a time.

import './style.css';
import { post, setUnauthorizedHandler } from './api';
import { canOpen, clearSession, currentUser, homeFor, navFor, type Screen } from './auth';
import { lang, loadLang, onLangChange, setLang, t, type Key } from './i18n';
import { onStreamState, startLive, stopLive, streamState } from './live';
import { hooks } from './hooks';
import { parseHash, type Route } from './router';
import { h } from './ui';
import { resetBaseData } from './map/citymap';
import type { User } from './types';
import { loginView } from './views/login';
import { commandView } from './views/command';
import { intakeView } from './views/intake';
import { boardView } from './views/board';
import { incidentView } from './views/incident';
import { stationView } from './views/station';
import { officerView } from './views/officer';
import { alertsView } from './views/alerts';
import { watchesView } from './views/watches';
import { searchView } from './views/search';
import { auditView } from './views/audit';
import { ledgerView } from './views/ledger';
import { portalView } from './views/portal';
import { evaluationsView } from './views/evaluations';
import { notificationsView } from './views/notifications';

/** A view renders into `el` and returns its cleanup (unsubscribe, destroy map…). */
export type View = (el: HTMLElement, route: Route, user: User) => (() => void) | void;

const VIEWS: Record<Screen, View> = {
  command: commandView, intake: intakeView, board: boardView, incident: incidentView,
  station: stationView, officer: officerView, alerts: alertsView, watches: watchesView,
  search: searchView, audit: auditView, ledger: ledgerView,
  evaluations: evaluationsView, notifications: notificationsView,
};

const app = document.getElementById('app')!;
let cleanup: (() => void) | void;


function langButton(): HTMLButtonElement {
  return h('button.lang', { id: 'lang-switch', onclick: () => setLang(lang() === 'zh' ? 'en' : 'zh') }, t('lang.switch'));
}

function shell(user: User, active: string): HTMLElement {
  const live = h('span.live', { id: 'live-state' });
  const paint = () => {
    const s = streamState();
    live.className = `live ${s}`;
    live.textContent = s === 'open' ? `● ${t('common.live')}` : s === 'error' ? `● ${t('common.offline')}` : '●';
  };
  paint();
  const off = onStreamState(paint);
  const nav = h('nav', {}, navFor(user.role).map((s) =>
    h('a', { href: `#/${s}`, class: s === active || (active === 'incident' && s === 'board') ? 'active' : '', 'data-nav': s }, t(`nav.${s}` as Key))));
  const header = h('header.topbar', {},
    h('div.brand', {}, t('app.short')),
    nav,
    h('div.spacer', {}),
    live,
    h('span.user', {}, `${user.display_name} · ${user.org_name}`),
    langButton(),
    h('button', { id: 'logout', onclick: async () => {
      try { await post('/auth/logout'); } catch { /* token may already be invalid */ }
      logout();
    } }, t('nav.logout')),
  );
  const prevCleanup = cleanupShell;
  cleanupShell = () => { off(); prevCleanup?.(); };
  return header;
}

let cleanupShell: (() => void) | null = null;

function logout(): void {
  clearSession();
  stopLive();
  resetBaseData();
  location.hash = '#/login';
}

function render(): void {
  cleanup?.();
  cleanup = undefined;
  cleanupShell?.();
  cleanupShell = null;
  hooks.map = null;
  document.title = t('app.title');
  const route = parseHash(location.hash);
  app.replaceChildren();

  if (route.name === 'portal') {
    const main = h('main.page.portal', {});
    app.append(h('header.topbar', {}, h('div.brand', {}, t('nav.portal')), h('div.spacer', {}), langButton()), main);
    portalView(main);
    return;
  }

  const user = currentUser();
  if (!user || route.name === 'login') {
    if (user && route.name === 'login') { location.hash = `#/${homeFor(user.role) ?? 'login'}`; return; }
    const main = h('main.page.login-page', {});
    app.append(main);
    loginView(main);
    return;
  }

  startLive();
  const screen = route.name as Screen;
  const home = homeFor(user.role);
  if (!route.name || !(screen in VIEWS)) {
    if (home) { location.hash = `#/${home}`; return; }
  }
  const main = h('main.page', { 'data-screen': screen });
  app.append(shell(user, screen), main);
  if (!(screen in VIEWS) || !canOpen(user.role, screen)) {
    main.append(h('div.error', {}, t('common.forbidden')));
    return;
  }
  main.classList.add(`screen-${screen}`);
  cleanup = VIEWS[screen](main, route, user);
}

setUnauthorizedHandler(() => {
  if (parseHash(location.hash).name !== 'portal') logout();
});

loadLang();
document.documentElement.lang = lang() === 'zh' ? 'zh-CN' : 'en';
window.addEventListener('hashchange', render);
onLangChange(render);
render();
