//! Personal names as departmental systems record them: traditional characters,
//! full-width letters, stray spaces (`王 小 明`) and a zoo of middle dots in
//! transliterated minority and foreign names (`阿卜杜•热合曼`, `阿卜杜.热合曼`).
//! [`normalize_name`] turns them into one canonical form (`阿卜杜·热合曼`, U+00B7).

use thiserror::Error;

use super::text::{collapse_spaces, is_han, to_half_width, to_simplified};

/// Longest accepted name, in characters (long transliterated names reach ~20).
pub const MAX_NAME_CHARS: usize = 40;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum NameError {
    #[error("name is empty")]
    Empty,
    #[error("name {input:?} contains digits")]
    Digits { input: String },
    #[error("name {input:?} contains invalid character {found:?}")]
    Character { input: String, found: char },
    #[error("name has {len} characters; at most {MAX_NAME_CHARS} are accepted")]
    TooLong { len: usize },
}

impl NameError {
    /// The name of the offending field, for error responses.
    pub fn field(&self) -> &'static str {
        "name"
    }
}

/// Han characters including the rarer extension blocks that appear in given names.
fn is_name_han(c: char) -> bool {
    is_han(c) || ('\u{20000}'..='\u{3134F}').contains(&c) || ('\u{F900}'..='\u{FAFF}').contains(&c)
}

fn is_dot(c: char) -> bool {
    matches!(
        c,
        '·' | '•' | '・' | '‧' | '.' | '∙' | '⋅' | '･' | '●' | '﹒'
    )
}

/// Canonical form of a personal name: simplified, half-width, no spaces between Han
/// characters, one `·` (U+00B7) between the parts of a transliterated name, single
/// spaces between Latin words. Rejects empty names, digits and symbols.
pub fn normalize_name(input: &str) -> Result<String, NameError> {
    let s = collapse_spaces(&to_simplified(&to_half_width(input)));
    if s.is_empty() {
        return Err(NameError::Empty);
    }
    if s.chars()
        .any(|c| c.is_ascii_digit() || (c.is_numeric() && !is_name_han(c)))
    {
        return Err(NameError::Digits {
            input: input.to_owned(),
        });
    }
    // Map every dot variant to U+00B7 and drop spaces that touch a Han character or
    // a dot; keep single spaces between Latin words.
    let chars: Vec<char> = s.chars().map(|c| if is_dot(c) { '·' } else { c }).collect();
    let mut out = String::with_capacity(s.len());
    for (i, &c) in chars.iter().enumerate() {
        if c == ' ' {
            let prev = out.chars().last();
            let next = chars.get(i + 1).copied();
            let latin_gap = prev.is_some_and(|p: char| p.is_alphabetic() && !is_name_han(p))
                && next.is_some_and(|n| n.is_alphabetic() && !is_name_han(n));
            if latin_gap {
                out.push(' ');
            }
            continue;
        }
        if c == '·' && (out.is_empty() || out.ends_with('·')) {
            continue;
        }
        let ok = is_name_han(c) || c == '·' || c.is_alphabetic() || c == '-' || c == '\'';
        if !ok {
            return Err(NameError::Character {
                input: input.to_owned(),
                found: c,
            });
        }
        out.push(c);
    }
    while out.ends_with('·') {
        out.pop();
    }
    if out.is_empty() {
        return Err(NameError::Empty);
    }
    let len = out.chars().count();
    if len > MAX_NAME_CHARS {
        return Err(NameError::TooLong { len });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn examples() {
        let ok = |s: &str| normalize_name(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(ok("王小明"), "王小明");
        assert_eq!(ok(" 王 小 明 "), "王小明");
        assert_eq!(ok("王\u{3000}小明"), "王小明");
        assert_eq!(ok("張偉"), "张伟");
        assert_eq!(ok("陳　麗華"), "陈丽华");
        assert_eq!(ok("阿卜杜·热合曼"), "阿卜杜·热合曼");
        assert_eq!(ok("阿卜杜•热合曼"), "阿卜杜·热合曼");
        assert_eq!(ok("阿卜杜.热合曼"), "阿卜杜·热合曼");
        assert_eq!(ok("阿卜杜 · 热合曼"), "阿卜杜·热合曼");
        assert_eq!(ok("买买提··艾力·"), "买买提·艾力");
        assert_eq!(ok("Ｊｏｈｎ  Ｓｍｉｔｈ"), "John Smith");
        assert_eq!(ok("欧阳娜娜"), "欧阳娜娜");
        // OpenCC maps 薴 → 苧 → 苎 in two steps; the result must be a fixed point.
        assert_eq!(ok(&ok("薴")), ok("薴"));
    }

    #[test]
    fn rejections() {
        assert_eq!(normalize_name(""), Err(NameError::Empty));
        assert_eq!(normalize_name(" \u{3000} "), Err(NameError::Empty));
        assert_eq!(normalize_name("··"), Err(NameError::Empty));
        assert!(matches!(
            normalize_name("王2明"),
            Err(NameError::Digits { .. })
        ));
        assert!(matches!(
            normalize_name("王２明"),
            Err(NameError::Digits { .. })
        ));
        assert!(matches!(
            normalize_name("王明!"),
            Err(NameError::Character { found: '!', .. })
        ));
        assert!(matches!(
            normalize_name("王明@x"),
            Err(NameError::Character { found: '@', .. })
        ));
        assert_eq!(
            normalize_name(&"王".repeat(41)),
            Err(NameError::TooLong { len: 41 })
        );
    }

    proptest! {
        #[test]
        fn idempotent_and_spaceless_for_han(name in "[\u{4E00}-\u{9FA5}]{1,4}", spaces in proptest::collection::vec(0usize..3, 4)) {
            let mut noisy = String::new();
            for (i, c) in name.chars().enumerate() {
                noisy.push(c);
                noisy.push_str(&" ".repeat(spaces[i % spaces.len()]));
            }
            let once = normalize_name(&noisy).expect("han name is valid");
            prop_assert!(!once.contains(' '));
            prop_assert_eq!(normalize_name(&once), Ok(once.clone()));
            prop_assert_eq!(once.chars().count(), name.chars().count());
        }

        #[test]
        fn never_panics(s in "\\PC{0,20}") {
            if let Ok(n) = normalize_name(&s) {
                prop_assert_eq!(normalize_name(&n), Ok(n.clone()));
            }
        }
    }
}
