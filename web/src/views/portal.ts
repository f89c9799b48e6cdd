// Public citizen portal (no login): look up a case's progress with its code and the last
// four digits of the caller's phone. Sends no token even if one is in the session.

import { request, query } from '../api';
import { formatDateTime, t, tEnum } from '../i18n';
import { busy, clear, errorBox, field, h, showErrors } from '../ui';
import { hasErrors, validatePortal } from '../validation';

interface PublicCase { code?: string; number?: string; status?: string; type_name?: string; created_at?: string; updated_at?: string; steps?: { at: string; label: string }[] }

export function portalView(el: HTMLElement): void {
  const code = h('input', { name: 'code', id: 'portal-code', autocomplete: 'off' });
  const phone4 = h('input', { name: 'phone4', id: 'portal-phone4', inputmode: 'numeric', maxlength: 4 });
  const submit = h('button.primary', { type: 'submit' }, t('portal.query'));
  const out = h('div', { id: 'portal-result' });
  const form = h('form.card.portal-card', { novalidate: true },
    h('h2', {}, t('portal.title')), h('p.muted', {}, t('portal.hint')),
    field('portal.code', code, 'code'), field('portal.phone4', phone4, 'phone4'), submit, out);
  el.append(form);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const errors = validatePortal(code.value, phone4.value);
    showErrors(form, errors);
    if (hasErrors(errors)) return;
    void busy(submit, async () => {
      try {
        const c = await request<PublicCase>(`/public/cases/${encodeURIComponent(code.value.trim())}${query({ phone4: phone4.value.trim() })}`, { auth: false });
        clear(out, h('dl.facts', {},
          h('dt', {}, t('portal.code')), h('dd', {}, c.code ?? c.number ?? code.value.trim()),
          h('dt', {}, t('board.type')), h('dd', {}, c.type_name ?? '—'),
          h('dt', {}, t('board.status')), h('dd', {}, tEnum('istatus', c.status)),
          h('dt', {}, t('board.created')), h('dd', {}, formatDateTime(c.created_at))),
          c.steps?.length ? h('ol.timeline', {}, c.steps.map((s) => h('li', {}, h('time', {}, formatDateTime(s.at)), ' ', s.label))) : null);
      } catch (e) {
        clear(out, errorBox(e));
      }
    });
  });
}
