// Incident page: details, assigned units (live status), timeline, recommended units with
// ETAs and one-key dispatch, reclassify, transfer and close.

import { get, getAll, post } from '../api';
import { formatDateTime, formatDistance, formatDuration, t, tEnum } from '../i18n';
import { loadTaxonomy, typeName } from './intake';
import type { Route } from '../router';
import { store } from '../store';
import { createMap } from '../map/citymap';
import { setCurrentMap } from '../hooks';
import { loadUnits } from '../live';
import { key, type Id, type Incident, type Org, type Priority, type Recommendation, type TimelineEntry, type Unit } from '../types';
import { busy, clear, errorBox, h, incidentStatusBadge, loading, priorityBadge, select, toast, unitStatusBadge } from '../ui';

function detailText(d: unknown): string {
  if (d == null) return '';
  if (typeof d === 'string') return d;
  if (typeof d === 'object') {
    return Object.entries(d as Record<string, unknown>).map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`).join(' · ');
  }
  return String(d);
}

export function incidentView(el: HTMLElement, route: Route): () => void {
  const id = route.arg ?? '';
  const head = h('div.card', { id: 'incident-head' }, loading());
  const unitsBox = h('div.card', { id: 'incident-units' });
  const recBox = h('div.card', { id: 'recommendations' });
  const mapEl = h('div.map.incident-map', { id: 'incident-map' });
  const actions = h('div.card', { id: 'incident-actions' });
  const timeline = h('div.card', { id: 'timeline' });
  el.append(h('div.incident-grid', {}, h('div', {}, head, unitsBox, actions), h('div', {}, mapEl, recBox, timeline)));
  const map = createMap(mapEl);
  setCurrentMap(map);
  let recommended: Recommendation[] = [];

  /** The incident and the units that matter to it (assigned and recommended), framed together. */
  async function paintMap(framing: boolean): Promise<void> {
    if (!map || !incident) return;
    await map.ready.catch(() => undefined);
    const ids = new Set([...incident.units.map((u) => key(u.unit_id)), ...recommended.map((r) => key(r.unit_id))]);
    const units = [...ids].map((u) => store.units.get(u)).filter((u): u is Unit => !!u?.position);
    map.setIncidents([incident]);
    map.setUnits(units);
    if (framing && incident.location) map.fitPoints([incident.location, ...units.map((u) => u.position!)]);
  }

  let incident: Incident | null = null;

  function renderHead(i: Incident): void {
    clear(head,
      h('h2', {}, t('incident.title', { number: i.number }), ' ', priorityBadge(i.priority), ' ', h('span', { id: 'incident-status' }, incidentStatusBadge(i.status))),
      h('dl.facts', {},
        h('dt', {}, t('board.type')), h('dd', {}, i.type_name ?? '—'),
        h('dt', {}, t('intake.description')), h('dd', {}, i.description),
        h('dt', {}, t('board.address')), h('dd', {}, i.address ?? (i.location ? `${i.location.lat.toFixed(5)}, ${i.location.lng.toFixed(5)}` : '—')),
        h('dt', {}, t('board.station')), h('dd', {}, i.org?.station_name ?? '—'),
        h('dt', {}, t('incident.caller')), h('dd', {}, [i.caller?.name_masked, i.caller?.phone_masked].filter(Boolean).join(' · ') || '—'),
        h('dt', {}, t('board.created')), h('dd', {}, formatDateTime(i.created_at)),
      ));
  }

  function renderUnits(i: Incident): void {
    clear(unitsBox, h('h3', {}, t('incident.assigned')),
      i.units.length === 0 ? h('div.muted', {}, t('common.empty'))
        : h('ul.units', {}, i.units.map((u) => {
          // The unit's own live status beats the copy inside the incident.
          const live = store.units.get(key(u.unit_id))?.status ?? u.status;
          return h('li', { 'data-unit-id': key(u.unit_id) }, h('b', {}, u.callsign), ' ', unitStatusBadge(live));
        })));
  }

  function renderTimeline(entries: TimelineEntry[] | undefined): void {
    clear(timeline, h('h3', {}, t('incident.timeline')),
      !entries?.length ? h('div.muted', {}, t('common.empty'))
        : h('ol.timeline', {}, entries.map((e) => h('li', {},
          h('time', {}, formatDateTime(e.at)), ' ', h('b', {}, tEnum('istatus', e.kind)), e.actor ? h('span.muted', {}, ` · ${e.actor}`) : null,
          e.detail ? h('div.muted', {}, detailText(e.detail)) : null))));
  }

  async function dispatch(unitIds: Id[], callsigns: string, button: HTMLButtonElement | null): Promise<void> {
    await busy(button, async () => {
      await post(`/incidents/${id}/dispatch`, { unit_ids: unitIds });
      toast(t('incident.dispatched', { callsign: callsigns }));
      await reload();
    });
  }

  async function loadRecommendations(): Promise<void> {
    clear(recBox, h('h3', {}, t('incident.recommend')), loading());
    try {
      const rec = await get<{ items: Recommendation[] }>(`/incidents/${id}/recommendations`);
      recommended = rec.items;
      void paintMap(true);
      const top = rec.items[0];
      const oneKey = h('button.primary', { id: 'dispatch-top', disabled: !top }, t('incident.dispatchTop'), top ? ` · ${top.callsign}` : '');
      oneKey.addEventListener('click', () => { if (top) void dispatch([top.unit_id], top.callsign, oneKey); });
      clear(recBox, h('h3', {}, t('incident.recommend')), oneKey,
        rec.items.length === 0 ? h('div.muted', {}, t('common.empty')) : h('table.list', { id: 'recommendation-table' },
          h('thead', {}, h('tr', {}, h('th', {}, '#'), h('th', {}, t('map.units')), h('th', {}, t('incident.eta')), h('th', {}, t('incident.distance')), h('th', {}, ''), h('th', {}, ''))),
          h('tbody', {}, rec.items.map((r, n) => {
            const b = h('button', { 'data-dispatch': key(r.unit_id) }, t('incident.dispatch'));
            b.addEventListener('click', () => void dispatch([r.unit_id], r.callsign, b));
            return h('tr', { 'data-unit-id': key(r.unit_id) },
              h('td', {}, String(n + 1)),
              h('td', {}, h('b', {}, r.callsign), h('div.muted', {}, tEnum('ukind', r.kind))),
              h('td', { 'data-eta': r.eta_s }, formatDuration(r.eta_s)),
              h('td', {}, formatDistance(r.distance_m)),
              h('td', {}, r.first_responder ? h('span.badge.fr', {}, t('incident.firstResponder')) : '', h('div.muted', { title: r.explanation ?? '' }, r.reasons.join(' · '))),
              h('td', {}, b));
          }))));
    } catch (e) {
      clear(recBox, h('h3', {}, t('incident.recommend')), errorBox(e));
    }
  }

  function renderActions(i: Incident): void {
    // Reclassify.
    const typeSel = select([[i.type_code ?? '', i.type_name ?? '—']], i.type_code ?? '', { id: 'reclassify-type' });
    loadTaxonomy().then((types) => {
      typeSel.replaceChildren(...types.map((ty) => h('option', { value: ty.code }, typeName(ty))));
      typeSel.value = i.type_code ?? types[0]?.code ?? '';
    }).catch(() => undefined);
    const prioSel = select((['P1', 'P2', 'P3', 'P4'] as Priority[]).map((p) => [p, tEnum('priority', p)]), i.priority ?? 'P3');
    const classifyBtn = h('button', {}, t('incident.reclassify'));
    classifyBtn.addEventListener('click', () => void busy(classifyBtn, async () => {
      await post(`/incidents/${id}/classify`, { type_code: typeSel.value, priority: prioSel.value });
      await reload();
    }));
    // Transfer to another station.
    const orgSel = select([], '', { id: 'transfer-org' });
    getAll<Org>('/orgs').then((orgs) => {
      orgSel.replaceChildren(...orgs.filter((o) => o.kind === 'station' && key(o.id) !== key(i.org?.station_id)).map((o) => h('option', { value: key(o.id) }, o.name)));
    }).catch(() => undefined);
    const reason = h('input', { placeholder: t('incident.reason'), id: 'transfer-reason' });
    const transferBtn = h('button', {}, t('incident.transfer'));
    transferBtn.addEventListener('click', () => void busy(transferBtn, async () => {
      if (!orgSel.value || !reason.value.trim()) { reason.focus(); throw new Error(`${t('incident.reason')}: ${t('v.required')}`); }
      // Ids are integers on the wire; the select holds their text form.
      await post(`/incidents/${id}/transfer`, { org_id: /^\d+$/.test(orgSel.value) ? Number(orgSel.value) : orgSel.value, reason: reason.value.trim() });
      await reload();
    }));
    // Close.
    const disposition = h('input', { placeholder: t('incident.disposition'), id: 'close-disposition' });
    const closeBtn = h('button.warn', { id: 'close-incident' }, t('incident.close'));
    closeBtn.addEventListener('click', () => void busy(closeBtn, async () => {
      if (!disposition.value.trim()) { disposition.focus(); throw new Error(`${t('incident.disposition')}: ${t('v.required')}`); }
      await post(`/incidents/${id}/close`, { disposition: disposition.value.trim() });
      await reload();
    }));
    const closed = i.status === 'closed';
    for (const b of [classifyBtn, transferBtn, closeBtn]) b.disabled = closed;
    clear(actions,
      h('div.row', {}, typeSel, prioSel, classifyBtn),
      h('div.row', {}, h('span', {}, t('incident.transferTo')), orgSel, reason, transferBtn),
      h('div.row', {}, disposition, closeBtn));
  }

  async function reload(): Promise<void> {
    try {
      const i = await get<Incident>(`/incidents/${encodeURIComponent(id)}`);
      incident = i;
      store.upsertIncidents([i]);
      renderHead(i); renderUnits(i); renderTimeline(i.timeline); renderActions(i);
      void paintMap(true);
      void loadRecommendations();
    } catch (e) {
      clear(head, errorBox(e));
    }
  }

  const unsubscribe = store.subscribe((c) => {
    if (!incident) return;
    const mine = incident.units.some((u) => c.unitStatus.has(key(u.unit_id)));
    if (c.incidents.has(id)) {
      const fresh = store.incidents.get(id);
      if (fresh) {
        const statusChanged = fresh.status !== incident.status || fresh.units.length !== incident.units.length;
        incident = fresh;
        renderHead(fresh); renderUnits(fresh);
        // Timeline entries arrive with the full record only; fetch it when the state moved.
        if (statusChanged) void get<Incident>(`/incidents/${encodeURIComponent(id)}`).then((x) => { incident = x; renderTimeline(x.timeline); renderActions(x); }).catch(() => undefined);
      }
    } else if (mine) {
      renderUnits(incident);
    }
    if (c.units) void paintMap(false);
  });

  void reload();
  // Recommendations name units by id; their positions come from the live unit list.
  if (store.units.size === 0) void loadUnits().catch(() => undefined);
  return () => { unsubscribe(); map?.destroy(); };
}
