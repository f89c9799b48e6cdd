// Hash routes: `#/incident/<id>` → { name: 'incident', arg: '<id>' }. Hash routing needs no
// server rewrite rules, so the console works from any static file server.

export interface Route { name: string; arg: string | null; query: URLSearchParams }

export function parseHash(hash: string): Route {
  const raw = hash.replace(/^#\/?/, '');
  const [path, qs = ''] = raw.split('?', 2);
  const [name = '', ...rest] = path.split('/').filter(Boolean);
  return { name, arg: rest.length ? decodeURIComponent(rest.join('/')) : null, query: new URLSearchParams(qs) };
}

export function go(name: string, arg?: string): void {
  location.hash = `#/${name}${arg ? `/${encodeURIComponent(arg)}` : ''}`;
}
