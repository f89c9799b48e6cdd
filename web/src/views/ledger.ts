// Ledger check for auditors: fetch an entry by index, or paste a receipt someone kept, and
// verify it here (leaf hash, inclusion proof, checkpoint signature) rather than trusting the
// server; plus the latest signed checkpoint.

import { get, request } from '../api';
import { t } from '../i18n';
import { checkInclusion } from '../merkle';
import { busy, clear, errorBox, field, h, showErrors } from '../ui';
import { proofSummary } from './portal';

export interface Receipt { v: number; leaf_index: number; leaf_hash: string; checkpoint: string; inclusion_proof: string[]; entry?: string | null }

/** A pasted receipt, or `null` when the text is an entry index instead; throws on a malformed receipt. */
export function parseReceiptInput(text: string): Receipt | null {
  const s = text.trim();
  if (/^\d+$/.test(s)) return null;
  const r = JSON.parse(s) as Partial<Receipt>;
  if (typeof r.leaf_index !== 'number' || typeof r.leaf_hash !== 'string' || typeof r.checkpoint !== 'string' || !Array.isArray(r.inclusion_proof)) {
    throw new Error('receipt needs leaf_index, leaf_hash, checkpoint and inclusion_proof');
  }
  return r as Receipt;
}

export function ledgerView(el: HTMLElement): void {
  const code = h('textarea', { name: 'code', id: 'receipt-code', rows: 3 });
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
        let receipt = parseReceiptInput(code.value);
        let record: unknown = null;
        if (!receipt) {
          const e = await get<{ record: unknown; receipt: Receipt }>(`/ledger/entries/${code.value.trim()}`);
          receipt = e.receipt;
          record = e.record;
        }
        const { vkey } = await get<{ vkey: string }>('/ledger/verifier-key');
        const check = await checkInclusion({ index: receipt.leaf_index, leafHashHex: receipt.leaf_hash, proofHex: receipt.inclusion_proof, checkpoint: receipt.checkpoint, entry: receipt.entry, vkey });
        const s = proofSummary(check, receipt.leaf_index);
        clear(out,
          h('div', { class: s.ok ? 'proof ok' : 'proof error', id: 'receipt-verdict', 'data-verified': String(s.ok) }, s.text),
          h('h4', {}, t('ledger.entry')),
          h('pre', {}, receipt.entry ?? (record ? JSON.stringify(record, null, 2) : '—')),
          h('details', {}, h('summary', {}, t('portal.proofDetails')), h('pre', {}, JSON.stringify(receipt, null, 2))));
      } catch (e) {
        clear(out, errorBox(e));
      }
    });
  });
  request<string>('/ledger/checkpoint', { accept: 'text/plain' })
    .then((txt) => { checkpoint.textContent = typeof txt === 'string' ? txt : JSON.stringify(txt, null, 2); })
    .catch((e) => checkpoint.replaceWith(errorBox(e)));
}
