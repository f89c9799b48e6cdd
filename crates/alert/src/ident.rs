//! Identifiers carried by sensor events (plates, ID numbers, phones, cards, MACs,
//! face ids …): a small kind enum plus a normalised value string.
//!
//! Full normalisation (GB 11643 checksums, phone canonical forms, plate grammar)
//! belongs to `pingan_core::normalize`; this module accepts values that are
//! already normalised and only does the cheap, lossless clean-ups that sensors
//! routinely get wrong (surrounding whitespace, lower-case plates and MACs), plus
//! a syntactic sanity check so garbage never reaches the indexes.

use std::fmt;
use std::sync::Arc;

use thiserror::Error;

/// Longest identifier value accepted; anything longer is a sensor fault.
pub const MAX_IDENTIFIER_LEN: usize = 64;

/// What an identifier identifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IdentKind {
    /// Vehicle plate, e.g. `川A12345`.
    Plate,
    /// Resident ID number (GB 11643, 18 characters; 15 for old cards).
    IdNumber,
    /// Phone number, digits with an optional leading `+`.
    Phone,
    /// Access-control card or transit card number.
    Card,
    /// Wi-Fi / Bluetooth MAC address, `AA:BB:CC:DD:EE:FF`.
    Mac,
    /// Face template id produced by a face-matching system.
    FaceId,
    /// Mobile subscriber identity seen by an IMSI collector.
    Imsi,
    /// Handset identity.
    Imei,
}

impl IdentKind {
    pub const ALL: [IdentKind; 8] = [
        IdentKind::Plate,
        IdentKind::IdNumber,
        IdentKind::Phone,
        IdentKind::Card,
        IdentKind::Mac,
        IdentKind::FaceId,
        IdentKind::Imsi,
        IdentKind::Imei,
    ];

    /// The wire name (`snake_case`).
    pub fn as_str(self) -> &'static str {
        match self {
            IdentKind::Plate => "plate",
            IdentKind::IdNumber => "id_number",
            IdentKind::Phone => "phone",
            IdentKind::Card => "card",
            IdentKind::Mac => "mac",
            IdentKind::FaceId => "face_id",
            IdentKind::Imsi => "imsi",
            IdentKind::Imei => "imei",
        }
    }

    /// Parses a wire name; `None` for an unknown kind.
    pub fn parse(s: &str) -> Option<IdentKind> {
        IdentKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for IdentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IdentifierError {
    #[error("{kind} identifier is empty")]
    Empty { kind: IdentKind },
    #[error("{kind} identifier is longer than {MAX_IDENTIFIER_LEN} characters")]
    TooLong { kind: IdentKind },
    #[error("{kind} identifier {value:?} contains a character not allowed for this kind")]
    BadCharacter { kind: IdentKind, value: String },
    #[error("{kind} identifier {value:?} has the wrong length")]
    BadLength { kind: IdentKind, value: String },
}

/// A normalised identifier. Holding one proves the value passed [`Identifier::new`].
///
/// The value is shared (`Arc<str>`): the engine keeps the same identifier in
/// its index, in watch specs and in per-sensor buffers, and cloning it on the
/// hot path must not allocate.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Identifier {
    kind: IdentKind,
    value: Arc<str>,
}

impl Identifier {
    /// Cleans and checks `raw` for `kind`.
    ///
    /// Plates and MACs are upper-cased (plate readers disagree on case; the
    /// province character is unaffected), ID numbers get an upper-case check
    /// letter `X`; every kind is trimmed. Nothing else is rewritten.
    pub fn new(kind: IdentKind, raw: &str) -> Result<Identifier, IdentifierError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(IdentifierError::Empty { kind });
        }
        if trimmed.chars().count() > MAX_IDENTIFIER_LEN {
            return Err(IdentifierError::TooLong { kind });
        }
        let bad = || IdentifierError::BadCharacter {
            kind,
            value: trimmed.to_string(),
        };
        let bad_len = || IdentifierError::BadLength {
            kind,
            value: trimmed.to_string(),
        };
        let value: String = match kind {
            IdentKind::Plate => {
                if trimmed
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control() || c.is_ascii_punctuation())
                {
                    return Err(bad());
                }
                trimmed.to_uppercase()
            }
            IdentKind::IdNumber => {
                let up = trimmed.to_ascii_uppercase();
                let n = up.len();
                if !up.is_ascii() {
                    return Err(bad());
                }
                if n != 18 && n != 15 {
                    return Err(bad_len());
                }
                let (body, last) = up.split_at(n - 1);
                let last_ok = last
                    .chars()
                    .all(|c| c.is_ascii_digit() || (n == 18 && c == 'X'));
                if !body.chars().all(|c| c.is_ascii_digit()) || !last_ok {
                    return Err(bad());
                }
                up
            }
            IdentKind::Phone => {
                let digits = trimmed.strip_prefix('+').unwrap_or(trimmed);
                if !digits.chars().all(|c| c.is_ascii_digit()) {
                    return Err(bad());
                }
                if !(3..=20).contains(&digits.len()) {
                    return Err(bad_len());
                }
                trimmed.to_string()
            }
            IdentKind::Mac => {
                let up = trimmed.to_ascii_uppercase();
                let ok = up.len() == 17
                    && up.char_indices().all(|(i, c)| {
                        if i % 3 == 2 {
                            c == ':'
                        } else {
                            c.is_ascii_hexdigit()
                        }
                    });
                if !ok {
                    return Err(bad());
                }
                up
            }
            IdentKind::Imsi | IdentKind::Imei => {
                if !trimmed.chars().all(|c| c.is_ascii_digit()) {
                    return Err(bad());
                }
                if !(14..=16).contains(&trimmed.len()) {
                    return Err(bad_len());
                }
                trimmed.to_string()
            }
            IdentKind::Card | IdentKind::FaceId => {
                if trimmed.chars().any(|c| c.is_whitespace() || c.is_control()) {
                    return Err(bad());
                }
                trimmed.to_string()
            }
        };
        Ok(Identifier {
            kind,
            value: Arc::from(value),
        })
    }

    pub fn kind(&self) -> IdentKind {
        self.kind
    }

    pub fn value(&self) -> &str {
        &self.value
    }

    /// `text` (a free-text label, e.g. a watch named after the plate it
    /// tracks) with every occurrence of one of `idents`' values masked as in
    /// [`Identifier::masked`], matching letters without regard to case.
    pub fn mask_in(text: &str, idents: &[Identifier]) -> String {
        idents.iter().fold(text.to_string(), |t, i| {
            pingan_core::normalize::mask::replace_ignoring_case(&t, &i.value, &i.masked())
        })
    }

    /// The value with its middle hidden, for lists and exports that must not
    /// show personal identifiers in full. Plates, ID numbers and phones follow
    /// the platform's rules ([`pingan_core::normalize::mask`]: `川A***45`,
    /// `510101********1234`, `138****8000`); other kinds keep a head and a tail
    /// that shrink with their length.
    pub fn masked(&self) -> String {
        use pingan_core::normalize::mask::{mask_id_number, mask_phone, mask_plate};
        match self.kind {
            IdentKind::Plate => return mask_plate(&self.value),
            IdentKind::IdNumber => return mask_id_number(&self.value),
            IdentKind::Phone => return mask_phone(&self.value),
            _ => {}
        }
        let chars: Vec<char> = self.value.chars().collect();
        let n = chars.len();
        let (head, tail) = match n {
            0..=2 => (0, 0),
            3..=6 => (1, 1),
            7..=10 => (3, 1),
            _ => (4, 4),
        };
        chars
            .iter()
            .enumerate()
            .map(|(i, c)| if i < head || i >= n - tail { *c } else { '*' })
            .collect()
    }
}

impl fmt::Display for Identifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind, self.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plates_are_trimmed_and_uppercased() {
        let p = Identifier::new(IdentKind::Plate, "  川a12345 ").unwrap();
        assert_eq!(p.value(), "川A12345");
        assert_eq!(p.to_string(), "plate:川A12345");
        assert_eq!(
            Identifier::new(IdentKind::Plate, "川A 12345"),
            Err(IdentifierError::BadCharacter {
                kind: IdentKind::Plate,
                value: "川A 12345".into()
            })
        );
    }

    #[test]
    fn id_numbers_and_phones() {
        let id = Identifier::new(IdentKind::IdNumber, "51010119900101123x").unwrap();
        assert_eq!(id.value(), "51010119900101123X");
        assert!(matches!(
            Identifier::new(IdentKind::IdNumber, "5101011990"),
            Err(IdentifierError::BadLength { .. })
        ));
        assert!(matches!(
            Identifier::new(IdentKind::IdNumber, "5101011990010112X3"),
            Err(IdentifierError::BadCharacter { .. })
        ));
        assert_eq!(
            Identifier::new(IdentKind::Phone, "+8613800138000")
                .unwrap()
                .value(),
            "+8613800138000"
        );
        assert!(Identifier::new(IdentKind::Phone, "138-0013").is_err());
        assert_eq!(
            Identifier::new(IdentKind::Phone, "   "),
            Err(IdentifierError::Empty {
                kind: IdentKind::Phone
            })
        );
    }

    #[test]
    fn macs_are_uppercased_and_checked() {
        let m = Identifier::new(IdentKind::Mac, "aa:bb:cc:dd:ee:0f").unwrap();
        assert_eq!(m.value(), "AA:BB:CC:DD:EE:0F");
        assert!(Identifier::new(IdentKind::Mac, "aa-bb-cc-dd-ee-0f").is_err());
    }

    #[test]
    fn masking_hides_the_middle() {
        let p = Identifier::new(IdentKind::Plate, "川A12345").unwrap();
        assert_eq!(p.masked(), "川A***45");
        let id = Identifier::new(IdentKind::IdNumber, "510101199001011234").unwrap();
        assert_eq!(id.masked(), "510101********1234");
    }

    #[test]
    fn identifiers_in_free_text_are_masked() {
        let p = Identifier::new(IdentKind::Plate, "川A443YL").unwrap();
        let m = Identifier::new(IdentKind::Mac, "aa:bb:cc:dd:ee:0f").unwrap();
        assert_eq!(
            Identifier::mask_in(
                "盗抢车辆 川a443yl / 川A443YL, 设备 aa:bb:cc:dd:ee:0f",
                &[p, m]
            ),
            "盗抢车辆 川A***YL / 川A***YL, 设备 AA:B*********E:0F"
        );
        assert_eq!(Identifier::mask_in("无关标签", &[]), "无关标签");
    }

    #[test]
    fn kind_names_round_trip() {
        for k in IdentKind::ALL {
            assert_eq!(IdentKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(IdentKind::parse("passport"), None);
    }
}
