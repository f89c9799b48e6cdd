// Public citizen portal (no login): look up a case's progress with its receipt code and
// the last four digits of the caller's phone; check in the browser that the case's latest
// state is in the public ledger (inclusion proof against the signed checkpoint); leave one
// evaluation after closure. Sends no token even if one is in the session.

import { request, query } from '../api';
import { formatDateTime, t, tEnum } from '../i18n';
import { checkInclusion, type InclusionCheck } from '../merkle';
import { busy, clear, errorBox, field, h, showErrors, toast } from '../ui';
import { hasErrors, validateEvaluation, validatePortal } from '../validation';

export interface PublicCase {
  number: string;
  status: string;
  status_name: string;
  type_name: string | null;
  station: string | null;
  created_at: string;
  dispatched_at: string | null;
  arrived_at: string | null;
  closed_at: string | null;
  timeline: { at: string; kind: string }[];
  evaluation: { can_evaluate: boolean; stars: number | null; submitted_at: string | null };
  ledger: null | {
    leaf_indexes: number[]; leaf_index: number; leaf_hash: string; checkpoint: string;
    inclusion_proof: string[]; entry: string | null; origin: string;
  };
}

/** Timeline kinds in the citizen's words; falls back to the incident status names. */
export function timelineLabel(kind: string): string {
  const own = tEnum('tl', kind);
  return own !== kind ? own : tEnum('istatus', kind);
}

/** One line summarising an in-browser ledger check. */
export function proofSummary(c: InclusionCheck, index: number): { ok: boolean; text: string } {
  if (c.error) return { ok: false, text: t('portal.proofError', { reason: c.error }) };
  if (!c.included || c.entryMatches === false || c.signed === false) return { ok: false, text: t('portal.proofFailed') };
  const base = t('portal.proofOk', { index, size: c.size });
  return { ok: true, text: c.signed === null ? `${base} ${t('portal.sigUnchecked')}` : `${base} ${t('portal.sigOk')}` };
}

export function portalView(el: HTMLElement): void {
  const code = h('input', { name: 'code', id: 'portal-code', autocomplete: 'off' });
  const phone4 = h('input', { name: 'phone4', id: 'portal-phone4', inputmode: 'numeric', maxlength: 4 });
  const submit = h('button.primary', { type: 'submit' }, t('portal.query'));
  const out = h('div', { id: 'portal-result' });
  const form = h('form.card.portal-card', { novalidate: true },
    h('h2', {}, t('portal.title')), h('p.muted', {}, t('portal.hint')),
    field('portal.code', code, 'code'), field('portal.phone4', phone4, 'phone4'), submit);
  el.append(form, out);
  // A code in the link (`#/portal/ABCD-…`) is filled in for the citizen.
  const fromLink = decodeURIComponent(location.hash.split('/')[2] ?? '').split('?')[0];
  if (fromLink) code.value = fromLink;

  const lookup = async (): Promise<void> => {
    const c = await request<PublicCase>(`/public/cases/${encodeURIComponent(code.value.trim())}${query({ phone4: phone4.value.trim() })}`, { auth: false });
    renderCase(c);
  };

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const errors = validatePortal(code.value, phone4.value);
    showErrors(form, errors);
    if (hasErrors(errors)) return;
    void busy(submit, async () => {
      try { await lookup(); } catch (e) { clear(out, h('div.card', {}, errorBox(e))); }
    });
  });

  function renderCase(c: PublicCase): void {
    const proof = h('div.proof.muted', { id: 'portal-proof' }, c.ledger ? t('portal.proofChecking') : t('portal.notYetLogged'));
    clear(out,
      h('div.card.portal-card', { id: 'portal-case' },
        h('h3', {}, c.number, ' ', h('span.badge', { id: 'portal-status' }, c.status_name)),
        h('dl.facts', {},
          h('dt', {}, t('board.type')), h('dd', {}, c.type_name ?? '—'),
          h('dt', {}, t('portal.station')), h('dd', { id: 'portal-station' }, c.station ?? '—'),
          h('dt', {}, t('board.created')), h('dd', {}, formatDateTime(c.created_at)),
          h('dt', {}, t('portal.dispatchedAt')), h('dd', {}, formatDateTime(c.dispatched_at)),
          h('dt', {}, t('portal.arrivedAt')), h('dd', {}, formatDateTime(c.arrived_at)),
          h('dt', {}, t('portal.closedAt')), h('dd', {}, formatDateTime(c.closed_at))),
        h('h4', {}, t('incident.timeline')),
        h('ol.timeline', { id: 'portal-timeline' }, c.timeline.map((s) => h('li', {}, h('time', {}, formatDateTime(s.at)), ' ', timelineLabel(s.kind)))),
        h('h4', {}, t('portal.ledger')), proof),
      evaluationCard(c));
    if (c.ledger) void verify(c.ledger, proof);
  }

  async function verify(l: NonNullable<PublicCase['ledger']>, target: HTMLElement): Promise<void> {
    let vkey: string | null = null;
    try {
      vkey = (await request<{ vkey: string }>('/ledger/verifier-key', { auth: false })).vkey;
    } catch { /* checked without the signature; the summary says so */ }
    const c = await checkInclusion({ index: l.leaf_index, leafHashHex: l.leaf_hash, proofHex: l.inclusion_proof, checkpoint: l.checkpoint, entry: l.entry, vkey });
    const s = proofSummary(c, l.leaf_index);
    target.className = s.ok ? 'proof ok' : 'proof error';
    target.dataset.verified = String(s.ok);
    clear(target, s.text, h('details', {}, h('summary', {}, t('portal.proofDetails')),
      h('pre.checkpoint', {}, l.checkpoint), l.entry ? h('pre', {}, l.entry) : null));
  }

  function evaluationCard(c: PublicCase): HTMLElement | null {
    if (c.evaluation.stars != null) {
      return h('div.card', { id: 'portal-evaluated' }, t('portal.evaluated', { stars: '★'.repeat(c.evaluation.stars) }),
        ' ', h('span.muted', {}, formatDateTime(c.evaluation.submitted_at)));
    }
    if (!c.evaluation.can_evaluate) return null;
    const stars = h('select', { id: 'eval-stars', name: 'stars' },
      [5, 4, 3, 2, 1].map((n) => h('option', { value: String(n) }, `${'★'.repeat(n)} ${n}`)));
    const comment = h('textarea', { id: 'eval-comment', name: 'comment', maxlength: 500, rows: 3 });
    const send = h('button.primary', { type: 'submit', id: 'eval-submit' }, t('portal.evaluate'));
    const f = h('form.card', { id: 'portal-evaluation', novalidate: true },
      h('h4', {}, t('portal.evaluateTitle')), field('portal.stars', stars, 'stars'), field('portal.comment', comment, 'comment'), send);
    f.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const errors = validateEvaluation(Number(stars.value), comment.value);
      showErrors(f, errors);
      if (hasErrors(errors)) return;
      void busy(send, async () => {
        try {
          await request(`/public/cases/${encodeURIComponent(code.value.trim())}/evaluation`, {
            method: 'POST', auth: false, body: { phone4: phone4.value.trim(), stars: Number(stars.value), comment: comment.value.trim() },
          });
          toast(t('portal.thanks'));
          await lookup();
        } catch (e) {
          f.append(errorBox(e));
        }
      });
    });
    return f;
  }
}
