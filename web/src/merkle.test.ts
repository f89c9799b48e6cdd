import { describe, expect, it } from 'vitest';
import {
  base64ToBytes, bytesToHex, checkInclusion, hexToBytes, leafHash, nodeHash, parseCheckpoint,
  rootFromInclusion, verifyCheckpointSignature, type Bytes,
} from './merkle';

// A straightforward reference: RFC 6962 MTH and PATH by their recursive definitions.
function split(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}
async function mth(leaves: Bytes[]): Promise<Bytes> {
  if (leaves.length === 1) return leaves[0];
  const k = split(leaves.length);
  return nodeHash(await mth(leaves.slice(0, k)), await mth(leaves.slice(k)));
}
async function path(m: number, leaves: Bytes[]): Promise<Bytes[]> {
  if (leaves.length === 1) return [];
  const k = split(leaves.length);
  return m < k
    ? [...(await path(m, leaves.slice(0, k))), await mth(leaves.slice(k))]
    : [...(await path(m - k, leaves.slice(k))), await mth(leaves.slice(0, k))];
}

const b64 = (b: Bytes) => btoa(String.fromCharCode(...b));

describe('RFC 6962 hashing', () => {
  it('matches the known vectors', async () => {
    expect(bytesToHex(await leafHash(''))).toBe('6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d');
    // The RFC 6962 test tree: leaves 0x00, 0x10, 0x2021, … ; its 8-leaf root is well known.
    const data = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'];
    const leaves = await Promise.all(data.map((d) => leafHash(hexToBytes(d))));
    expect(bytesToHex(await mth(leaves))).toBe('5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328');
    expect(bytesToHex(await mth(leaves.slice(0, 1)))).toBe('6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d');
    expect(bytesToHex(await mth(leaves.slice(0, 2)))).toBe('fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125');
  });
});

describe('inclusion proofs', () => {
  it('reach the reference root for every index of trees of 1..33 leaves', async () => {
    const all = await Promise.all(Array.from({ length: 33 }, (_, i) => leafHash(`leaf ${i}`)));
    for (let n = 1; n <= 33; n++) {
      const leaves = all.slice(0, n);
      const root = bytesToHex(await mth(leaves));
      for (let i = 0; i < n; i++) {
        const got = await rootFromInclusion(i, n, leaves[i], await path(i, leaves));
        expect(bytesToHex(got), `index ${i} of ${n}`).toBe(root);
      }
    }
  });

  it('refuse proofs of the wrong length or index', async () => {
    const leaves = await Promise.all([0, 1, 2, 3, 4].map((i) => leafHash(`x${i}`)));
    const p = await path(2, leaves);
    await expect(rootFromInclusion(2, 5, leaves[2], [...p, leaves[0]])).rejects.toThrow(/too long/);
    await expect(rootFromInclusion(2, 5, leaves[2], p.slice(1))).rejects.toThrow(/too short/);
    await expect(rootFromInclusion(5, 5, leaves[2], p)).rejects.toThrow(/outside/);
    // A proof for another leaf leads elsewhere.
    expect(bytesToHex(await rootFromInclusion(2, 5, leaves[3], p))).not.toBe(bytesToHex(await mth(leaves)));
  });
});

describe('signed checkpoints', () => {
  async function signedNote(size: number, root: Bytes) {
    const kp = await crypto.subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify']) as CryptoKeyPair;
    const pub = new Uint8Array(await crypto.subtle.exportKey('raw', kp.publicKey));
    const text = `pingan.test/log\n${size}\n${b64(root)}\n`;
    const sig = new Uint8Array(await crypto.subtle.sign({ name: 'Ed25519' }, kp.privateKey, new TextEncoder().encode(text)));
    const keyId = Uint8Array.of(1, 2, 3, 4);
    const note = `${text}\n\u2014 pingan.test/log ${b64(Uint8Array.from([...keyId, ...sig]))}\n`;
    const vkey = `pingan.test/log+01020304+${b64(Uint8Array.from([1, ...pub]))}`;
    return { note, vkey };
  }

  it('parse and verify, and a changed size breaks the signature', async () => {
    const root = await leafHash('r');
    const { note, vkey } = await signedNote(7, root);
    const cp = parseCheckpoint(note);
    expect(cp.origin).toBe('pingan.test/log');
    expect(cp.size).toBe(7);
    expect(bytesToHex(cp.root)).toBe(bytesToHex(root));
    expect(cp.signatures[0].keyId).toBe('01020304');
    expect(await verifyCheckpointSignature(cp, vkey)).toBe(true);
    const forged = parseCheckpoint(note.replace('\n7\n', '\n8\n'));
    expect(await verifyCheckpointSignature(forged, vkey)).toBe(false);
  });

  it('reject malformed notes with a reason', () => {
    expect(() => parseCheckpoint('origin\n1\nAAAA\n')).toThrow(/signature block/);
    expect(() => parseCheckpoint('origin\n01\nAAAA\n\n')).toThrow(/size/);
    expect(() => parseCheckpoint(`o\n1\n${b64(new Uint8Array(31))}\n\n`)).toThrow(/32 bytes/);
    expect(base64ToBytes('AQID')).toEqual(Uint8Array.of(1, 2, 3));
  });

  it('checkInclusion ties entry, proof and signed root together', async () => {
    const entries = ['{"v":1,"a":1}', '{"v":1,"a":2}', '{"v":1,"a":3}'];
    const leaves = await Promise.all(entries.map((e) => leafHash(e)));
    const { note, vkey } = await signedNote(3, await mth(leaves));
    const proofHex = (await path(1, leaves)).map(bytesToHex);
    const ok = await checkInclusion({ index: 1, leafHashHex: bytesToHex(leaves[1]), proofHex, checkpoint: note, entry: entries[1], vkey });
    expect(ok).toEqual({ included: true, entryMatches: true, signed: true, size: 3 });
    const tampered = await checkInclusion({ index: 1, leafHashHex: bytesToHex(leaves[1]), proofHex, checkpoint: note, entry: '{"v":1,"a":9}', vkey });
    expect(tampered.entryMatches).toBe(false);
    const wrong = await checkInclusion({ index: 0, leafHashHex: bytesToHex(leaves[1]), proofHex, checkpoint: note });
    expect(wrong.included).toBe(false);
    expect(wrong.signed).toBeNull();
  });
});
