// Watch creation (布控): targets, legal basis, case reference and expiry are mandatory and
// checked client-side before POST /watches; the existing watches are listed below.

import { get, post } from '../api';
import { formatDateTime, t, tEnum } from '../i18n';
import type { Page } from '../types';
import { busy, clear, errorBox, field, h, select, showErrors, toast } from '../ui';
import { hasErrors, validateWatch } from '../validation';

interface Watch { id: string; targets: { kind: string; value: string }[]; case_ref: string; legal_basis: string; expires_at: string; priority: string; status?: string }

const TARGET_KINDS = ['plate', 'id_number', 'phone', 'face', 'mac', 'name'];

/** `datetime-local` value (local wall time) → RFC 3339 UTC for the API. */
export function localToIso(v: string): string { return new Date(v).toISOString(); }

export function watchesView(el: HTMLElement): void {
  const targetKind = select(TARGET_KINDS.map((k) => [k, k]), 'plate', { name: 'targetKind' });
  const targetValue = h('input', { name: 'targetValue', autocomplete: 'off' });
  const legalBasis = h('textarea', { name: 'legalBasis', rows: 2 });
  const caseRef = h('input', { name: 'caseRef' });
  const startsAt = h('input', { name: 'startsAt', type: 'datetime-local' });
  const expiresAt = h('input', { name: 'expiresAt', type: 'datetime-local' });
  const priority = select(['P1', 'P2', 'P3', 'P4'].map((p) => [p, tEnum('priority', p)]), 'P2', { name: 'priority' });
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
      await post('/watches', {
        targets: [{ kind: values.targetKind, value: values.targetValue.trim() }],
        scope: {},
        starts_at: values.startsAt ? localToIso(values.startsAt) : new Date().toISOString(),
        expires_at: localToIso(values.expiresAt),
        legal_basis: values.legalBasis.trim(),
        case_ref: values.caseRef.trim(),
        priority: values.priority,
        notify_org_ids: [],
      });
      toast(t('watch.created'));
      form.reset();
      void loadList();
    });
  });

  async function loadList(): Promise<void> {
    try {
      const r = await get<Page<Watch> | Watch[]>('/watches');
      const items = Array.isArray(r) ? r : r.items;
      clear(listBox, items.length === 0 ? h('div.muted', {}, t('common.empty')) : h('ul.list-plain', {}, items.map((w) =>
        h('li', {}, h('b', {}, w.case_ref), ' ', w.targets.map((x) => `${x.kind}:${x.value}`).join(', '), h('div.muted', {}, `${t('watch.expiresAt')} ${formatDateTime(w.expires_at)}`)))));
    } catch (e) {
      clear(listBox, errorBox(e));
    }
  }
  void loadList();
}
