// Alerts inbox: list by status with acknowledge / verify / close (true or false positive),
// new alerts arriving live over the stream.

import { get, post, PURPOSE, query } from '../api';
import { formatDateTime, t } from '../i18n';
import { store } from '../store';
import { alertText, alertTime, key, type Alert, type Page } from '../types';
import { busy, clear, errorBox, h, loading, priorityBadge, select } from '../ui';

const STATUSES = ['', 'new', 'acknowledged', 'verified', 'dispatched', 'closed'];

export function alertsView(el: HTMLElement): () => void {
  const statusSel = select(STATUSES.map((s) => [s, s || t('common.all')]), '', { id: 'alert-status' });
  const body = h('div', {});
  el.append(h('div.card', {}, h('div.row', {}, h('h2', {}, t('alerts.title')), statusSel), body));
  let items: Alert[] = [];

  function row(a: Alert): HTMLElement {
    const act = (path: string, label: string, payload: () => unknown = () => ({})) => {
      const b = h('button', { 'data-alert-action': path }, label);
      b.addEventListener('click', () => void busy(b, async () => {
        await post(`/alerts/${a.id}/${path}`, payload());
        await load();
      }));
      return b;
    };
    const outcome = select([['true_positive', t('alerts.truePositive')], ['false_positive', t('alerts.falsePositive')]], 'true_positive');
    const note = h('input', { placeholder: t('alerts.note') });
    const closed = a.status === 'closed';
    return h('tr', { 'data-alert-id': key(a.id) },
      h('td', {}, formatDateTime(alertTime(a))),
      h('td', {}, priorityBadge(a.priority)),
      h('td', {}, a.rule),
      h('td', {}, alertText(a)),
      h('td', {}, a.status),
      h('td', {}, closed ? '' : h('div.row', {},
        act('ack', t('alerts.ack')), act('verify', t('alerts.verify')),
        outcome, note, act('close', t('alerts.close'), () => ({ outcome: outcome.value, note: note.value.trim() })))));
  }

  function render(): void {
    clear(body, items.length === 0 ? h('div.muted', {}, t('common.empty')) : h('table.list', { id: 'alert-table' },
      h('thead', {}, h('tr', {}, ['board.created', 'board.priority', 'alerts.rule', 'alerts.summary', 'board.status', ''].map((k) => h('th', {}, k ? t(k as never) : '')))),
      h('tbody', {}, items.map(row))));
  }

  async function load(): Promise<void> {
    clear(body, loading());
    try {
      const page = await get<Page<Alert>>(`/alerts${query({ status: statusSel.value, limit: 200 })}`, PURPOSE.alerts);
      items = page.items;
      store.upsertAlerts(items);
      render();
    } catch (e) {
      clear(body, errorBox(e));
    }
  }
  statusSel.addEventListener('change', () => void load());
  const unsubscribe = store.subscribe((c) => {
    let dirty = false;
    for (const id of c.alerts) {
      const a = store.alerts.get(id)!;
      const at = items.findIndex((x) => key(x.id) === id);
      if (at >= 0) { items[at] = a; dirty = true; } else if (!statusSel.value || a.status === statusSel.value) { items.unshift(a); dirty = true; }
    }
    if (dirty) render();
  });
  void load();
  return unsubscribe;
}
