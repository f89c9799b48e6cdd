//! Masking of personal identifiers for result lists, logs and exports to users
//! whose role or stated purpose does not allow the full value.
//!
//! Rules (chosen to match common practice in Chinese public-service systems):
//! - ID number: keep the region code (first 6) and the last 4, mask the birth date
//!   and sequence: `510104********1234`. The region and the tail are enough for an
//!   officer to confirm a number read out by its holder, not to reconstruct it.
//! - Phone: mobile keeps the carrier prefix (3) and last 4: `138****8000`; landline
//!   keeps the area code and last 4: `028-****1234`; service numbers are public and
//!   are not masked.
//! - Name: keep the surname (first character) and, for names of three or more
//!   characters, the last character: `王*明`, `王*`, `欧**娜`; the `·` of minority
//!   names is kept: `阿**·**曼`.
//! - Plate: keep the province and issuing-authority letter and the last two
//!   characters: `川A***45`.
//!
//! Every function takes raw text too (it masks what it is given, even unparsed),
//! and never returns more characters of the input than the rule allows.

use super::phone::{Phone, PhoneKind};

fn mask_keep(chars: &[char], head: usize, tail: usize) -> String {
    let n = chars.len();
    if head + tail >= n {
        // Too short for the rule: keep at most the last character.
        return chars
            .iter()
            .enumerate()
            .map(|(i, &c)| if n > 1 && i == n - 1 { c } else { '*' })
            .collect();
    }
    chars
        .iter()
        .enumerate()
        .map(|(i, &c)| if i < head || i >= n - tail { c } else { '*' })
        .collect()
}

/// `510104199003071234` → `510104********1234`.
pub fn mask_id_number(id: &str) -> String {
    let chars: Vec<char> = id.trim().chars().collect();
    mask_keep(&chars, 6, 4)
}

/// `13800138000` → `138****8000`; `028-85551234` → `028-****1234`; `110` → `110`.
/// Input that does not parse as a phone is masked keeping its first 3 and last 4.
pub fn mask_phone(phone: &str) -> String {
    match Phone::parse(phone) {
        Ok(p) => match p.kind() {
            PhoneKind::Mobile => mask_keep(&p.as_str().chars().collect::<Vec<_>>(), 3, 4),
            PhoneKind::Landline => {
                let area = p.area_code().unwrap_or_default();
                let local: Vec<char> = p.local_number().chars().collect();
                format!("{area}-{}", mask_keep(&local, 0, 4))
            }
            PhoneKind::Service => p.as_str().to_owned(),
        },
        Err(_) => mask_keep(&phone.trim().chars().collect::<Vec<_>>(), 3, 4),
    }
}

/// `王小明` → `王*明`, `王明` → `王*`, `欧阳娜娜` → `欧**娜`, `阿卜杜·热合曼` →
/// `阿**·**曼`.
pub fn mask_name(name: &str) -> String {
    let chars: Vec<char> = name.trim().chars().collect();
    let n = chars.len();
    match n {
        0 => String::new(),
        1 => "*".to_owned(),
        2 => format!("{}*", chars[0]),
        _ => chars
            .iter()
            .enumerate()
            .map(|(i, &c)| {
                if i == 0 || i == n - 1 || c == '·' {
                    c
                } else {
                    '*'
                }
            })
            .collect(),
    }
}

/// `川A12345` → `川A***45`, `川AD12345` → `川A****45`.
pub fn mask_plate(plate: &str) -> String {
    let chars: Vec<char> = plate.trim().chars().collect();
    mask_keep(&chars, 2, 2)
}

/// `text` with every occurrence of `value` (letters compared without regard
/// to case) replaced by `with`: masks an identifier inside free text such as
/// a watch label named after the plate it tracks.
pub fn replace_ignoring_case(text: &str, value: &str, with: &str) -> String {
    let needle: Vec<char> = value.chars().flat_map(char::to_lowercase).collect();
    if needle.is_empty() {
        return text.to_string();
    }
    let hay: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut k = 0;
    while k < hay.len() {
        let hit = hay.len() - k >= needle.len()
            && hay[k..k + needle.len()]
                .iter()
                .zip(&needle)
                .all(|(h, n)| h.to_lowercase().eq(std::iter::once(*n)));
        if hit {
            out.push_str(with);
            k += needle.len();
        } else {
            out.push(hay[k]);
            k += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn values_in_free_text() {
        assert_eq!(
            replace_ignoring_case("盗抢车辆 川a12345 / 川A12345", "川A12345", "川A***45"),
            "盗抢车辆 川A***45 / 川A***45"
        );
        assert_eq!(replace_ignoring_case("无关", "", "x"), "无关");
    }

    #[test]
    fn examples() {
        assert_eq!(mask_id_number("510104199003071234"), "510104********1234");
        assert_eq!(mask_id_number("11010519491231002X"), "110105********002X");
        assert_eq!(mask_id_number("123"), "**3");
        assert_eq!(mask_phone("13800138000"), "138****8000");
        assert_eq!(mask_phone("+86 138 0013 8000"), "138****8000");
        assert_eq!(mask_phone("028-85551234"), "028-****1234");
        assert_eq!(mask_phone("0571 8765432"), "0571-***5432");
        assert_eq!(mask_phone("110"), "110");
        assert_eq!(mask_phone("garbage-12345678"), "gar*********5678");
        assert_eq!(mask_name("王小明"), "王*明");
        assert_eq!(mask_name("王明"), "王*");
        assert_eq!(mask_name("欧阳娜娜"), "欧**娜");
        assert_eq!(mask_name("阿卜杜·热合曼"), "阿**·**曼");
        assert_eq!(mask_name("王"), "*");
        assert_eq!(mask_plate("川A12345"), "川A***45");
        assert_eq!(mask_plate("川AD12345"), "川A****45");
    }

    proptest! {
        #[test]
        fn masks_preserve_length_and_hide_the_middle(s in "[0-9]{11,18}") {
            let m = mask_id_number(&s);
            prop_assert_eq!(m.chars().count(), s.chars().count());
            prop_assert_eq!(&m[..6], &s[..6]);
            prop_assert_eq!(&m[m.len() - 4..], &s[s.len() - 4..]);
            prop_assert!(m[6..m.len() - 4].chars().all(|c| c == '*'));
        }

        #[test]
        fn name_mask_reveals_at_most_two_chars(s in "[\u{4E00}-\u{9FA5}]{1,6}") {
            let m = mask_name(&s);
            prop_assert_eq!(m.chars().count(), s.chars().count());
            prop_assert!(m.chars().filter(|&c| c != '*').count() <= 2);
        }
    }
}
