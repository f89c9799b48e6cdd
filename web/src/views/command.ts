// City command view (一屏观全域): full-screen map with live incidents, units, alerts, sensors,
// borders and H3 heat layers, plus side panels (today's counts, response times vs target,
// year-over-year trend, top incident types) that follow the live stream.

import { get, getAll, query } from '../api';
import { canOpen } from '../auth';
import { makeChart, responseTimesOption, topTypesOption, trendOption, type Chart } from '../charts';
import { formatDuration, formatNumber, formatPercent, formatTime, t, tEnum, type Key } from '../i18n';
import { loadAlerts, loadOpenIncidents, loadUnits } from '../live';
import { createMap, type CityMap, type LayerGroup } from '../map/citymap';
import { go, type Route } from '../router';
import { normaliseToday, normaliseTrend, startOfDayCst, todayFromIncidents, topTypes, yoyChange, type Trend } from '../stats';
import { store, type Change } from '../store';
import type { HeatCell, Sensor, TaxonomyType, Today, User } from '../types';
import { errorText, h, select, unitStatusBadge } from '../ui';
import { setCurrentMap } from '../hooks';

interface Perf { mapReadyMs?: number; firstRenderMs?: number }

export function commandView(el: HTMLElement, _route: Route, user: User): () => void {
  const perf: Perf = {};
  (window as unknown as { __pinganPerf: Perf }).__pinganPerf = perf;
  const mapEl = h('div.map', { id: 'city-map' });
  const tiles = h('div.tiles', { id: 'today-tiles' });
  const respEl = h('div.chart', { id: 'chart-response' });
  const trendEl = h('div.chart', { id: 'chart-trend' });
  const typesEl = h('div.chart', { id: 'chart-types' });
  const trendNote = h('small.muted', {});
  trendEl.dataset.empty = t('common.empty');
  typesEl.dataset.empty = t('common.empty');
  const status = h('div.map-status.muted', {});
  const side = h('aside.side-panels', {},
    h('section.panel', {}, h('h3', {}, t('kpi.today')), tiles),
    h('section.panel', {}, h('h3', {}, t('kpi.vsTarget')), respEl),
    h('section.panel', {}, h('h3', {}, t('kpi.trend'), ' ', trendNote), trendEl),
    h('section.panel', {}, h('h3', {}, t('kpi.topTypes')), typesEl),
  );
  const layersPanel = h('div.layers-panel', {}, h('strong', {}, t('map.layers')));
  el.append(h('div.command', {}, mapEl, layersPanel, side, status));

  const map: CityMap | null = createMap(mapEl, {
    onIncidentClick: (id) => { if (canOpen(user.role, 'incident')) go('incident', id); },
    onUnitClick: (id) => {
      const u = store.units.get(id);
      if (!u?.position) return;
      const incidentId = store.unitIncident.get(id);
      map?.popup(u.position, h('div.unit-popup', { 'data-unit-id': id },
        h('b', {}, u.callsign), ' ', unitStatusBadge(u.status),
        h('div.muted', {}, tEnum('ukind', u.kind), u.position_at ? ` · ${formatTime(u.position_at)}` : ''),
        incidentId && canOpen(user.role, 'incident') ? h('a', { href: `#/incident/${incidentId}` }, t('nav.board')) : null));
    },
  });
  setCurrentMap(map);

  // Layer switches; heat layers start off so the live picture is readable first.
  const visible: Record<LayerGroup, boolean> = { borders: true, heat: false, crowd: false, sensors: true, alerts: true, incidents: true, units: true };
  const groups: [LayerGroup, Key][] = [['incidents', 'map.incidents'], ['units', 'map.units'], ['alerts', 'map.alerts'], ['sensors', 'map.sensors'], ['borders', 'map.borders'], ['heat', 'map.heat'], ['crowd', 'map.crowd']];
  const heatType = select([['', t('common.all')]], '', { id: 'heat-type' });
  const heatHours = select([['24', '24 h'], ['168', '7 d'], ['720', '30 d']], '24', { id: 'heat-hours' });
  for (const [g, key] of groups) {
    const box = h('input', { type: 'checkbox', 'data-layer': g });
    box.checked = visible[g];
    box.addEventListener('change', () => {
      visible[g] = box.checked;
      map?.setVisible(g, box.checked);
      if (box.checked && (g === 'heat' || g === 'crowd')) void loadHeat(g === 'heat' ? 'incidents' : 'crowd');
    });
    layersPanel.append(h('label', {}, box, ' ', t(key)));
  }
  layersPanel.append(h('div.heat-opts', {}, heatType, heatHours));
  const reloadHeat = () => { if (visible.heat) void loadHeat('incidents'); if (visible.crowd) void loadHeat('crowd'); };
  heatType.addEventListener('change', reloadHeat);
  // Heat cells aggregate a time window; refreshing each minute keeps them live without a stream.
  const heatTimer = setInterval(reloadHeat, 60_000);
  heatHours.addEventListener('change', reloadHeat);

  async function loadHeat(layer: 'incidents' | 'crowd'): Promise<void> {
    try {
      const res = await get<{ cells: HeatCell[] }>(`/stats/heatmap${query({ layer, res: 8, type: layer === 'incidents' ? heatType.value : '', hours: heatHours.value })}`);
      await map?.ready;
      map?.setHeat(layer, res.cells ?? []);
    } catch (e) {
      status.textContent = `${t(layer === 'incidents' ? 'map.heat' : 'map.crowd')}: ${errorText(e)}`;
    }
  }

  // Side panels.
  const charts: Chart[] = [];
  let resp: Chart | null = null, trendChart: Chart | null = null, types: Chart | null = null;
  try {
    resp = makeChart(respEl); trendChart = makeChart(trendEl); types = makeChart(typesEl);
    charts.push(resp, trendChart, types);
  } catch { /* canvas unavailable: panels stay as text */ }
  let serverToday: Today | null = store.today;

  function paintToday(): void {
    const today = serverToday ?? todayFromIncidents(store.incidents.values(), Date.now());
    let available = 0;
    for (const u of store.units.values()) if (u.status === 'available') available++;
    let openAlerts = 0;
    for (const a of store.alerts.values()) if (a.status !== 'closed') openAlerts++;
    const tile = (key: Key, value: string, id: string) => h('div.tile', { 'data-kpi': id }, h('b', {}, value), h('span', {}, t(key)));
    tiles.replaceChildren(
      tile('kpi.calls', formatNumber(today.calls), 'calls'),
      tile('kpi.incidents', formatNumber(today.incidents), 'incidents'),
      tile('kpi.dispatched', formatNumber(today.dispatched), 'dispatched'),
      tile('kpi.arrived', formatNumber(today.arrived), 'arrived'),
      tile('kpi.unitsAvailable', formatNumber(available), 'available'),
      tile('kpi.openAlerts', formatNumber(openAlerts), 'alerts'),
      tile('kpi.medianDispatch', formatDuration(today.median_dispatch_s), 'median-dispatch'),
      tile('kpi.medianArrival', formatDuration(today.median_arrival_s), 'median-arrival'),
    );
    resp?.setOption(responseTimesOption(today));
  }

  function paintTypes(): void {
    const rows = topTypes(store.incidents.values(), startOfDayCst(Date.now()));
    markEmpty(typesEl, rows.length === 0);
    types?.setOption(topTypesOption(rows), { replaceMerge: ['series'] });
  }

  function markEmpty(chartEl: HTMLElement, empty: boolean): void {
    if (empty) chartEl.dataset.empty = t('common.empty'); else delete chartEl.dataset.empty;
  }

  function paintTrend(trend: Trend): void {
    const yoy = yoyChange(trend);
    trendNote.textContent = yoy === null ? '' : `${yoy >= 0 ? '+' : ''}${formatPercent(yoy)}`;
    markEmpty(trendEl, trend.dates.length === 0);
    trendChart?.setOption(trendOption(trend));
  }

  // Map layers follow the store; the store changes at most once per animation-frame batch.
  let firstUnits = true;
  const onChange = (c: Change) => {
    if (!map) return;
    if (c.units) {
      map.setUnits(store.units.values());
      if (firstUnits && store.units.size > 0) {
        firstUnits = false;
        void map.whenDrawn().then(() => { perf.firstRenderMs ??= performance.now(); });
      }
    }
    if (c.incidents.size) map.setIncidents(store.incidents.values());
    if (c.alerts.size) map.setAlerts(store.alerts.values());
    if (c.today) serverToday = store.today;
    if (c.incidents.size || c.alerts.size || c.today || c.units) paintPanelsSoon(c.incidents.size > 0);
  };
  // Side panels (tiles, charts) repaint at most once a second, however busy the stream: the
  // first change after a quiet second paints at once, later ones coalesce into the next paint.
  // Counting types walks every incident and redraws a chart, so it runs only if incidents changed.
  let panelTimer: ReturnType<typeof setTimeout> | null = null;
  let lastPanelPaint = -Infinity;
  let typesChanged = false;
  function paintPanelsSoon(incidentsChanged: boolean): void {
    typesChanged ||= incidentsChanged;
    if (panelTimer) return;
    panelTimer = setTimeout(() => {
      panelTimer = null;
      lastPanelPaint = performance.now();
      paintToday();
      if (typesChanged) { typesChanged = false; paintTypes(); }
    }, Math.max(0, lastPanelPaint + 1000 - performance.now()));
  }
  const unsubscribe = store.subscribe(onChange);

  void (async () => {
    if (map) {
      await map.ready.catch(() => undefined);
      perf.mapReadyMs = performance.now();
      // Draw whatever the store already holds (e.g. when returning to this view).
      map.setUnits(store.units.values());
      map.setIncidents(store.incidents.values());
      map.setAlerts(store.alerts.values());
    }
    const errors: string[] = [];
    const note = (what: string) => (e: unknown) => { errors.push(`${what}: ${errorText(e)}`); status.textContent = errors.join(' · '); };
    await Promise.all([
      loadUnits().catch(note(t('map.units'))),
      loadOpenIncidents().catch(note(t('map.incidents'))),
      loadAlerts().catch(note(t('map.alerts'))),
      getAll<Sensor>('/sensors').then(async (items) => { await map?.ready; map?.setSensors(items); }).catch(note(t('map.sensors'))),
      get<unknown>('/stats/today').then((raw) => { serverToday = normaliseToday(raw) ?? serverToday; }).catch(() => undefined),
      get<unknown>('/stats/trend?days=30').then((raw) => paintTrend(normaliseTrend(raw))).catch(note(t('kpi.trend'))),
      get<{ types: TaxonomyType[] }>('/taxonomy').then((tax) => {
        for (const ty of tax.types ?? []) heatType.append(h('option', { value: ty.code }, document.documentElement.lang === 'en' ? ty.name_en : ty.name_zh));
      }).catch(() => undefined),
    ]);
    if (firstUnits) perf.firstRenderMs ??= performance.now();
    paintToday();
    paintTypes();
  })();

  return () => {
    if (panelTimer) clearTimeout(panelTimer);
    clearInterval(heatTimer);
    unsubscribe();
    for (const c of charts) c.dispose();
    map?.destroy();
  };
}
