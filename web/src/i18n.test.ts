import { describe, expect, it } from 'vitest';
import { formatDateTime, formatDistance, formatDuration, formatNumber, formatPercent, formatTime, hasKey, loadLang, locale, setLang, t, tEnum, type KeyValueStore } from './i18n';

function memory(initial: Record<string, string> = {}): KeyValueStore & { data: Record<string, string> } {
  const data = { ...initial };
  return { data, getItem: (k) => data[k] ?? null, setItem: (k, v) => { data[k] = v; } };
}

describe('language selection', () => {
  it('defaults to Simplified Chinese and ignores unknown saved values', () => {
    expect(loadLang(memory())).toBe('zh');
    expect(loadLang(memory({ 'pingan.lang': 'fr' }))).toBe('zh');
    expect(t('nav.command')).toBe('全域态势');
  });

  it('persists the English switch and restores it', () => {
    const store = memory();
    setLang('en', store);
    expect(store.data['pingan.lang']).toBe('en');
    expect(t('nav.command')).toBe('City view');
    setLang('zh', store);
    expect(loadLang(memory({ 'pingan.lang': 'en' }))).toBe('en');
    expect(locale()).toBe('en-GB');
    setLang('zh', memory());
    expect(locale()).toBe('zh-CN');
  });
});

describe('t', () => {
  it('substitutes placeholders and leaves unknown ones visible', () => {
    expect(t('incident.title', { number: 'JQ1' }, 'zh')).toBe('警情 JQ1');
    expect(t('incident.title', { number: 'JQ1' }, 'en')).toBe('Incident JQ1');
    expect(t('incident.title', {}, 'en')).toBe('Incident {number}');
  });

  it('translates server enums and shows unknown values raw', () => {
    setLang('zh', memory());
    expect(tEnum('ustatus', 'en_route')).toBe('途中');
    expect(tEnum('istatus', 'mystery')).toBe('mystery');
    expect(tEnum('ustatus', null)).toBe('—');
    expect(hasKey('priority.P1')).toBe(true);
    expect(hasKey('priority.P9')).toBe(false);
  });
});

describe('formatting', () => {
  it('formats numbers and percentages per locale', () => {
    expect(formatNumber(1234567, 'zh')).toBe('1,234,567');
    expect(formatNumber(null, 'en')).toBe('—');
    expect(formatPercent(0.123, 'en')).toBe('12%');
  });

  it('formats instants in China Standard Time', () => {
    expect(formatDateTime('2026-11-24T02:03:04Z', 'zh')).toBe('2026/11/24 10:03:04');
    expect(formatDateTime('2026-11-24T02:03:04Z', 'en')).toBe('24/11/2026, 10:03:04');
    expect(formatTime('2026-11-24T15:59:00Z', 'zh')).toBe('23:59:00');
    expect(formatDateTime('not a date', 'zh')).toBe('—');
    expect(formatDateTime(null, 'zh')).toBe('—');
  });

  it('formats durations in seconds, minutes and hours', () => {
    expect(formatDuration(42, 'zh')).toBe('42 秒');
    expect(formatDuration(200, 'zh')).toBe('3 分 20 秒');
    expect(formatDuration(200, 'en')).toBe('3 min 20 s');
    expect(formatDuration(3725, 'en')).toBe('1 h 2 min');
    expect(formatDuration(-1, 'en')).toBe('—');
    expect(formatDuration(null, 'en')).toBe('—');
  });

  it('formats distances in metres below a kilometre', () => {
    expect(formatDistance(850, 'zh')).toBe('850米');
    expect(formatDistance(850, 'en')).toBe('850 m');
    expect(formatDistance(1500, 'zh')).toBe('1.5公里');
    expect(formatDistance(1500, 'en')).toBe('1.5 km');
    expect(formatDistance(undefined, 'en')).toBe('—');
  });
});
