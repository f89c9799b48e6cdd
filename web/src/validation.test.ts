import { describe, expect, it } from 'vitest';
import { hasErrors, isValidPhone, MAX_WATCH_DAYS, validateCall, validatePortal, validatePurpose, validateWatch, type WatchForm } from './validation';

describe('phone numbers', () => {
  it('accepts mobiles, landlines, service numbers and international form', () => {
    for (const p of ['13800138000', '138 0013 8000', '028-86001234', '02886001234', '86001234', '12345', '+8613800138000']) {
      expect(isValidPhone(p), p).toBe(true);
    }
  });
  it('rejects garbage', () => {
    for (const p of ['', '123', '12800138000', 'abc', '1380013800a']) expect(isValidPhone(p), p).toBe(false);
  });
});

describe('validateCall', () => {
  const ok = { channel: '110', phone: '13800138000', description: '有人打架斗殴', address: '', location: { lat: 30.6, lng: 104 } };
  it('passes a complete call', () => {
    expect(validateCall(ok)).toEqual({});
  });
  it('names each missing or bad field', () => {
    const e = validateCall({ channel: '', phone: '12', description: 'ab', address: ' ', location: null });
    expect(e).toEqual({
      channel: { key: 'v.required' },
      phone: { key: 'v.phone' },
      description: { key: 'v.tooShort', params: { n: 4 } },
      address: { key: 'v.location' },
    });
  });
  it('accepts an address without a map location', () => {
    expect(validateCall({ ...ok, location: null, address: '天府大道' })).toEqual({});
  });
});

describe('validateWatch', () => {
  const now = Date.parse('2026-11-24T02:00:00Z');
  const base: WatchForm = {
    targetKind: 'plate', targetValue: '川A12345', legalBasis: '刑事诉讼法第一百五十条', caseRef: 'A2026-001',
    startsAt: '', expiresAt: '2026-12-24T02:00:00Z', priority: 'P2',
  };
  it('passes a complete watch', () => {
    expect(validateWatch(base, now)).toEqual({});
  });
  it('requires legal basis, case reference and expiry', () => {
    const e = validateWatch({ ...base, legalBasis: ' ', caseRef: '', expiresAt: '' }, now);
    expect(e.legalBasis).toEqual({ key: 'v.required' });
    expect(e.caseRef).toEqual({ key: 'v.required' });
    expect(e.expiresAt).toEqual({ key: 'v.required' });
    expect(hasErrors(e)).toBe(true);
  });
  it('rejects expiry in the past, before the start, or too far out', () => {
    expect(validateWatch({ ...base, expiresAt: '2026-11-23T00:00:00Z' }, now).expiresAt).toEqual({ key: 'v.expiryPast' });
    expect(validateWatch({ ...base, startsAt: '2026-12-30T00:00:00Z' }, now).expiresAt).toEqual({ key: 'v.expiryPast' });
    expect(validateWatch({ ...base, expiresAt: '2027-06-01T00:00:00Z' }, now).expiresAt).toEqual({ key: 'v.expiryTooLong', params: { days: MAX_WATCH_DAYS } });
    expect(validateWatch({ ...base, expiresAt: 'soon' }, now).expiresAt).toEqual({ key: 'v.date' });
  });
});

describe('portal and purpose', () => {
  it('requires a code and exactly four digits', () => {
    expect(validatePortal('JQ1', '1234')).toEqual({});
    expect(validatePortal('', '12a4')).toEqual({ code: { key: 'v.required' }, phone4: { key: 'v.phone4' } });
  });
  it('requires a meaningful purpose', () => {
    expect(validatePurpose('')).toEqual({ key: 'v.required' });
    expect(validatePurpose('查')).toEqual({ key: 'v.tooShort', params: { n: 4 } });
    expect(validatePurpose('案件侦查 A2026-001')).toBeNull();
  });
});
