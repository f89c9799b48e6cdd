//! C2SP signed notes with Ed25519 keys, wire-compatible with
//! `golang.org/x/mod/sumdb/note`: key strings, signing and opening.
//!
//! A note is text ending in a newline, a blank line, then signature lines
//! `— <key name> <base64(4-byte key id || 64-byte signature)>`. The key id is the
//! first four bytes of `SHA-256(name || "\n" || 0x01 || public key)`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

use crate::hash::sha256;

/// Signature algorithm byte of Ed25519 in key strings and key ids.
const ALG_ED25519: u8 = 0x01;
/// Prefix of every signature line: an em dash and a space.
const SIG_PREFIX: &str = "\u{2014} ";
/// Go's `note.Open` refuses notes with more signatures than this.
const MAX_SIGNATURES: usize = 100;

/// Why a key string or a note is rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    #[error("key name {name:?} is empty or contains a space or '+'")]
    KeyName { name: String },
    #[error("{which} key string is malformed: {reason}")]
    KeyString {
        which: &'static str,
        reason: &'static str,
    },
    #[error(
        "note text must be non-empty, end with a newline and contain no blank line or control character"
    )]
    Text,
    #[error("note has no blank line separating text and signatures")]
    NoSignatureBlock,
    #[error("signature line {line} is malformed")]
    SignatureLine { line: usize },
    #[error("note has more than {MAX_SIGNATURES} signatures")]
    TooManySignatures,
    #[error("note carries no signature by key {name}")]
    NoSignatureByKey { name: String },
    #[error("signature by key {name} does not verify")]
    BadSignature { name: String },
}

fn check_name(name: &str) -> Result<(), NoteError> {
    if name.is_empty() || name.contains('+') || name.chars().any(char::is_whitespace) {
        return Err(NoteError::KeyName {
            name: name.to_owned(),
        });
    }
    Ok(())
}

fn key_id(name: &str, public: &VerifyingKey) -> [u8; 4] {
    let mut buf = Vec::with_capacity(name.len() + 34);
    buf.extend_from_slice(name.as_bytes());
    buf.push(b'\n');
    buf.push(ALG_ED25519);
    buf.extend_from_slice(public.as_bytes());
    let h = sha256(&buf);
    [h[0], h[1], h[2], h[3]]
}

fn check_text(text: &str) -> Result<(), NoteError> {
    let ok = !text.is_empty()
        && text.ends_with('\n')
        && !text.contains("\n\n")
        && !text.chars().any(|c| c.is_control() && c != '\n');
    if ok { Ok(()) } else { Err(NoteError::Text) }
}

/// Splits `<name>+<hex id>+<base64(0x01 || key)>` and checks the id.
fn parse_key_parts(which: &'static str, s: &str) -> Result<(String, [u8; 4], [u8; 32]), NoteError> {
    let bad = |reason| NoteError::KeyString { which, reason };
    // The name has no '+', the base64 may: split off two fields only.
    let mut parts = s.splitn(3, '+');
    let (Some(name), Some(id_hex), Some(key_b64)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("expected name+id+key"));
    };
    check_name(name)?;
    if id_hex.len() != 8 || id_hex.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(bad("key id is not 8 lower-case hex digits"));
    }
    let mut id = [0u8; 4];
    hex::decode_to_slice(id_hex, &mut id).map_err(|_| bad("key id is not hex"))?;
    let raw = B64.decode(key_b64).map_err(|_| bad("key is not base64"))?;
    if raw.len() != 33 || raw[0] != ALG_ED25519 {
        return Err(bad("key is not an Ed25519 key (0x01 + 32 bytes)"));
    }
    let mut key = [0u8; 32];
    key.copy_from_slice(&raw[1..]);
    Ok((name.to_owned(), id, key))
}

/// A public key that checks notes: name, key id, Ed25519 key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    id: [u8; 4],
    key: VerifyingKey,
}

impl NoteVerifier {
    /// Parses a verifier key string `<name>+<hex id>+<base64(0x01 || public key)>`.
    pub fn parse(vkey: &str) -> Result<Self, NoteError> {
        let (name, id, key) = parse_key_parts("verifier", vkey)?;
        let key = VerifyingKey::from_bytes(&key).map_err(|_| NoteError::KeyString {
            which: "verifier",
            reason: "not a valid Ed25519 public key",
        })?;
        if key_id(&name, &key) != id {
            return Err(NoteError::KeyString {
                which: "verifier",
                reason: "key id does not match the key",
            });
        }
        Ok(NoteVerifier { name, id, key })
    }

    /// The verifier key string (what a log publishes for its checkpoints).
    pub fn vkey(&self) -> String {
        let mut raw = vec![ALG_ED25519];
        raw.extend_from_slice(self.key.as_bytes());
        format!("{}+{}+{}", self.name, hex::encode(self.id), B64.encode(raw))
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn key_id(&self) -> [u8; 4] {
        self.id
    }
}

/// A private key that signs notes.
#[derive(Clone)]
pub struct NoteSigner {
    name: String,
    id: [u8; 4],
    key: SigningKey,
}

impl std::fmt::Debug for NoteSigner {
    // Never print the private key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NoteSigner")
            .field("name", &self.name)
            .field("id", &hex::encode(self.id))
            .finish()
    }
}

impl NoteSigner {
    /// A signer named `name` from a 32-byte Ed25519 seed (the caller draws it
    /// from a CSPRNG once and keeps it secret).
    pub fn from_seed(name: &str, seed: [u8; 32]) -> Result<Self, NoteError> {
        check_name(name)?;
        let key = SigningKey::from_bytes(&seed);
        Ok(NoteSigner {
            name: name.to_owned(),
            id: key_id(name, &key.verifying_key()),
            key,
        })
    }

    /// Parses a signer key string `PRIVATE+KEY+<name>+<hex id>+<base64(0x01 || seed)>`
    /// (the Go `note.NewSigner` format).
    pub fn parse(skey: &str) -> Result<Self, NoteError> {
        let rest = skey
            .strip_prefix("PRIVATE+KEY+")
            .ok_or(NoteError::KeyString {
                which: "signer",
                reason: "does not start with PRIVATE+KEY+",
            })?;
        let (name, id, seed) = parse_key_parts("signer", rest)?;
        let signer = Self::from_seed(&name, seed)?;
        if signer.id != id {
            return Err(NoteError::KeyString {
                which: "signer",
                reason: "key id does not match the key",
            });
        }
        Ok(signer)
    }

    /// The signer key string; a secret.
    pub fn skey(&self) -> String {
        let mut raw = vec![ALG_ED25519];
        raw.extend_from_slice(self.key.as_bytes());
        format!(
            "PRIVATE+KEY+{}+{}+{}",
            self.name,
            hex::encode(self.id),
            B64.encode(raw)
        )
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The matching public verifier.
    pub fn verifier(&self) -> NoteVerifier {
        NoteVerifier {
            name: self.name.clone(),
            id: self.id,
            key: self.key.verifying_key(),
        }
    }

    /// Signs `text` and returns the whole note.
    pub fn sign(&self, text: &str) -> Result<String, NoteError> {
        check_text(text)?;
        let sig = self.key.sign(text.as_bytes());
        let mut blob = Vec::with_capacity(68);
        blob.extend_from_slice(&self.id);
        blob.extend_from_slice(&sig.to_bytes());
        Ok(format!(
            "{text}\n{SIG_PREFIX}{} {}\n",
            self.name,
            B64.encode(blob)
        ))
    }
}

/// A syntactically valid signature line.
struct SigLine<'a> {
    name: &'a str,
    id: [u8; 4],
    sig: Vec<u8>,
}

fn parse_sig_line(line: &str, number: usize) -> Result<SigLine<'_>, NoteError> {
    let bad = NoteError::SignatureLine { line: number };
    let rest = line.strip_prefix(SIG_PREFIX).ok_or(bad.clone())?;
    let (name, b64) = rest.split_once(' ').ok_or(bad.clone())?;
    check_name(name).map_err(|_| bad.clone())?;
    let raw = B64.decode(b64).map_err(|_| bad.clone())?;
    if raw.len() < 5 {
        return Err(bad);
    }
    Ok(SigLine {
        name,
        id: [raw[0], raw[1], raw[2], raw[3]],
        sig: raw[4..].to_vec(),
    })
}

/// Checks that `note` carries a valid signature by `verifier` and returns the
/// signed text (with its final newline). Signatures by other keys are ignored,
/// as the spec requires; a bad signature by the verifier's key rejects the note.
pub fn open_note<'a>(note: &'a str, verifier: &NoteVerifier) -> Result<&'a str, NoteError> {
    let split = note.rfind("\n\n").ok_or(NoteError::NoSignatureBlock)?;
    let text = &note[..split + 1];
    let sigs = &note[split + 2..];
    check_text(text)?;
    if sigs.is_empty() || !sigs.ends_with('\n') {
        return Err(NoteError::SignatureLine { line: 1 });
    }
    let lines: Vec<&str> = sigs[..sigs.len() - 1].split('\n').collect();
    if lines.len() > MAX_SIGNATURES {
        return Err(NoteError::TooManySignatures);
    }
    let mut verified = false;
    for (i, line) in lines.iter().enumerate() {
        let s = parse_sig_line(line, i + 1)?;
        if s.name != verifier.name || s.id != verifier.id {
            continue;
        }
        let bad = || NoteError::BadSignature {
            name: verifier.name.clone(),
        };
        let bytes: [u8; 64] = s.sig.as_slice().try_into().map_err(|_| bad())?;
        verifier
            .key
            .verify_strict(text.as_bytes(), &Signature::from_bytes(&bytes))
            .map_err(|_| bad())?;
        verified = true;
    }
    if verified {
        Ok(text)
    } else {
        Err(NoteError::NoSignatureByKey {
            name: verifier.name.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The example key and note of golang.org/x/mod/sumdb/note.
    const GO_SKEY: &str =
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const GO_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const GO_TEXT: &str = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
    const GO_NOTE: &str = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n\n\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

    #[test]
    fn reproduces_the_go_reference_note_byte_for_byte() {
        let signer = NoteSigner::parse(GO_SKEY).unwrap();
        assert_eq!(signer.skey(), GO_SKEY);
        assert_eq!(signer.verifier().vkey(), GO_VKEY);
        assert_eq!(signer.sign(GO_TEXT).unwrap(), GO_NOTE);
        let v = NoteVerifier::parse(GO_VKEY).unwrap();
        assert_eq!(open_note(GO_NOTE, &v), Ok(GO_TEXT));
    }

    #[test]
    fn tampered_notes_are_rejected() {
        let v = NoteVerifier::parse(GO_VKEY).unwrap();
        let changed = GO_NOTE.replace("cryptography", "cryptographY");
        assert_eq!(
            open_note(&changed, &v),
            Err(NoteError::BadSignature {
                name: "PeterNeumann".into()
            })
        );
        let other = NoteSigner::from_seed("PeterNeumann", [9; 32])
            .unwrap()
            .verifier();
        assert_eq!(
            open_note(GO_NOTE, &other),
            Err(NoteError::NoSignatureByKey {
                name: "PeterNeumann".into()
            })
        );
        assert_eq!(open_note(GO_TEXT, &v), Err(NoteError::NoSignatureBlock));
        let dashless = GO_NOTE.replace('\u{2014}', "-");
        assert_eq!(
            open_note(&dashless, &v),
            Err(NoteError::SignatureLine { line: 1 })
        );
    }

    #[test]
    fn foreign_signatures_are_ignored() {
        let a = NoteSigner::from_seed("log.example", [1; 32]).unwrap();
        let b = NoteSigner::from_seed("witness.example", [2; 32]).unwrap();
        let text = "hello\n";
        let note_a = a.sign(text).unwrap();
        let line_b = b.sign(text).unwrap();
        let cosigned = format!("{note_a}{}", &line_b[text.len() + 1..]);
        assert_eq!(open_note(&cosigned, &a.verifier()), Ok(text));
        assert_eq!(open_note(&cosigned, &b.verifier()), Ok(text));
    }

    #[test]
    fn key_strings_are_checked() {
        assert!(matches!(
            NoteVerifier::parse(
                "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
            ),
            Err(NoteError::KeyString { .. })
        ));
        assert!(matches!(
            NoteVerifier::parse("PeterNeumann"),
            Err(NoteError::KeyString { .. })
        ));
        assert!(matches!(
            NoteSigner::from_seed("bad name", [0; 32]),
            Err(NoteError::KeyName { .. })
        ));
        let s = NoteSigner::from_seed("x", [0; 32]).unwrap();
        assert_eq!(s.sign("no newline"), Err(NoteError::Text));
        assert_eq!(s.sign("a\n\nb\n"), Err(NoteError::Text));
        assert!(!format!("{s:?}").contains(&s.skey()));
    }
}
