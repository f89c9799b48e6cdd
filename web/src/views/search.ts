// Entity search for analysts: every request carries the operator's stated purpose in the
// X-Purpose header (the server audits it and refuses sensitive reads without one).

import { get, query } from '../api';
import { t } from '../i18n';
import { key, type SearchHit } from '../types';
import { busy, clear, errorBox, field, h, showErrors } from '../ui';
import { validatePurpose } from '../validation';

export function searchView(el: HTMLElement): void {
  const q = h('input', { name: 'q', type: 'search', id: 'search-q' });
  const purpose = h('input', { name: 'purpose', id: 'search-purpose' });
  const category = h('input', { name: 'category' });
  const submit = h('button.primary', { type: 'submit' }, t('common.search'));
  const results = h('div', { id: 'search-results' });
  const profile = h('div.card', { id: 'entity-profile', hidden: true });
  const form = h('form.card', { novalidate: true },
    h('h2', {}, t('search.title')),
    field('search.query', q, 'q'),
    field('search.purpose', purpose, 'purpose'),
    field('search.category', category, 'category'),
    submit);
  el.append(h('div.two-col', {}, h('div', {}, form, results), profile));

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const perr = validatePurpose(purpose.value);
    const errors = { ...(perr ? { purpose: perr } : {}), ...(q.value.trim() ? {} : { q: { key: 'v.required' as const } }) };
    showErrors(form, errors);
    if (Object.keys(errors).length) return;
    void busy(submit, async () => {
      try {
        const r = await get<{ items: SearchHit[] }>(`/search${query({ q: q.value.trim(), category: category.value.trim() })}`, purpose.value.trim());
        clear(results, r.items.length === 0 ? h('div.muted', {}, t('common.empty')) : h('ul.list-plain.hits', {}, r.items.map((hit) =>
          h('li', {}, h('a', { href: '#', onclick: (e: Event) => { e.preventDefault(); void openProfile(key(hit.entity_id)); } }, hit.title),
            h('span.muted', {}, ` · ${hit.kind}`), h('div', {}, hit.snippet)))));
      } catch (e) {
        clear(results, errorBox(e));
      }
    });
  });

  async function openProfile(id: string): Promise<void> {
    profile.hidden = false;
    try {
      const p = await get<Record<string, unknown>>(`/entities/${encodeURIComponent(id)}`, purpose.value.trim());
      clear(profile, h('h3', {}, String(p.title ?? p.name ?? id)), h('pre', {}, JSON.stringify(p, null, 2)));
    } catch (e) {
      clear(profile, errorBox(e));
    }
  }
}
