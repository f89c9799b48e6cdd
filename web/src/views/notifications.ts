// Notification delivery log for administrators and auditors: every message to a citizen,
// its status and each delivery attempt (status code, error, duration). Reading it is audited.

import { get, query } from '../api';
import { formatDateTime, formatNumber, t, tEnum } from '../i18n';
import type { Page } from '../types';
import { clear, errorBox, h, loading, select } from '../ui';

export interface NotificationRow {
  id: number; incident_id: number | null; template: string; recipient_masked: string; status: string; attempts: number;
  next_attempt_at: string | null; last_error: string | null; created_at: string; delivered_at: string | null;
  log: { attempt: number; at: string; channel: string; status_code: number | null; error: string | null; duration_ms: number }[];
}

const PURPOSE = 'notification delivery review';

export function notificationsView(el: HTMLElement): void {
  const status = select([['', '—'], ...(['pending', 'delivered', 'failed', 'no_channel'] as const).map((s): [string, string] => [s, tEnum('nstatus', s)])], '', { name: 'status' });
  const body = h('div', { id: 'notif-body' });
  const form = h('form.row.filters', { onsubmit: (e: Event) => { e.preventDefault(); void load(); } },
    h('label', {}, t('notif.status'), ' ', status), h('button.primary', { type: 'submit' }, t('common.search')));
  el.append(h('div.card', {}, h('h2', {}, t('notif.title')), form, body));

  async function load(): Promise<void> {
    clear(body, loading());
    try {
      const page = await get<Page<NotificationRow>>(`/notifications${query({ status: status.value || null, limit: 200 })}`, PURPOSE);
      clear(body, page.items.length === 0 ? h('div.muted', {}, t('common.empty')) : h('table.list', { id: 'notif-table' },
        h('thead', {}, h('tr', {}, ['#', t('board.created'), t('notif.template'), t('notif.recipient'), t('notif.status'), t('notif.attempts'), t('notif.log')].map((x) => h('th', {}, x)))),
        h('tbody', {}, page.items.map((n) => h('tr', {},
          h('td', {}, String(n.id)), h('td', {}, formatDateTime(n.created_at)),
          h('td', {}, n.incident_id != null ? h('a', { href: `#/incident/${n.incident_id}` }, n.template) : n.template),
          h('td', {}, n.recipient_masked), h('td', {}, tEnum('nstatus', n.status), n.last_error ? h('div.muted', {}, n.last_error) : null),
          h('td', {}, formatNumber(n.attempts)),
          h('td', {}, n.log.length === 0 ? '—' : h('details', {}, h('summary', {}, formatDateTime(n.log[n.log.length - 1].at)),
            h('ol', {}, n.log.map((a) => h('li', {}, `${formatDateTime(a.at)} ${a.channel} ${a.status_code ?? ''} ${a.error ?? ''} (${a.duration_ms} ms)`))))))))));
    } catch (e) {
      clear(body, errorBox(e));
    }
  }
  void load();
}
