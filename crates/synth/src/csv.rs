//! Minimal RFC 4180 CSV rendering for the generated rows (quoting only when a
//! field needs it), so dumps are byte-stable without a CSV dependency.

pub(crate) fn field(out: &mut String, value: &str) {
    if value.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&value.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(value);
    }
}

/// Joins fields into one line (no trailing newline); `None` becomes an empty field.
pub(crate) fn row<'a>(fields: impl IntoIterator<Item = Option<&'a str>>) -> String {
    let mut out = String::new();
    for (i, f) in fields.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if let Some(v) = f {
            field(&mut out, v);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(
            row([Some("a"), None, Some("b,c"), Some("say \"hi\"")]),
            "a,,\"b,c\",\"say \"\"hi\"\"\""
        );
    }
}
