import { describe, expect, it } from 'vitest';
import { isOpenIncident, matchColor, priorityColor, priorityRadius, roadClassOf, unitStatusColor } from './styles';

describe('priority and status styling', () => {
  it('colours P1 red through P4 grey and falls back to grey', () => {
    expect(priorityColor('P1')).toBe('#e5322d');
    expect(priorityColor('P4')).toBe('#8a8f98');
    expect(priorityColor('P7')).toBe('#8a8f98');
    expect(priorityRadius('P1')).toBeGreaterThan(priorityRadius('P2'));
    expect(priorityRadius('P4')).toBe(5);
  });

  it('gives every unit status its own colour', () => {
    const statuses = ['available', 'dispatched', 'en_route', 'on_scene', 'busy', 'off_duty'];
    const colours = new Set(statuses.map(unitStatusColor));
    expect(colours.size).toBe(statuses.length);
    expect(unitStatusColor('available')).toBe('#2fb344');
  });

  it('builds MapLibre match expressions with a fallback', () => {
    expect(matchColor('priority', { P1: '#f00', P2: '#0f0' })).toEqual(['match', ['get', 'priority'], 'P1', '#f00', 'P2', '#0f0', '#8a8f98']);
  });

  it('knows which incident statuses are open', () => {
    expect(isOpenIncident('dispatched')).toBe(true);
    expect(isOpenIncident('on_scene')).toBe(true);
    expect(isOpenIncident('closed')).toBe(false);
    expect(isOpenIncident('diverted')).toBe(false);
  });

  it('maps OSM highway classes to road styles', () => {
    expect(roadClassOf('motorway')).toBe(0);
    expect(roadClassOf('primary_link')).toBe(1);
    expect(roadClassOf('tertiary')).toBe(2);
    expect(roadClassOf('footway')).toBe(3);
    expect(roadClassOf(undefined)).toBe(3);
  });
});
