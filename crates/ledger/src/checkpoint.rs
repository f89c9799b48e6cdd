//! Checkpoints in the C2SP tlog-checkpoint format: the signed statement
//! "log `origin` had `size` entries with root `root`".
//!
//! Body: `<origin>\n<size>\n<base64 root>\n[extension lines]`, signed as a note.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

use crate::hash::Hash;
use crate::note::{NoteError, NoteSigner, NoteVerifier, open_note};

/// An unsigned (or already verified) checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
    /// Optional extra lines after the root, kept verbatim.
    pub extensions: Vec<String>,
}

/// Why a checkpoint is rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    #[error(transparent)]
    Note(#[from] NoteError),
    #[error("checkpoint {field} line is malformed")]
    Field { field: &'static str },
    #[error("checkpoint origin {origin:?} is not the verifier's name {key_name:?}")]
    OriginMismatch { origin: String, key_name: String },
}

impl Checkpoint {
    pub fn new(origin: &str, size: u64, root: Hash) -> Self {
        Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
            extensions: Vec::new(),
        }
    }

    /// The note text.
    pub fn body(&self) -> String {
        let mut s = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root)
        );
        for e in &self.extensions {
            s.push_str(e);
            s.push('\n');
        }
        s
    }

    /// Parses a note text (without signatures).
    pub fn parse_body(text: &str) -> Result<Self, CheckpointError> {
        let body = text.strip_suffix('\n').ok_or(CheckpointError::Field {
            field: "final newline",
        })?;
        let mut lines = body.split('\n');
        let origin = lines
            .next()
            .filter(|o| !o.is_empty())
            .ok_or(CheckpointError::Field { field: "origin" })?;
        let size_s = lines
            .next()
            .ok_or(CheckpointError::Field { field: "size" })?;
        let canonical = !size_s.is_empty()
            && size_s.bytes().all(|b| b.is_ascii_digit())
            && (size_s == "0" || !size_s.starts_with('0'));
        let size: u64 = size_s
            .parse()
            .ok()
            .filter(|_| canonical)
            .ok_or(CheckpointError::Field { field: "size" })?;
        let root_s = lines
            .next()
            .ok_or(CheckpointError::Field { field: "root" })?;
        let root: Hash = B64
            .decode(root_s)
            .ok()
            .and_then(|r| r.try_into().ok())
            .ok_or(CheckpointError::Field { field: "root" })?;
        let extensions: Vec<String> = lines.map(str::to_owned).collect();
        if extensions.iter().any(String::is_empty) {
            return Err(CheckpointError::Field { field: "extension" });
        }
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
            extensions,
        })
    }

    /// Signs the checkpoint and returns the note text.
    pub fn sign(&self, signer: &NoteSigner) -> Result<String, CheckpointError> {
        Ok(signer.sign(&self.body())?)
    }

    /// Verifies a signed checkpoint note. The origin must equal the key name,
    /// so a checkpoint of one log cannot be passed off as another's.
    pub fn open(note: &str, verifier: &NoteVerifier) -> Result<Self, CheckpointError> {
        let text = open_note(note, verifier)?;
        let cp = Self::parse_body(text)?;
        if cp.origin != verifier.name() {
            return Err(CheckpointError::OriginMismatch {
                origin: cp.origin,
                key_name: verifier.name().to_owned(),
            });
        }
        Ok(cp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::{empty_root, leaf_hash};

    fn signer() -> NoteSigner {
        NoteSigner::from_seed("ledger.pingan.example", [7; 32]).unwrap()
    }

    #[test]
    fn round_trip() {
        let cp = Checkpoint::new("ledger.pingan.example", 12345, leaf_hash(b"x"));
        let note = cp.sign(&signer()).unwrap();
        assert!(note.starts_with("ledger.pingan.example\n12345\n"));
        assert_eq!(Checkpoint::open(&note, &signer().verifier()), Ok(cp));
        let empty = Checkpoint::new("ledger.pingan.example", 0, empty_root());
        assert_eq!(
            empty.body(),
            "ledger.pingan.example\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"
        );
    }

    #[test]
    fn tampered_size_or_root_is_rejected() {
        let note = Checkpoint::new("ledger.pingan.example", 10, leaf_hash(b"x"))
            .sign(&signer())
            .unwrap();
        let v = signer().verifier();
        let bigger = note.replacen("\n10\n", "\n11\n", 1);
        assert!(matches!(
            Checkpoint::open(&bigger, &v),
            Err(CheckpointError::Note(NoteError::BadSignature { .. }))
        ));
        let other_root = note.replacen(
            &B64.encode(leaf_hash(b"x")),
            &B64.encode(leaf_hash(b"y")),
            1,
        );
        assert!(matches!(
            Checkpoint::open(&other_root, &v),
            Err(CheckpointError::Note(NoteError::BadSignature { .. }))
        ));
    }

    #[test]
    fn malformed_bodies() {
        let root = B64.encode([0u8; 32]);
        assert_eq!(
            Checkpoint::parse_body(&format!("o\n010\n{root}\n")),
            Err(CheckpointError::Field { field: "size" })
        );
        assert_eq!(
            Checkpoint::parse_body(&format!("o\n-1\n{root}\n")),
            Err(CheckpointError::Field { field: "size" })
        );
        assert_eq!(
            Checkpoint::parse_body("o\n1\nAAAA\n"),
            Err(CheckpointError::Field { field: "root" })
        );
        assert_eq!(
            Checkpoint::parse_body(&format!("\n1\n{root}\n")),
            Err(CheckpointError::Field { field: "origin" })
        );
        let with_ext = Checkpoint::parse_body(&format!("o\n1\n{root}\nts 17\n")).unwrap();
        assert_eq!(with_ext.extensions, vec!["ts 17".to_owned()]);
        assert_eq!(with_ext.body(), format!("o\n1\n{root}\nts 17\n"));
    }

    #[test]
    fn origin_must_match_key_name() {
        let other = NoteSigner::from_seed("other.example", [7; 32]).unwrap();
        let note = Checkpoint::new("ledger.pingan.example", 1, [0; 32])
            .sign(&other)
            .unwrap();
        assert!(matches!(
            Checkpoint::open(&note, &other.verifier()),
            Err(CheckpointError::OriginMismatch { .. })
        ));
    }
}
