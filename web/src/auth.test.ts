import { describe, expect, it } from 'vitest';
import { canOpen, homeFor, navFor } from './auth';

describe('role navigation', () => {
  it('gives dispatchers intake, board and map only', () => {
    expect(navFor('dispatcher')).toEqual(['command', 'intake', 'board']);
    expect(canOpen('dispatcher', 'incident')).toBe(true);
    expect(canOpen('dispatcher', 'audit')).toBe(false);
    expect(homeFor('dispatcher')).toBe('command');
  });

  it('gives station officers their cockpit and the officer view', () => {
    expect(navFor('station_officer')).toEqual(['station', 'officer', 'alerts', 'evaluations']);
    expect(homeFor('station_officer')).toBe('station');
  });

  it('gives analysts search and auditors the audit log', () => {
    expect(navFor('analyst')).toEqual(['search']);
    expect(navFor('auditor')).toEqual(['audit', 'ledger', 'evaluations', 'notifications']);
    expect(homeFor('auditor')).toBe('audit');
    expect(canOpen('analyst', 'command')).toBe(false);
  });

  it('gives admins everything and machine roles nothing', () => {
    expect(navFor('admin')).toHaveLength(12);
    expect(navFor('sensor')).toEqual([]);
    expect(homeFor('partner')).toBeNull();
    expect(canOpen(undefined, 'command')).toBe(false);
  });
});
