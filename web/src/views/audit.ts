// Audit log viewer for auditors: filter by user, object and time range; page through.

import { get, query } from '../api';
import { formatDateTime, t } from '../i18n';
import type { AuditEntry, Page } from '../types';
import { clear, errorBox, h, loading } from '../ui';

export function auditView(el: HTMLElement): void {
  const user = h('input', { placeholder: t('audit.user'), name: 'user' });
  const object = h('input', { placeholder: t('audit.object'), name: 'object' });
  const from = h('input', { type: 'datetime-local', name: 'from' });
  const to = h('input', { type: 'datetime-local', name: 'to' });
  const body = h('div', { id: 'audit-body' });
  const total = h('span.muted', {});
  const more = h('button', {}, t('common.next'));
  let offset = 0;
  const LIMIT = 100;
  const form = h('form.row.filters', { onsubmit: (e: Event) => { e.preventDefault(); offset = 0; void load(); } },
    user, object, h('label', {}, t('audit.from'), ' ', from), h('label', {}, t('audit.to'), ' ', to),
    h('button.primary', { type: 'submit' }, t('common.search')), total);
  el.append(h('div.card', {}, h('h2', {}, t('audit.title')), form, body, more));
  more.addEventListener('click', () => { offset += LIMIT; void load(); });

  async function load(): Promise<void> {
    clear(body, loading());
    try {
      const iso = (v: string) => (v ? new Date(v).toISOString() : '');
      const page = await get<Page<AuditEntry>>(`/audit${query({ user: user.value.trim(), object: object.value.trim(), from: iso(from.value), to: iso(to.value), limit: LIMIT, offset })}`);
      total.textContent = t('common.total', { n: page.total });
      more.disabled = offset + LIMIT >= page.total;
      clear(body, page.items.length === 0 ? h('div.muted', {}, t('common.empty')) : h('table.list', { id: 'audit-table' },
        h('thead', {}, h('tr', {}, ['#', t('board.created'), t('audit.user'), t('audit.action'), t('audit.object'), t('audit.purpose'), t('audit.outcome')].map((x) => h('th', {}, x)))),
        h('tbody', {}, page.items.map((a) => h('tr', {},
          h('td', {}, String(a.seq)), h('td', {}, formatDateTime(a.at)), h('td', {}, `${a.user} (${a.role})`),
          h('td', {}, a.action), h('td', {}, `${a.object_type} ${a.object_ids.join(', ')}`), h('td', {}, a.purpose ?? '—'), h('td', {}, a.outcome))))));
    } catch (e) {
      clear(body, errorBox(e));
    }
  }
  void load();
}
