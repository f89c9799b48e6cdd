// Session (token + user in sessionStorage) and the role → screen permission table that
// decides what the navigation shows and which routes a role may open.

import type { Role, User } from './types';
import { setToken } from './api';

export type Screen =
  | 'command' | 'intake' | 'board' | 'incident' | 'station' | 'officer'
  | 'alerts' | 'watches' | 'search' | 'audit' | 'ledger' | 'evaluations' | 'notifications';

/** Which screens each role may open. The server enforces the same rules; this only shapes the UI. */
const ROLE_SCREENS: Record<Role, readonly Screen[]> = {
  admin: ['command', 'intake', 'board', 'incident', 'station', 'officer', 'alerts', 'watches', 'search', 'audit', 'ledger', 'evaluations', 'notifications'],
  commander: ['command', 'board', 'incident', 'station', 'alerts', 'watches', 'ledger', 'evaluations'],
  dispatcher: ['command', 'intake', 'board', 'incident'],
  station_officer: ['station', 'officer', 'incident', 'alerts', 'evaluations'],
  analyst: ['search'],
  auditor: ['audit', 'ledger', 'evaluations', 'notifications'],
  partner: [],
  sensor: [],
};

/** Screens listed in the navigation bar, in order (incident pages are reached from lists). */
export const NAV_ORDER: readonly Screen[] = ['command', 'intake', 'board', 'station', 'officer', 'alerts', 'watches', 'search', 'audit', 'ledger', 'evaluations', 'notifications'];

export function canOpen(role: Role | undefined, screen: Screen): boolean {
  if (!role) return false;
  return (ROLE_SCREENS[role] ?? []).includes(screen);
}

export function navFor(role: Role | undefined): Screen[] {
  return NAV_ORDER.filter((s) => canOpen(role, s));
}

/** The first screen a role lands on after login. */
export function homeFor(role: Role | undefined): Screen | null {
  return navFor(role)[0] ?? null;
}

const USER_KEY = 'pingan.user';

export function currentUser(): User | null {
  try {
    const raw = sessionStorage.getItem(USER_KEY);
    return raw ? (JSON.parse(raw) as User) : null;
  } catch {
    return null;
  }
}

export function saveSession(token: string, user: User): void {
  setToken(token);
  sessionStorage.setItem(USER_KEY, JSON.stringify(user));
}

export function clearSession(): void {
  setToken(null);
  try { sessionStorage.removeItem(USER_KEY); } catch { /* storage disabled */ }
}
