// Station cockpit: the station's area on the map, its units, open incidents, alerts and
// KPIs, all following the live stream. Users above station level pick a station.

import { get, getAll, PURPOSE, query } from '../api';
import { formatDuration, formatNumber, formatPercent, t, tEnum, type Key } from '../i18n';
import { createMap } from '../map/citymap';
import { go, type Route } from '../router';
import { setCurrentMap } from '../hooks';
import { store } from '../store';
import { isOpenIncident } from '../styles';
import { alertText, key, type Alert, type Incident, type Org, type Page, type Unit, type User } from '../types';
import { clear, errorBox, h, incidentStatusBadge, priorityBadge, select, unitStatusBadge } from '../ui';

interface KpiGroup {
  org_id: string; type_code: string | null; count: number;
  call_to_dispatch?: { median_s: number | null }; dispatch_to_arrival?: { median_s: number | null };
  compliance?: { ratio?: number | null } | number | null;
}

const UNIT_LIST_MAX = 120;

export function stationView(el: HTMLElement, route: Route, user: User): () => void {
  const orgId = route.arg ?? key(user.org_id);
  const title = h('h2', {}, t('station.title', { name: user.org_name }));
  const picker = h('div.row', {});
  const kpis = h('div.tiles', { id: 'station-kpis' });
  const unitsBox = h('div', { id: 'station-units' });
  const incBox = h('div', { id: 'station-incidents' });
  const alertBox = h('div', { id: 'station-alerts' });
  const mapEl = h('div.map', { id: 'station-map' });
  el.append(h('div.cockpit', {},
    h('div.cockpit-map', {}, mapEl),
    h('div.cockpit-side', {},
      h('div.card', {}, title, picker, kpis),
      h('div.card', {}, h('h3', {}, t('station.incidents')), incBox),
      h('div.card', {}, h('h3', {}, t('station.units')), unitsBox),
      h('div.card', {}, h('h3', {}, t('station.alerts')), alertBox))));

  const map = createMap(mapEl, { focusOrgId: orgId, onIncidentClick: (id) => go('incident', id) });
  setCurrentMap(map);
  const unitIds = new Set<string>();
  let kpiGroups: KpiGroup[] = [];

  getAll<Org>('/orgs').then((orgs) => {
    const me = orgs.find((o) => key(o.id) === orgId);
    if (me) title.textContent = t('station.title', { name: me.name });
    const stations = orgs.filter((o) => o.kind === 'station');
    if (stations.length > 1 || me?.kind !== 'station') {
      // Above station level the user's own area comes first, so the picker shows what is on screen.
      const options: [string, string][] = stations.map((o) => [key(o.id), o.name]);
      if (!stations.some((o) => key(o.id) === orgId)) options.unshift([orgId, me?.name ?? user.org_name]);
      const sel = select(options, orgId, { id: 'station-picker' });
      sel.addEventListener('change', () => go('station', sel.value));
      picker.replaceChildren(sel);
    }
  }).catch(() => undefined);

  const myIncidents = (): Incident[] => [...store.incidents.values()]
    .filter((i) => isOpenIncident(i.status) && [i.org?.station_id, i.org?.district_id, i.org?.city_id].some((x) => x != null && key(x) === orgId))
    .sort((a, b) => (a.priority ?? 'P9').localeCompare(b.priority ?? 'P9') || b.created_at.localeCompare(a.created_at));
  const myUnits = (): Unit[] => [...unitIds].map((id) => store.units.get(id)).filter((u): u is Unit => !!u);
  const myAlerts = (): Alert[] => [...store.alerts.values()].filter((a) => a.status !== 'closed' && (a.org_id == null || key(a.org_id) === orgId));

  function paint(): void {
    const incs = myIncidents(), units = myUnits(), alerts = myAlerts();
    const total = kpiGroups.reduce((s, g) => s + g.count, 0);
    const medianOf = (k: 'call_to_dispatch' | 'dispatch_to_arrival') => {
      // Count-weighted mean of group medians: an approximation good enough for a cockpit tile.
      const gs = kpiGroups.filter((g) => g[k]?.median_s != null);
      const n = gs.reduce((s, g) => s + g.count, 0);
      return n ? gs.reduce((s, g) => s + (g[k]!.median_s as number) * g.count, 0) / n : null;
    };
    const compliance = kpiGroups.map((g) => typeof g.compliance === 'number' ? g.compliance : g.compliance?.ratio).find((v) => v != null) ?? null;
    const tile = (key: Key, v: string, id: string) => h('div.tile', { 'data-kpi': id }, h('b', {}, v), h('span', {}, t(key)));
    clear(kpis,
      tile('kpi.openIncidents', formatNumber(incs.length), 'open'),
      tile('kpi.unitsAvailable', formatNumber(units.filter((u) => u.status === 'available').length), 'available'),
      tile('kpi.openAlerts', formatNumber(alerts.length), 'alerts'),
      tile('kpi.incidents', formatNumber(total), 'total'),
      tile('kpi.medianDispatch', formatDuration(medianOf('call_to_dispatch')), 'median-dispatch'),
      tile('kpi.medianArrival', formatDuration(medianOf('dispatch_to_arrival')), 'median-arrival'),
      compliance != null ? tile('kpi.vsTarget', formatPercent(compliance), 'compliance') : null);
    clear(incBox, incs.length === 0 ? h('div.muted', {}, t('common.empty')) : h('ul.list-plain', {}, incs.slice(0, 50).map((i) =>
      h('li', {}, priorityBadge(i.priority), ' ', h('a', { href: `#/incident/${i.id}` }, i.number), ' ', i.type_name ?? '—', ' ', incidentStatusBadge(i.status)))));
    // Busy units first; a city-level list is capped so a repaint stays cheap (the map shows all).
    const shown = [...units].sort((a, b) => Number(a.status === 'available') - Number(b.status === 'available')).slice(0, UNIT_LIST_MAX);
    clear(unitsBox, units.length === 0 ? h('div.muted', {}, t('common.empty')) : [
      units.length > shown.length ? h('div.muted', {}, t('common.total', { n: units.length })) : null,
      h('ul.list-plain.units-grid', {}, shown.map((u) =>
        h('li', { 'data-unit-id': key(u.id) }, h('b', {}, u.callsign), ' ', h('span.muted', {}, tEnum('ukind', u.kind)), ' ', unitStatusBadge(u.status))))]);
    clear(alertBox, alerts.length === 0 ? h('div.muted', {}, t('common.empty')) : h('ul.list-plain', {}, alerts.slice(0, 30).map((a) =>
      h('li', {}, priorityBadge(a.priority), ' ', alertText(a)))));
    map?.setUnits(units);
    map?.setIncidents(incs);
    map?.setAlerts(alerts);
  }

  let scheduled = false;
  const unsubscribe = store.subscribe(() => {
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(() => { scheduled = false; paint(); });
  });

  void (async () => {
    await map?.ready.catch(() => undefined);
    const results = await Promise.allSettled([
      getAll<Unit>(`/units${query({ org_id: orgId })}`).then((items) => {
        for (const u of items) { unitIds.add(key(u.id)); if (!store.units.has(key(u.id))) store.units.set(key(u.id), u); }
      }),
      getAll<Incident>(`/incidents${query({ open: 'true', org_id: orgId })}`).then((items) => store.upsertIncidents(items)),
      get<Page<Alert>>(`/alerts${query({ limit: 500 })}`, PURPOSE.alerts).then((p) => store.upsertAlerts(p.items)),
      get<{ groups: KpiGroup[] }>(`/kpis${query({ org_id: orgId })}`).then((k) => { kpiGroups = k.groups ?? []; }),
    ]);
    paint();
    const failed = results.find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined;
    if (failed) kpis.after(errorBox(failed.reason));
  })();

  return () => { unsubscribe(); map?.destroy(); };
}
