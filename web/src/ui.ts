// Small DOM helpers: an element builder, badges, error boxes and form fields. No framework:
// views build their DOM with `h` and replace parts of it on change.

import { ApiError } from './api';
import { t, tEnum, type Key } from './i18n';
import { normalisePriority, priorityColor, unitStatusColor } from './styles';
import type { FieldError } from './validation';

type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | null | undefined | EventListener | Partial<CSSStyleDeclaration>>;

/** Creates an element: `h('button.primary', {onclick}, 'text')`; `tag.class#id` shorthand. */
export function h<K extends keyof HTMLElementTagNameMap>(spec: K | `${K}.${string}` | `${K}#${string}`, attrs: Attrs = {}, ...children: (Child | Child[])[]): HTMLElementTagNameMap[K] {
  const m = /^([a-z0-9]+)((?:[.#][\w-]+)*)$/.exec(spec);
  const tag = (m ? m[1] : spec) as K;
  const el = document.createElement(tag);
  if (m?.[2]) {
    for (const part of m[2].match(/[.#][\w-]+/g) ?? []) {
      if (part[0] === '.') el.classList.add(part.slice(1)); else el.id = part.slice(1);
    }
  }
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v as EventListener);
    else if (k === 'style' && typeof v === 'object') Object.assign(el.style, v);
    else if (k === 'class') el.className = String(v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el: HTMLElement, children: (Child | Child[])[]): void {
  for (const c of children) {
    if (Array.isArray(c)) append(el, c);
    else if (c === null || c === undefined || c === false) continue;
    else el.append(c instanceof Node ? c : String(c));
  }
}

export function clear(el: HTMLElement, ...children: (Child | Child[])[]): void {
  el.replaceChildren();
  append(el, children);
}

export function priorityBadge(raw: string | null | undefined): HTMLElement {
  const p = normalisePriority(raw) ?? raw ?? '';
  return h('span.badge', { style: { background: priorityColor(p), color: p === 'P3' ? '#111' : '#fff' }, 'data-priority': p }, tEnum('priority', p));
}

export function unitStatusBadge(s: string): HTMLElement {
  return h('span.badge', { style: { background: unitStatusColor(s) }, 'data-status': s }, tEnum('ustatus', s));
}

export function incidentStatusBadge(s: string): HTMLElement {
  return h('span.badge.istatus', { 'data-status': s }, tEnum('istatus', s));
}

/** Human-readable message for any thrown value; API errors keep their code for support. */
export function errorText(e: unknown): string {
  if (e instanceof ApiError) return `${e.message} (${e.code}${e.status ? `, ${e.status}` : ''})`;
  return e instanceof Error ? e.message : String(e);
}

export function errorBox(e: unknown): HTMLElement {
  return h('div.error', { role: 'alert' }, t('common.error', { message: errorText(e) }));
}

export function loading(): HTMLElement { return h('div.muted', {}, t('common.loading')); }

/** A labelled form field with a slot for its validation message. */
export function field(label: Key, input: HTMLElement, name: string): HTMLElement {
  return h('label.field', { 'data-field': name }, h('span', {}, t(label)), input, h('small.field-error', {}));
}

export function showErrors(form: HTMLElement, errors: Partial<Record<string, FieldError>>): void {
  for (const f of form.querySelectorAll<HTMLElement>('[data-field]')) {
    const err = errors[f.dataset.field ?? ''];
    const slot = f.querySelector<HTMLElement>('.field-error');
    if (slot) slot.textContent = err ? t(err.key, err.params) : '';
    f.classList.toggle('invalid', !!err);
  }
}

export function toast(message: string, kind: 'ok' | 'error' = 'ok'): void {
  const el = h('div.toast', { class: `toast ${kind}`, role: 'status' }, message);
  document.body.append(el);
  setTimeout(() => el.remove(), 4000);
}

/** Runs an async action from a button, disabling it meanwhile and reporting failure as a toast. */
export async function busy<T>(button: HTMLButtonElement | null, f: () => Promise<T>): Promise<T | undefined> {
  if (button) button.disabled = true;
  try {
    return await f();
  } catch (e) {
    toast(errorText(e), 'error');
    return undefined;
  } finally {
    if (button) button.disabled = false;
  }
}

export function select(options: [string, string][], value = '', attrs: Attrs = {}): HTMLSelectElement {
  const s = h('select', attrs, options.map(([v, label]) => h('option', { value: v }, label)));
  s.value = value;
  return s;
}
