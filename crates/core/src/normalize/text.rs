//! Character-level text clean-up shared by the other normalisers: traditional →
//! simplified Chinese (OpenCC dictionaries via `ferrous-opencc`), full-width →
//! half-width ASCII, and whitespace collapsing.

use std::sync::OnceLock;

use ferrous_opencc::OpenCC;
use ferrous_opencc::config::BuiltinConfig;

fn converter(cfg: BuiltinConfig, slot: &'static OnceLock<OpenCC>) -> &'static OpenCC {
    slot.get_or_init(|| {
        // The configurations and dictionaries are compiled into ferrous-opencc, so
        // this only fails if that crate is built without its default features.
        OpenCC::from_config(cfg).expect("ferrous-opencc built-in configuration is present")
    })
}

fn t2s() -> &'static OpenCC {
    static T2S: OnceLock<OpenCC> = OnceLock::new();
    converter(BuiltinConfig::T2s, &T2S)
}

/// The BMP range holding CJK extension A and the unified ideographs.
const HAN_START: u32 = 0x3400;
const HAN_END: u32 = 0xA000;

/// Bit set over `HAN_START..HAN_END` of the characters OpenCC `t2s` changes on
/// their own. Built once (≈ 28k single-character conversions) so that text with
/// none of them — nearly all simplified input — skips the dictionary walk, which
/// otherwise dominates address and name normalisation.
fn changing_chars() -> &'static [u64] {
    static SET: OnceLock<Vec<u64>> = OnceLock::new();
    SET.get_or_init(|| {
        let cc = t2s();
        let mut bits = vec![0u64; ((HAN_END - HAN_START) as usize).div_ceil(64)];
        let mut buf = String::with_capacity(4);
        for cp in HAN_START..HAN_END {
            let Some(c) = char::from_u32(cp) else {
                continue;
            };
            buf.clear();
            buf.push(c);
            if cc.convert(&buf) != buf {
                let i = (cp - HAN_START) as usize;
                bits[i / 64] |= 1 << (i % 64);
            }
        }
        bits
    })
}

/// Characters that OpenCC 0.4's `TSPhrases` rewrites only inside phrases (沈默 →
/// 沉默, 反覆 → 反复, 瞭解 → 了解) while leaving them alone on their own; found by
/// diffing `TSPhrases.txt` against `TSCharacters.txt` of ferrous-opencc 0.4.0.
const PHRASE_ONLY: [char; 6] = ['沈', '牴', '瞭', '藉', '衹', '覆'];

/// Whether `c` may be rewritten by `t2s`: a listed ideograph, or anything outside
/// the ASCII/BMP-ideograph fast path (compatibility ideographs, extension B+,
/// radicals), which is rare enough to always convert.
fn may_change(c: char) -> bool {
    let cp = c as u32;
    if cp < 0x2E80 {
        return false;
    }
    if (HAN_START..HAN_END).contains(&cp) {
        if PHRASE_ONLY.contains(&c) {
            return true;
        }
        let i = (cp - HAN_START) as usize;
        return changing_chars()[i / 64] & (1 << (i % 64)) != 0;
    }
    (0x2E80..HAN_START).contains(&cp) || (0xF900..=0xFAFF).contains(&cp) || cp >= 0x20000
}

/// OpenCC `t2s` until a fixed point: a few mappings chain (one variant → 苧 → 苎),
/// and normalised keys must be idempotent.
fn t2s_fixed_point(s: &str) -> String {
    let cc = t2s();
    let mut cur = cc.convert(s);
    if cur == s {
        return cur;
    }
    for _ in 0..3 {
        let next = cc.convert(&cur);
        if next == cur {
            break;
        }
        cur = next;
    }
    cur
}

/// Traditional → simplified Chinese (OpenCC `t2s`, phrase-aware), idempotent.
/// Text that is already simplified, ASCII or other scripts passes through unchanged.
///
/// # Panics
/// Only if `ferrous-opencc` was compiled without its built-in `t2s` data.
pub fn to_simplified(s: &str) -> String {
    if !s.chars().any(may_change) {
        return s.to_owned();
    }
    t2s_fixed_point(s)
}

/// Simplified → traditional Chinese (OpenCC `s2t`). Used by the synthetic data
/// generator to produce the traditional-character noise real sources contain.
///
/// # Panics
/// Only if `ferrous-opencc` was compiled without its built-in `s2t` data.
pub fn to_traditional(s: &str) -> String {
    static S2T: OnceLock<OpenCC> = OnceLock::new();
    if s.is_ascii() {
        return s.to_owned();
    }
    converter(BuiltinConfig::S2t, &S2T).convert(s)
}

/// Maps one full-width form (U+FF01–U+FF5E, ideographic space U+3000) to its ASCII
/// counterpart; every other character is returned unchanged.
pub fn half_width_char(c: char) -> char {
    match c {
        '\u{3000}' => ' ',
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        _ => c,
    }
}

/// Full-width ASCII forms (`１２３ＡＢＣ，（）`, ideographic space) → half-width.
pub fn to_half_width(s: &str) -> String {
    s.chars().map(half_width_char).collect()
}

/// ASCII → full-width forms (the inverse of [`to_half_width`]); the synthetic data
/// generator uses it to imitate full-width input.
pub fn to_full_width(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            ' ' => '\u{3000}',
            '!'..='~' => char::from_u32(c as u32 + 0xFEE0).unwrap_or(c),
            _ => c,
        })
        .collect()
}

/// Whitespace as departmental exports contain it: ASCII, ideographic space, NBSP,
/// zero-width space and BOM.
pub fn is_space(c: char) -> bool {
    c.is_whitespace() || matches!(c, '\u{200B}' | '\u{FEFF}' | '\u{00A0}' | '\u{3000}')
}

/// Trims and collapses every run of whitespace (see [`is_space`]) into one ASCII space.
pub fn collapse_spaces(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pending = false;
    for c in s.chars() {
        if is_space(c) {
            pending = !out.is_empty();
        } else {
            if pending {
                out.push(' ');
                pending = false;
            }
            out.push(c);
        }
    }
    out
}

/// True for CJK unified ideographs (basic block and extension A) and 〇.
pub fn is_han(c: char) -> bool {
    matches!(c, '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}' | '〇')
}

/// Half-width, upper-case ASCII letters and digits with every whitespace and the
/// given separator characters removed — the common first step for identifiers.
pub(crate) fn compact_identifier(s: &str, separators: &[char]) -> String {
    s.chars()
        .map(half_width_char)
        .filter(|c| !is_space(*c) && !separators.contains(c))
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn simplified() {
        assert_eq!(to_simplified("張偉住在廣東省"), "张伟住在广东省");
        assert_eq!(to_simplified("abc 123"), "abc 123");
        assert_eq!(to_traditional("张伟"), "張偉");
        // Phrase-only conversions, and the surname 沈 left alone.
        assert_eq!(to_simplified("沈默"), "沉默");
        assert_eq!(to_simplified("反覆"), "反复");
        assert_eq!(to_simplified("瞭解"), "了解");
        assert_eq!(to_simplified("沈阳"), "沈阳");
    }

    #[test]
    fn widths_and_spaces() {
        assert_eq!(to_half_width("１２３ＡＢｃ，（）－"), "123ABc,()-");
        assert_eq!(to_half_width("王\u{3000}明"), "王 明");
        assert_eq!(to_full_width("A1 -"), "Ａ１\u{3000}－");
        assert_eq!(collapse_spaces("  a \t\u{3000} b\u{00A0}\n"), "a b");
        assert_eq!(collapse_spaces(""), "");
    }

    proptest! {
        #[test]
        fn half_width_round_trips_ascii(s in "[!-~ ]{0,40}") {
            prop_assert_eq!(to_half_width(&to_full_width(&s)), s.clone());
            prop_assert_eq!(to_half_width(&s), s);
        }

        #[test]
        fn collapse_is_idempotent(s in "\\PC{0,40}") {
            let once = collapse_spaces(&s);
            prop_assert_eq!(collapse_spaces(&once), once.clone());
            prop_assert!(!once.starts_with(' ') && !once.ends_with(' '));
            prop_assert!(!once.contains("  "));
        }

        #[test]
        fn fast_path_agrees_with_full_conversion(s in "[\u{4E00}-\u{9FA5}]{1,8}") {
            prop_assert_eq!(to_simplified(&s), t2s_fixed_point(&s));
        }

        #[test]
        fn simplified_is_idempotent(s in "[\u{4E00}-\u{9FA5}]{0,12}") {
            let once = to_simplified(&s);
            prop_assert_eq!(to_simplified(&once), once);
        }
    }
}
