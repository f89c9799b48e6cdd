// Dispatch board: the incident list with status/priority/open filters, kept current by the
// live stream (changed rows are replaced, new matching incidents appear at the top).

import { get, query } from '../api';
import { formatDateTime, t, tEnum } from '../i18n';
import { go } from '../router';
import { store, type Change } from '../store';
import { isOpenIncident } from '../styles';
import { key, type Incident, type IncidentStatus, type Page, type Priority } from '../types';
import { clear, errorBox, h, incidentStatusBadge, loading, priorityBadge, select } from '../ui';

const STATUSES: IncidentStatus[] = ['created', 'classified', 'diverted', 'dispatched', 'acknowledged', 'en_route', 'on_scene', 'cleared', 'closed'];
const PAGE = 100;

export interface BoardFilter { status: string; priority: string; open: boolean }

/** Whether an incident belongs in a list filtered this way (used for live inserts). */
export function matchesFilter(i: Incident, f: BoardFilter): boolean {
  if (f.status && i.status !== f.status) return false;
  if (f.priority && i.priority !== f.priority) return false;
  if (f.open && !isOpenIncident(i.status)) return false;
  return true;
}

export function boardView(el: HTMLElement): () => void {
  const status = select([['', t('common.all')], ...STATUSES.map((s) => [s, tEnum('istatus', s)] as [string, string])], '', { id: 'filter-status' });
  const priority = select([['', t('common.all')], ...(['P1', 'P2', 'P3', 'P4'] as Priority[]).map((p) => [p, tEnum('priority', p)] as [string, string])], '', { id: 'filter-priority' });
  const openOnly = h('input', { type: 'checkbox', id: 'filter-open' });
  openOnly.checked = true;
  const total = h('span.muted', {});
  const body = h('div', {});
  const prev = h('button', {}, t('common.prev'));
  const next = h('button', {}, t('common.next'));
  let offset = 0;
  let items: Incident[] = [];
  let count = 0;

  el.append(h('div.card', {},
    h('div.row.filters', {},
      h('h2', {}, t('board.title')),
      h('label', {}, t('board.status'), ' ', status),
      h('label', {}, t('board.priority'), ' ', priority),
      h('label', {}, openOnly, ' ', t('board.openOnly')),
      h('button', { onclick: () => void load() }, t('common.refresh')),
      total),
    body,
    h('div.row', {}, prev, next)));

  const filter = (): BoardFilter => ({ status: status.value, priority: priority.value, open: openOnly.checked });

  function renderRows(): void {
    total.textContent = t('common.total', { n: count });
    prev.disabled = offset === 0;
    next.disabled = offset + PAGE >= count;
    if (items.length === 0) { clear(body, h('div.muted', {}, t('common.empty'))); return; }
    clear(body, h('table.list', { id: 'incident-table' },
      h('thead', {}, h('tr', {}, ['board.number', 'board.priority', 'board.type', 'board.status', 'board.address', 'board.station', 'board.created', 'board.units'].map((k) => h('th', {}, t(k as never))))),
      h('tbody', {}, items.map((i) => h('tr', { 'data-incident-id': key(i.id), onclick: () => go('incident', key(i.id)) },
        h('td', {}, h('a', { href: `#/incident/${i.id}` }, i.number)),
        h('td', {}, priorityBadge(i.priority)),
        h('td', {}, i.type_name ?? '—'),
        h('td', {}, incidentStatusBadge(i.status)),
        h('td', {}, i.address ?? '—'),
        h('td', {}, i.org?.station_name ?? '—'),
        h('td', {}, formatDateTime(i.created_at)),
        h('td', {}, i.units.map((u) => u.callsign).join(', ') || '—'))))));
  }

  async function load(): Promise<void> {
    clear(body, loading());
    try {
      const f = filter();
      const page = await get<Page<Incident>>(`/incidents${query({ status: f.status, priority: f.priority, open: f.open ? 'true' : '', limit: PAGE, offset })}`);
      items = page.items;
      count = page.total;
      store.upsertIncidents(items);
      renderRows();
    } catch (e) {
      clear(body, errorBox(e));
    }
  }

  for (const c of [status, priority, openOnly]) c.addEventListener('change', () => { offset = 0; void load(); });
  prev.addEventListener('click', () => { offset = Math.max(0, offset - PAGE); void load(); });
  next.addEventListener('click', () => { offset += PAGE; void load(); });

  const unsubscribe = store.subscribe((c: Change) => {
    if (c.incidents.size === 0) return;
    const f = filter();
    let dirty = false;
    for (const id of c.incidents) {
      const inc = store.incidents.get(id);
      if (!inc) continue;
      const at = items.findIndex((x) => key(x.id) === id);
      if (at >= 0) {
        // Rows that stop matching (e.g. closed while "open only") stay until the next reload,
        // so a row does not vanish under the dispatcher's cursor.
        items[at] = inc; dirty = true;
      } else if (offset === 0 && matchesFilter(inc, f)) {
        items.unshift(inc); count++; dirty = true;
      }
    }
    if (dirty) renderRows();
  });

  void load();
  return unsubscribe;
}
