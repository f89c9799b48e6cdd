// Officer view, laid out for a phone: pick my unit once (remembered on this device), see my
// assignments and move through acknowledge → arrive → clear; my station's open alerts.

import { get, getAll, post, PURPOSE, query } from '../api';
import { formatDateTime, t, tEnum } from '../i18n';
import type { Route } from '../router';
import { store } from '../store';
import { isOpenIncident } from '../styles';
import { alertText, alertTime, key, type Alert, type Id, type Page, type Incident, type Unit, type UnitStatus, type User } from '../types';
import { busy, clear, errorBox, h, incidentStatusBadge, priorityBadge, select, toast, unitStatusBadge } from '../ui';

const UNIT_KEY = 'pingan.officer.unit';

/**
 * What each officer button sends to POST /units/{id}/status. `acknowledged` marks the incident
 * taken without moving the unit; `cleared` ends the unit's part and frees it.
 */
export type OfficerStep = 'acknowledged' | 'en_route' | 'on_scene' | 'cleared';
export const OFFICER_ACTIONS: { key: 'officer.ack' | 'officer.depart' | 'officer.arrive' | 'officer.clear'; status: OfficerStep; from: UnitStatus[] }[] = [
  { key: 'officer.ack', status: 'acknowledged', from: ['dispatched'] },
  { key: 'officer.depart', status: 'en_route', from: ['dispatched'] },
  { key: 'officer.arrive', status: 'on_scene', from: ['dispatched', 'en_route'] },
  { key: 'officer.clear', status: 'cleared', from: ['on_scene', 'busy'] },
];

/**
 * Actions that make sense from the unit's status and its incident's status: acknowledging
 * only while the incident still waits for it. The server has the final word.
 */
export function actionsFor(status: UnitStatus, incidentStatus: string): typeof OFFICER_ACTIONS {
  return OFFICER_ACTIONS.filter((a) => a.from.includes(status) && (a.status !== 'acknowledged' || incidentStatus === 'dispatched'));
}

export function officerView(el: HTMLElement, _route: Route, user: User): () => void {
  const unitSel = select([], localStorage.getItem(UNIT_KEY) ?? '', { id: 'officer-unit' });
  const me = h('div', { id: 'officer-me' });
  const list = h('div', { id: 'officer-assignments' });
  const alertsBox = h('div', { id: 'officer-alerts' });
  el.classList.add('phone');
  el.append(h('div.card', {}, h('label.field', {}, h('span', {}, t('officer.unit')), unitSel), me),
    h('div.card', {}, h('h3', {}, t('officer.assignments')), list),
    h('div.card', {}, h('h3', {}, t('officer.myAlerts')), alertsBox));

  const unitId = () => unitSel.value;

  function paint(): void {
    const u = store.units.get(unitId());
    clear(me, u ? h('div.row', {}, h('b', {}, u.callsign), unitStatusBadge(u.status)) : null);
    const mine = [...store.incidents.values()].filter((i) => isOpenIncident(i.status) && i.units.some((x) => key(x.unit_id) === unitId()));
    clear(list, mine.length === 0 ? h('div.muted', {}, t('officer.none')) : mine.map((i) => assignment(i, u)));
    // The server scopes alerts to the user's jurisdiction; an explicit org_id narrows further.
    const alerts = [...store.alerts.values()].filter((a) => a.status !== 'closed' && (a.org_id == null || key(a.org_id) === key(user.org_id)));
    clear(alertsBox, alerts.length === 0 ? h('div.muted', {}, t('common.empty')) : h('ul.list-plain', {}, alerts.slice(0, 20).map((a) =>
      h('li', {}, priorityBadge(a.priority), ' ', alertText(a), h('div.muted', {}, formatDateTime(alertTime(a)))))));
  }

  function assignment(i: Incident, u: Unit | undefined): HTMLElement {
    const status = u?.status ?? (i.units.find((x) => key(x.unit_id) === unitId())?.status as UnitStatus | undefined) ?? 'dispatched';
    return h('div.assignment', { 'data-incident-id': key(i.id) },
      h('div.row', {}, priorityBadge(i.priority), h('b', {}, i.type_name ?? '—'), incidentStatusBadge(i.status)),
      h('div', {}, i.address ?? ''),
      h('div.muted', {}, i.description),
      h('div.row.big-buttons', {}, actionsFor(status, i.status).map((a) => {
        const b = h('button.primary', { 'data-action': a.status }, t(a.key));
        b.addEventListener('click', () => void busy(b, async () => {
          const r = await post<{ status?: UnitStatus } | undefined>(`/units/${encodeURIComponent(unitId())}/status`, { status: a.status });
          const cur = store.units.get(unitId());
          // The server answers with the unit's resulting status (acknowledging keeps "dispatched").
          const next: UnitStatus = r?.status ?? (a.status === 'cleared' ? 'available' : a.status === 'acknowledged' ? status : a.status);
          if (cur) cur.status = next;
          if (a.status === 'acknowledged') i.status = 'acknowledged';
          toast(`${cur?.callsign ?? unitId()} · ${t(a.key)}`);
          paint();
        }));
        return b;
      })));
  }

  /** My incident may lie outside my station's list (a border call): fetch it by id. */
  function fetchMyIncident(incidentId: Id | null | undefined): void {
    if (incidentId == null || store.incidents.has(key(incidentId))) return;
    get<Incident>(`/incidents/${encodeURIComponent(key(incidentId))}`).then((i) => store.upsertIncidents([i])).catch(() => undefined);
  }

  unitSel.addEventListener('change', () => {
    localStorage.setItem(UNIT_KEY, unitSel.value);
    fetchMyIncident(store.units.get(unitSel.value)?.incident_id);
    paint();
  });
  const unsubscribe = store.subscribe((c) => {
    if (c.unitStatus.has(unitId())) fetchMyIncident(store.unitIncident.get(unitId()));
    paint();
  });

  void (async () => {
    try {
      const [unitList] = await Promise.all([
        getAll<Unit>(`/units${query({ org_id: user.org_id })}`),
        getAll<Incident>(`/incidents${query({ open: 'true', org_id: user.org_id })}`).then((items) => store.upsertIncidents(items)),
      ]);
      const units = { items: unitList };
      for (const u of units.items) if (!store.units.has(key(u.id))) store.units.set(key(u.id), u);
      const saved = user.unit_id != null ? key(user.unit_id) : (localStorage.getItem(UNIT_KEY) ?? '');
      unitSel.replaceChildren(...units.items.map((u) => h('option', { value: key(u.id) }, `${u.callsign} · ${tEnum('ukind', u.kind)}`)));
      unitSel.value = units.items.some((u) => key(u.id) === saved) ? saved : key(units.items[0]?.id);
      fetchMyIncident(store.units.get(unitSel.value)?.incident_id);
    } catch (e) {
      list.append(errorBox(e));
    }
    get<Page<Alert>>('/alerts?limit=200', PURPOSE.alerts).then((p) => store.upsertAlerts(p.items)).catch(() => undefined);
    paint();
  })();
  return unsubscribe;
}
