// Ledger receipt lookup and the latest signed checkpoint (text note from the ledger).

import { get, request } from '../api';
import { t } from '../i18n';
import { busy, clear, errorBox, field, h, showErrors } from '../ui';

export function ledgerView(el: HTMLElement): void {
  const code = h('input', { name: 'code', id: 'receipt-code' });
  const submit = h('button.primary', { type: 'submit' }, t('common.search'));
  const out = h('div', { id: 'receipt' });
  const checkpoint = h('pre.checkpoint', { id: 'checkpoint' });
  const form = h('form.card', { novalidate: true }, h('h2', {}, t('ledger.title')), field('ledger.code', code, 'code'), submit, out);
  el.append(h('div.two-col', {}, form, h('div.card', {}, h('h3', {}, t('ledger.checkpoint')), checkpoint)));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    showErrors(form, code.value.trim() ? {} : { code: { key: 'v.required' } });
    if (!code.value.trim()) return;
    void busy(submit, async () => {
      try {
        const r = await get<unknown>(`/ledger/receipts/${encodeURIComponent(code.value.trim())}`);
        clear(out, h('pre', {}, typeof r === 'string' ? r : JSON.stringify(r, null, 2)));
      } catch (e) {
        clear(out, errorBox(e));
      }
    });
  });
  request<string>('/ledger/checkpoint', { accept: 'text/plain' })
    .then((txt) => { checkpoint.textContent = typeof txt === 'string' ? txt : JSON.stringify(txt, null, 2); })
    .catch((e) => checkpoint.replaceWith(errorBox(e)));
}
