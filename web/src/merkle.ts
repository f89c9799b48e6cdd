// Checks the ledger's proofs in the browser, so a citizen or auditor need not trust the
// server's word: RFC 6962 / RFC 9162 hashing (leaf = SHA-256(0x00 ‖ data), node =
// SHA-256(0x01 ‖ left ‖ right)), the inclusion-proof root computation of RFC 9162
// §2.1.3.2, and the C2SP signed-note checkpoint (origin, size, base64 root, Ed25519
// signature lines). Uses WebCrypto only.

export type Bytes = Uint8Array<ArrayBuffer>;

const enc = new TextEncoder();

export function hexToBytes(hex: string): Bytes {
  if (!/^([0-9a-fA-F]{2})*$/.test(hex)) throw new Error(`not hex: ${hex.slice(0, 16)}`);
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function bytesToHex(b: Bytes): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

export function base64ToBytes(s: string): Bytes {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

async function sha256(...parts: Bytes[]): Promise<Bytes> {
  const len = parts.reduce((n, p) => n + p.length, 0);
  const buf = new Uint8Array(len);
  let at = 0;
  for (const p of parts) { buf.set(p, at); at += p.length; }
  return new Uint8Array(await crypto.subtle.digest('SHA-256', buf));
}

/** SHA-256(0x00 ‖ data). */
export function leafHash(data: Bytes | string): Promise<Bytes> {
  return sha256(Uint8Array.of(0), typeof data === 'string' ? enc.encode(data) : data);
}

/** SHA-256(0x01 ‖ left ‖ right). */
export function nodeHash(left: Bytes, right: Bytes): Promise<Bytes> {
  return sha256(Uint8Array.of(1), left, right);
}

/**
 * The root an inclusion proof leads to (RFC 9162 §2.1.3.2), or an error saying why the
 * proof cannot be for `index` in a tree of `size` leaves.
 */
export async function rootFromInclusion(index: number, size: number, leaf: Bytes, proof: Bytes[]): Promise<Bytes> {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) {
    throw new Error(`leaf index ${index} is outside a tree of ${size}`);
  }
  // BigInt keeps the bit arithmetic exact beyond 2^31 leaves.
  let fn = BigInt(index);
  let sn = BigInt(size - 1);
  let r = leaf;
  for (const p of proof) {
    if (sn === 0n) throw new Error('inclusion proof is too long');
    if ((fn & 1n) === 1n || fn === sn) {
      r = await nodeHash(p, r);
      if ((fn & 1n) === 0n) {
        while ((fn & 1n) === 0n && fn !== 0n) { fn >>= 1n; sn >>= 1n; }
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  if (sn !== 0n) throw new Error('inclusion proof is too short');
  return r;
}

export interface Checkpoint {
  origin: string;
  size: number;
  root: Bytes;
  /** The signed text: everything before the blank line, with its final newline. */
  text: string;
  signatures: { name: string; keyId: string; sig: Bytes }[];
}

/** Parses a C2SP signed-note checkpoint: `origin\nsize\nbase64root\n[ext…]\n\n— name sig\n…`. */
export function parseCheckpoint(note: string): Checkpoint {
  const split = note.indexOf('\n\n');
  if (split < 0) throw new Error('checkpoint has no signature block');
  const text = note.slice(0, split + 1);
  const lines = text.split('\n');
  const [origin, sizeLine, rootLine] = lines;
  if (!origin) throw new Error('checkpoint origin is empty');
  if (!/^(0|[1-9][0-9]*)$/.test(sizeLine ?? '')) throw new Error('checkpoint size is not a decimal number');
  const size = Number(sizeLine);
  const root = base64ToBytes(rootLine ?? '');
  if (root.length !== 32) throw new Error('checkpoint root is not 32 bytes');
  const signatures = note.slice(split + 2).split('\n').filter(Boolean).map((l) => {
    const m = /^\u2014 (\S+) ([A-Za-z0-9+/=]+)$/.exec(l);
    if (!m) throw new Error('malformed signature line');
    const blob = base64ToBytes(m[2]);
    if (blob.length < 5) throw new Error('signature too short');
    return { name: m[1], keyId: bytesToHex(blob.slice(0, 4)), sig: blob.slice(4) };
  });
  return { origin, size, root, text, signatures };
}

/**
 * Checks the checkpoint's Ed25519 signature against a verifier key
 * `<name>+<hex key id>+<base64(0x01 ‖ public key)>`. Returns `null` when this browser's
 * WebCrypto has no Ed25519 (the signature then stays unchecked, and the UI says so).
 */
export async function verifyCheckpointSignature(cp: Checkpoint, vkey: string): Promise<boolean | null> {
  // The base64 key may itself contain '+': split on the first two only.
  const m = /^([^+]+)\+([0-9a-fA-F]{8})\+([A-Za-z0-9+/=]+)$/.exec(vkey);
  if (!m) throw new Error('verifier key is malformed');
  const [, name, keyId, keyB64] = m;
  const raw = base64ToBytes(keyB64);
  if (raw.length !== 33 || raw[0] !== 1) throw new Error('verifier key is not an Ed25519 key');
  const sig = cp.signatures.find((s) => s.name === name && s.keyId === keyId.toLowerCase());
  if (!sig) return false;
  let key: CryptoKey;
  try {
    key = await crypto.subtle.importKey('raw', raw.slice(1), { name: 'Ed25519' }, false, ['verify']);
  } catch {
    return null;
  }
  return crypto.subtle.verify({ name: 'Ed25519' }, key, sig.sig, enc.encode(cp.text));
}

export interface InclusionCheck {
  /** The proof leads to the checkpoint's root. */
  included: boolean;
  /** The entry text (if given) hashes to the leaf hash. */
  entryMatches: boolean | null;
  /** Signature by the log's key: true, false, or null if not checkable here. */
  signed: boolean | null;
  size: number;
  error?: string;
}

/** Verifies one entry's inclusion in a signed checkpoint, end to end. */
export async function checkInclusion(input: {
  index: number; leafHashHex: string; proofHex: string[]; checkpoint: string; entry?: string | null; vkey?: string | null;
}): Promise<InclusionCheck> {
  let size = 0;
  try {
    const cp = parseCheckpoint(input.checkpoint);
    size = cp.size;
    const leaf = hexToBytes(input.leafHashHex);
    const entryMatches = input.entry == null ? null : bytesToHex(await leafHash(input.entry)) === input.leafHashHex.toLowerCase();
    const root = await rootFromInclusion(input.index, cp.size, leaf, input.proofHex.map(hexToBytes));
    const included = bytesToHex(root) === bytesToHex(cp.root);
    const signed = input.vkey ? await verifyCheckpointSignature(cp, input.vkey) : null;
    return { included, entryMatches, signed, size };
  } catch (e) {
    return { included: false, entryMatches: null, signed: null, size, error: e instanceof Error ? e.message : String(e) };
  }
}
