// Citizen evaluations for supervisors: satisfaction per station (count, mean, star
// distribution, follow-up rate) and the evaluations themselves, low ones first to follow up.

import { get, post, query } from '../api';
import { formatDateTime, formatNumber, formatPercent, t } from '../i18n';
import type { Page } from '../types';
import { busy, clear, errorBox, h, loading, toast } from '../ui';

/** Standing purpose of the supervisor's review: comments are citizens' own words, so the server audits the read. */
const PURPOSE = 'evaluation follow-up review';

export interface EvaluationRow {
  id: number; incident_id: number; incident_number: string; org_id: number; org_name: string | null;
  stars: number; comment: string; created_at: string; follow_up: { note: string; by: string; at: string } | null;
}
export interface StationStats {
  org_id: number; org_name: string | null; count: number; mean: number;
  distribution: [number, number, number, number, number]; low: number; followed_up: number; follow_up_rate: number | null;
}

/** A compact text bar of the 1..5 star distribution, e.g. "1★ 2 · 2★ 0 · …". */
export function distributionText(d: number[]): string {
  return d.map((n, i) => `${i + 1}★ ${n}`).join(' · ');
}

export function evaluationsView(el: HTMLElement, _route: unknown, user: { role: string }): void {
  const canWrite = user.role !== 'auditor';
  const stats = h('div', { id: 'eval-stats' }, loading());
  const list = h('div', { id: 'eval-list' }, loading());
  const maxStars = h('select', { name: 'max_stars' }, ['', '1', '2', '3', '4', '5'].map((v) => h('option', { value: v }, v ? `≤ ${v}★` : '—')));
  maxStars.value = '2';
  const onlyOpen = h('input', { type: 'checkbox', name: 'open', checked: true });
  const filters = h('form.row.filters', { onsubmit: (e: Event) => { e.preventDefault(); void loadList(); } },
    h('label', {}, t('eval.maxStars'), ' ', maxStars), h('label', {}, onlyOpen, ' ', t('eval.onlyOpen')),
    h('button.primary', { type: 'submit' }, t('common.search')));
  el.append(h('div.card', {}, h('h2', {}, t('eval.stats')), stats), h('div.card', {}, h('h2', {}, t('eval.title')), filters, list));

  async function loadStats(): Promise<void> {
    try {
      const s = await get<{ items: StationStats[] }>('/evaluations/stats');
      clear(stats, s.items.length === 0 ? h('div.muted', {}, t('common.empty')) : h('table.list', {},
        h('thead', {}, h('tr', {}, [t('eval.station'), t('eval.count'), t('eval.mean'), '1–5★', t('eval.low'), t('eval.followRate')].map((x) => h('th', {}, x)))),
        h('tbody', {}, s.items.map((r) => h('tr', {},
          h('td', {}, r.org_name ?? String(r.org_id)), h('td', {}, formatNumber(r.count)),
          h('td', {}, r.mean.toFixed(2)), h('td', {}, distributionText(r.distribution)),
          h('td', {}, formatNumber(r.low)), h('td', {}, r.follow_up_rate == null ? '—' : formatPercent(r.follow_up_rate)))))));
    } catch (e) {
      clear(stats, errorBox(e));
    }
  }

  async function loadList(): Promise<void> {
    clear(list, loading());
    try {
      const page = await get<Page<EvaluationRow>>(`/evaluations${query({ max_stars: maxStars.value || null, followed_up: onlyOpen.checked ? false : null, limit: 200 })}`, PURPOSE);
      clear(list, page.items.length === 0 ? h('div.muted', {}, t('common.empty')) : h('table.list', { id: 'eval-table' },
        h('thead', {}, h('tr', {}, [t('eval.incident'), t('eval.station'), t('eval.stars'), t('eval.comment'), t('board.created'), t('eval.followUp')].map((x) => h('th', {}, x)))),
        h('tbody', {}, page.items.map(row))));
    } catch (e) {
      clear(list, errorBox(e));
    }
  }

  function row(r: EvaluationRow): HTMLElement {
    const cell = h('td', {});
    if (r.follow_up) {
      cell.append(t('eval.followedUp', { note: r.follow_up.note, by: r.follow_up.by }), ' ', h('span.muted', {}, formatDateTime(r.follow_up.at)));
    } else if (canWrite) {
      const note = h('input', { name: 'note', placeholder: t('eval.followUpNote') });
      const btn = h('button', { type: 'submit' }, t('eval.followUp'));
      const f = h('form.row', {}, note, btn);
      f.addEventListener('submit', (ev) => {
        ev.preventDefault();
        if (!note.value.trim()) { note.focus(); return; }
        void busy(btn, async () => {
          try {
            await post(`/evaluations/${r.id}/follow-up`, { note: note.value.trim() });
            toast(t('eval.saved'));
            await Promise.all([loadList(), loadStats()]);
          } catch (e) { f.append(errorBox(e)); }
        });
      });
      cell.append(f);
    }
    return h('tr', { 'data-evaluation-id': String(r.id) },
      h('td', {}, h('a', { href: `#/incident/${r.incident_id}` }, r.incident_number)), h('td', {}, r.org_name ?? String(r.org_id)),
      h('td', {}, '★'.repeat(r.stars)), h('td', {}, r.comment || '—'), h('td', {}, formatDateTime(r.created_at)), cell);
  }

  void loadStats();
  void loadList();
}
