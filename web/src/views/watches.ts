// Watch creation (布控): targets, legal basis, case reference and expiry are mandatory and
// checked client-side before POST /watches (the alert module's WatchSpec shape: a tagged
// `target`, `scope` and `condition`); the existing watches are listed below.

import { get, PURPOSE, request } from '../api';
import { formatDateTime, t, tEnum } from '../i18n';
import { normalisePriority } from '../styles';
import type { Page } from '../types';
import { busy, clear, errorBox, field, h, select, showErrors, toast } from '../ui';
import { hasErrors, validateWatch } from '../validation';

interface Ident { kind: string; value: string }
interface Watch {
  id: string | number; label?: string; case_ref: string; legal_basis: string; expires_at: string; status?: string;
  spec?: { target?: { type: string; identifiers?: Ident[]; kind?: string | null } };
  /** Contract form, kept for servers that list targets flat. */
  targets?: Ident[];
}

/** Identifier kinds the alert engine understands. */
const TARGET_KINDS = ['plate', 'id_number', 'phone', 'card', 'mac', 'face_id', 'imsi', 'imei'];
/** Watch priorities on the wire, most urgent first. */
const WATCH_PRIORITIES = ['critical', 'high', 'normal', 'low'];

/** The POST /watches body for a validated form. */
export function watchBody(v: { targetKind: string; targetValue: string; legalBasis: string; caseRef: string; startsAt: string; expiresAt: string; priority: string }): Record<string, unknown> {
  return {
    label: `${v.caseRef.trim()} ${v.targetKind}`,
    target: { type: 'identifiers', identifiers: [{ kind: v.targetKind, value: v.targetValue.trim() }] },
    scope: { type: 'city' },
    condition: { type: 'sighting' },
    ...(v.startsAt ? { active_from: localToIso(v.startsAt) } : {}),
    expires_at: localToIso(v.expiresAt),
    legal_basis: v.legalBasis.trim(),
    case_ref: v.caseRef.trim(),
    priority: v.priority,
  };
}

/** `datetime-local` value (local wall time) → RFC 3339 UTC for the API. */
export function localToIso(v: string): string { return new Date(v).toISOString(); }

export function watchesView(el: HTMLElement): void {
  const targetKind = select(TARGET_KINDS.map((k) => [k, k]), 'plate', { name: 'targetKind' });
  const targetValue = h('input', { name: 'targetValue', autocomplete: 'off' });
  const legalBasis = h('textarea', { name: 'legalBasis', rows: 2 });
  const caseRef = h('input', { name: 'caseRef' });
  const startsAt = h('input', { name: 'startsAt', type: 'datetime-local' });
  const expiresAt = h('input', { name: 'expiresAt', type: 'datetime-local' });
  const priority = select(WATCH_PRIORITIES.map((p) => [p, tEnum('priority', normalisePriority(p))]), 'high', { name: 'priority' });
  const submit = h('button.primary', { type: 'submit', id: 'create-watch' }, t('common.submit'));
  const listBox = h('div', { id: 'watch-list' });
  const form = h('form.card', { id: 'watch-form', novalidate: true },
    h('h2', {}, t('watch.title')),
    field('watch.targetKind', targetKind, 'targetKind'),
    field('watch.targetValue', targetValue, 'targetValue'),
    field('watch.legalBasis', legalBasis, 'legalBasis'),
    field('watch.caseRef', caseRef, 'caseRef'),
    field('watch.startsAt', startsAt, 'startsAt'),
    field('watch.expiresAt', expiresAt, 'expiresAt'),
    field('watch.priority', priority, 'priority'),
    submit);
  el.append(h('div.two-col', {}, form, h('div.card', {}, h('h3', {}, t('watch.list')), listBox)));

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const values = {
      targetKind: targetKind.value, targetValue: targetValue.value, legalBasis: legalBasis.value, caseRef: caseRef.value,
      startsAt: startsAt.value, expiresAt: expiresAt.value, priority: priority.value,
    };
    const errors = validateWatch(values, Date.now());
    showErrors(form, errors);
    if (hasErrors(errors)) return;
    void busy(submit, async () => {
      // The case is the purpose of creating a watch; the server audits it with the request.
      await request('/watches', { method: 'POST', body: watchBody(values), purpose: `case ${values.caseRef.trim()}` });
      toast(t('watch.created'));
      form.reset();
      void loadList();
    });
  });

  async function loadList(): Promise<void> {
    try {
      const r = await get<Page<Watch> | Watch[]>('/watches', PURPOSE.watches);
      const items = Array.isArray(r) ? r : r.items;
      clear(listBox, items.length === 0 ? h('div.muted', {}, t('common.empty')) : h('ul.list-plain', {}, items.map((w) =>
        h('li', {}, h('b', {}, w.case_ref), ' ', (w.spec?.target?.identifiers ?? w.targets ?? []).map((x) => `${x.kind}:${x.value}`).join(', '), w.status ? h('span.muted', {}, ` · ${w.status}`) : null,
          h('div.muted', {}, `${t('watch.expiresAt')} ${formatDateTime(w.expires_at)}`)))));
    } catch (e) {
      clear(listBox, errorBox(e));
    }
  }
  void loadList();
}
