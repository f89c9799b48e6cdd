// Client-side validation of forms (call intake, watch creation, portal lookup). The server
// validates again; this gives the operator immediate, field-level feedback.

import type { Key } from './i18n';
import type { LatLng } from './types';

export interface FieldError { key: Key; params?: Record<string, string | number> }
export type Errors<F extends string> = Partial<Record<F, FieldError>>;

export function hasErrors(e: Errors<string>): boolean { return Object.keys(e).length > 0; }

/** Chinese mobile (11 digits starting 1), landline with area code, short service numbers, or +country. */
export function isValidPhone(raw: string): boolean {
  const s = raw.replace(/[\s-]/g, '');
  if (/^\+\d{7,15}$/.test(s)) return true;
  if (/^1[3-9]\d{9}$/.test(s)) return true;
  if (/^0\d{2,3}\d{7,8}$/.test(s)) return true;
  if (/^\d{7,8}$/.test(s)) return true;
  return /^(110|119|120|122|12345)$/.test(s);
}

export interface CallForm {
  channel: string; phone: string; description: string; address: string; location: LatLng | null;
}

export function validateCall(f: CallForm): Errors<'phone' | 'description' | 'address' | 'channel'> {
  const e: Errors<'phone' | 'description' | 'address' | 'channel'> = {};
  if (!f.channel) e.channel = { key: 'v.required' };
  if (!f.phone.trim()) e.phone = { key: 'v.required' };
  else if (!isValidPhone(f.phone)) e.phone = { key: 'v.phone' };
  if (!f.description.trim()) e.description = { key: 'v.required' };
  else if (f.description.trim().length < 4) e.description = { key: 'v.tooShort', params: { n: 4 } };
  if (!f.address.trim() && !f.location) e.address = { key: 'v.location' };
  return e;
}

export interface WatchForm {
  targetKind: string; targetValue: string; legalBasis: string; caseRef: string;
  startsAt: string; expiresAt: string; priority: string;
}

/** Longest watch the console lets an operator request; longer ones need a renewal. */
export const MAX_WATCH_DAYS = 90;

/** Parses a `datetime-local` value (local wall time) or an RFC 3339 string; NaN if invalid. */
export function parseLocalDateTime(s: string): number {
  if (!s.trim()) return NaN;
  return new Date(s).getTime();
}

export function validateWatch(f: WatchForm, nowMs: number): Errors<keyof WatchForm> {
  const e: Errors<keyof WatchForm> = {};
  if (!f.targetKind) e.targetKind = { key: 'v.required' };
  if (!f.targetValue.trim()) e.targetValue = { key: 'v.required' };
  if (!f.legalBasis.trim()) e.legalBasis = { key: 'v.required' };
  else if (f.legalBasis.trim().length < 4) e.legalBasis = { key: 'v.tooShort', params: { n: 4 } };
  if (!f.caseRef.trim()) e.caseRef = { key: 'v.required' };
  if (!f.priority) e.priority = { key: 'v.required' };
  const start = f.startsAt.trim() ? parseLocalDateTime(f.startsAt) : nowMs;
  if (Number.isNaN(start)) e.startsAt = { key: 'v.date' };
  if (!f.expiresAt.trim()) e.expiresAt = { key: 'v.required' };
  else {
    const end = parseLocalDateTime(f.expiresAt);
    if (Number.isNaN(end)) e.expiresAt = { key: 'v.date' };
    else if (end <= nowMs || (!Number.isNaN(start) && end <= start)) e.expiresAt = { key: 'v.expiryPast' };
    else if (!Number.isNaN(start) && end - start > MAX_WATCH_DAYS * 86_400_000) {
      e.expiresAt = { key: 'v.expiryTooLong', params: { days: MAX_WATCH_DAYS } };
    }
  }
  return e;
}

export function validatePortal(code: string, phone4: string): Errors<'code' | 'phone4'> {
  const e: Errors<'code' | 'phone4'> = {};
  if (!code.trim()) e.code = { key: 'v.required' };
  if (!/^\d{4}$/.test(phone4.trim())) e.phone4 = { key: 'v.phone4' };
  return e;
}

export function validateEvaluation(stars: number, comment: string): Errors<'stars' | 'comment'> {
  const e: Errors<'stars' | 'comment'> = {};
  if (!Number.isInteger(stars) || stars < 1 || stars > 5) e.stars = { key: 'v.stars' };
  if ([...comment.trim()].length > 500) e.comment = { key: 'v.tooLong', params: { n: 500 } };
  return e;
}

export function validatePurpose(purpose: string): FieldError | null {
  if (!purpose.trim()) return { key: 'v.required' };
  if (purpose.trim().length < 4) return { key: 'v.tooShort', params: { n: 4 } };
  return null;
}
