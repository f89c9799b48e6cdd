// Call taking: intake form (channel, phone, description, address with offline suggestions,
// map pick) → POST /calls; then the suggested type/priority (editable, confirm), possible
// duplicates, one-key diversion to a partner hotline and a link to the incident page.

import { get, post } from '../api';
import { buildPlaces, suggest, type Place } from '../address';
import { formatDistance, formatNumber, formatPercent, lang, t, tEnum } from '../i18n';
import { createMap, loadBaseData } from '../map/citymap';
import { go } from '../router';
import { setCurrentMap } from '../hooks';
import { key, type CallResponse, type LatLng, type Priority, type TaxonomyType } from '../types';
import { busy, clear, errorBox, field, h, incidentStatusBadge, priorityBadge, select, showErrors, toast } from '../ui';
import { hasErrors, validateCall } from '../validation';

const CHANNELS = ['110', '12345', '119', '120', 'app', 'sms', 'partner'];
const DIVERT_TARGETS = ['12345', '119', '120', '122'];

let taxonomy: Promise<TaxonomyType[]> | null = null;
export function loadTaxonomy(): Promise<TaxonomyType[]> {
  taxonomy ??= get<{ types: TaxonomyType[] }>('/taxonomy').then((r) => r.types ?? []);
  taxonomy.catch(() => { taxonomy = null; });
  return taxonomy;
}

export function typeName(ty: TaxonomyType): string { return lang() === 'en' ? ty.name_en : ty.name_zh; }

export function intakeView(el: HTMLElement): () => void {
  let location: LatLng | null = null;
  const channel = select(CHANNELS.map((c) => [c, c]), '110', { name: 'channel' });
  const phone = h('input', { name: 'phone', type: 'tel', inputmode: 'tel', autocomplete: 'off' });
  const callerName = h('input', { name: 'caller_name', autocomplete: 'off' });
  const description = h('textarea', { name: 'description', rows: 4 });
  const address = h('input', { name: 'address', autocomplete: 'off' });
  const suggestions = h('ul.suggestions', { id: 'address-suggestions' });
  const locText = h('span.muted', { id: 'picked-location' }, t('intake.noLocation'));
  const locateText = h('span.muted', {});
  const pickBtn = h('button', { type: 'button', id: 'pick-on-map' }, t('intake.pickOnMap'));
  const submit = h('button.primary', { type: 'submit', id: 'submit-call' }, t('intake.submit'));
  const result = h('section.intake-result', { id: 'intake-result' });
  const mapEl = h('div.map.intake-map', { id: 'intake-map' });

  const form = h('form.card.intake-form', { novalidate: true },
    h('h2', {}, t('intake.title')),
    field('intake.channel', channel, 'channel'),
    field('intake.phone', phone, 'phone'),
    field('intake.name', callerName, 'caller_name'),
    field('intake.description', description, 'description'),
    field('intake.address', h('div.address-box', {}, address, suggestions), 'address'),
    h('div.field', {}, h('span', {}, t('intake.location')), h('div.row', {}, locText, pickBtn), locateText),
    submit,
  );
  el.append(h('div.intake', {}, h('div.intake-left', {}, form, result), mapEl));

  const map = createMap(mapEl);
  setCurrentMap(map);

  function setLocation(p: LatLng | null): void {
    location = p;
    locText.textContent = p ? `${p.lat.toFixed(5)}, ${p.lng.toFixed(5)}` : t('intake.noLocation');
    map?.setPick(p);
    locateText.textContent = '';
    if (p) {
      get<{ station: { name: string } | null; district: { name: string } | null; within_jurisdiction?: boolean }>(`/geo/locate?lat=${p.lat}&lng=${p.lng}`)
        .then((r) => {
          // The server names only what the caller may see; outside it, nothing.
          locateText.textContent = r.within_jurisdiction === false
            ? t('intake.outsideJurisdiction')
            : [r.district?.name, r.station?.name].filter(Boolean).join(' · ');
        })
        .catch(() => undefined);
    }
  }

  let places: Place[] = [];
  loadBaseData().then((b) => { places = buildPlaces(b.roads, b.jurisdictions); }).catch(() => undefined);
  address.addEventListener('input', () => {
    const hits = suggest(places, address.value);
    suggestions.replaceChildren(...hits.map((p) => h('li', {
      onmousedown: (ev: Event) => {
        ev.preventDefault();
        address.value = p.name;
        suggestions.replaceChildren();
        setLocation(p.location);
        map?.flyTo(p.location, 15);
      },
    }, p.name, h('small.muted', {}, p.kind === 'road' ? ' ·路' : ' ·区'))));
  });
  address.addEventListener('blur', () => setTimeout(() => suggestions.replaceChildren(), 150));

  pickBtn.addEventListener('click', () => {
    pickBtn.classList.add('active');
    map?.setPickMode((p) => {
      setLocation(p);
      map.setPickMode(null);
      pickBtn.classList.remove('active');
    });
  });

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const errors = validateCall({ channel: channel.value, phone: phone.value, description: description.value, address: address.value, location });
    showErrors(form, errors);
    if (hasErrors(errors)) return;
    void busy(submit, async () => {
      const body: Record<string, unknown> = {
        channel: channel.value, caller_phone: phone.value.replace(/[\s-]/g, ''), description: description.value.trim(),
      };
      if (callerName.value.trim()) body.caller_name = callerName.value.trim();
      if (location) body.location = location;
      if (address.value.trim()) body.address = address.value.trim();
      const res = await post<CallResponse>('/calls', body);
      toast(t('intake.created', { number: res.incident.number }));
      renderResult(res);
    });
  });

  function renderResult(res: CallResponse): void {
    const inc = res.incident;
    const s = res.suggestion;
    const typeCode = s?.type_code ?? inc.type_code ?? '';
    const typeLabel = s?.type_name ?? inc.type_name ?? '—';
    const typeSel = select([[typeCode, typeLabel]], typeCode, { id: 'classify-type' });
    loadTaxonomy().then((types) => {
      const current = typeSel.value;
      typeSel.replaceChildren(...types.map((ty) => h('option', { value: ty.code }, typeName(ty))));
      if (!types.some((ty) => ty.code === current)) typeSel.prepend(h('option', { value: current }, typeLabel));
      typeSel.value = current;
    }).catch(() => undefined);
    const prioSel = select((['P1', 'P2', 'P3', 'P4'] as Priority[]).map((p) => [p, tEnum('priority', p)]), s?.priority ?? inc.priority ?? 'P3', { id: 'classify-priority' });
    const confirmBtn = h('button', { type: 'button', id: 'classify-confirm' }, t('intake.confirm'));
    confirmBtn.addEventListener('click', () => void busy(confirmBtn, async () => {
      await post(`/incidents/${inc.id}/classify`, { type_code: typeSel.value, priority: prioSel.value });
      toast(t('intake.confirm'));
    }));
    const divertSel = select(DIVERT_TARGETS.map((d) => [d, d]), '12345', { id: 'divert-to' });
    const divertBtn = h('button.warn', { type: 'button', id: 'divert' }, t('intake.divert'));
    divertBtn.addEventListener('click', () => void busy(divertBtn, async () => {
      await post(`/incidents/${inc.id}/divert`, { partners: [divertSel.value], note: description.value.trim() });
      toast(t('intake.diverted', { to: divertSel.value }));
      divertBtn.disabled = true;
    }));
    clear(result,
      h('div.card', { 'data-incident-id': key(inc.id) },
        h('h3', {}, t('intake.created', { number: inc.number }), ' ', incidentStatusBadge(inc.status)),
        res.receipt_code ? h('div.row.receipt', {}, t('intake.receipt'), h('strong', { id: 'receipt-code-issued' }, res.receipt_code)) : null,
        h('div.row', {}, h('strong', {}, t('intake.suggestion')), ' ', priorityBadge(s?.priority ?? inc.priority), ' ', typeLabel,
          s ? h('span.muted', {}, ` · ${t('intake.confidence')} ${formatPercent(s.confidence)}`) : null),
        s?.evidence?.length ? h('div.muted.evidence', {}, s.evidence.join(' · ')) : null,
        h('div.row', {}, typeSel, prioSel, confirmBtn),
        h('h4', {}, t('intake.duplicates')),
        res.duplicates.length === 0
          ? h('div.muted', { id: 'no-duplicates' }, t('intake.noDuplicates'))
          : h('ul.duplicates', { id: 'duplicates' }, res.duplicates.map((d) => h('li', {},
            h('a', { href: `#/incident/${key(d.incident_id)}` }, t('intake.duplicateLine', {
              number: d.number, distance: formatDistance(d.distance_m), minutes: formatNumber(Math.round(d.minutes_ago)),
            }))))),
        h('div.row', {}, h('span', {}, t('intake.divertTo')), divertSel, divertBtn),
        h('div.row', {}, h('button.primary', { type: 'button', id: 'open-incident', onclick: () => go('incident', key(inc.id)) }, t('intake.openIncident'))),
      ));
  }

  void map?.ready.catch((e) => result.append(errorBox(e)));
  return () => map?.destroy();
}
