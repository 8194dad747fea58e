//! Character classes and small scanners of the RFC 3261 §25 grammar, shared by the value parsers.
//!
//! Everything here works on bytes of `&str`s and only ever cuts at ASCII delimiters, so every
//! slice lands on a char boundary even when the text holds UTF-8.

/// `token` characters (RFC 3261 §25.1).
pub(crate) fn is_token_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&c)
}

pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_token_char)
}

/// SP or HTAB, the only whitespace SIP knows inside a (unfolded) line.
pub(crate) fn is_ws(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// `unreserved` (alphanum / mark).
pub(crate) fn is_unreserved(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&c)
}

/// Characters of a parameter name or an unquoted parameter value: the union of `token`,
/// `paramchar` (URI parameters) and the `host` characters of `gen-value` (`[`, `]`, `:` of an
/// IPv6 reference), so one parser serves URI and header parameters.
pub(crate) fn is_param_char(c: u8) -> bool {
    is_token_char(c) || is_unreserved(c) || b"[]/:&+$".contains(&c)
}

/// True when every byte is in `unreserved`, in `extra`, or is a well-formed `%HH` escape.
pub(crate) fn is_escaped_text(s: &str, extra: &[u8]) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'%' {
            let hex = |j: usize| b.get(j).is_some_and(u8::is_ascii_hexdigit);
            if !(hex(i + 1) && hex(i + 2)) {
                return false;
            }
            i += 3;
        } else if is_unreserved(c) || extra.contains(&c) {
            i += 1;
        } else {
            return false;
        }
    }
    true
}

/// Decodes `%HH` escapes; malformed escapes stay as written; invalid UTF-8 is replaced.
pub(crate) fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'%' {
            let h = |j: usize| b.get(j).and_then(|d| (*d as char).to_digit(16));
            if let (Some(hi), Some(lo)) = (h(i + 1), h(i + 2)) {
                // hi, lo < 16, so this fits a byte.
                out.push((hi * 16 + lo) as u8);
                i += 3;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses a `quoted-string` at the start of `s` (which must start with `"`): returns the
/// content with `\x` escapes decoded and the text after the closing quote. `None` when the
/// quote is not terminated.
pub(crate) fn parse_quoted(s: &str) -> Option<(String, &str)> {
    let rest = s.strip_prefix('"')?;
    let mut out = String::new();
    let mut chars = rest.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?.1),
            '"' => return Some((out, &rest[i + 1..])),
            c => out.push(c),
        }
    }
    None
}

/// Writes `s` as a `quoted-string`: `"` and `\` and control characters are escaped as
/// `quoted-pair`s; CR and LF (which no quoted-pair may carry) become spaces, so a value handed
/// in by a program can never inject a header line.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\r' | '\n' => out.push(' '),
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if (c.is_ascii_control() && c != '\t') => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Byte offset of the first `target` outside `"…"` (honouring `\` escapes inside quotes).
/// `Err(())` when a quote is left open.
pub(crate) fn find_unquoted(s: &str, target: u8) -> Result<Option<usize>, ()> {
    let mut in_quote = false;
    let mut escaped = false;
    for (i, c) in s.bytes().enumerate() {
        if in_quote {
            if escaped {
                escaped = false;
            } else if c == b'\\' {
                escaped = true;
            } else if c == b'"' {
                in_quote = false;
            }
        } else if c == target {
            return Ok(Some(i));
        } else if c == b'"' {
            in_quote = true;
        }
    }
    if in_quote { Err(()) } else { Ok(None) }
}

/// Splits at every `sep` outside quotes; `None` when a quote is left open.
pub(crate) fn split_unquoted(s: &str, sep: u8) -> Option<Vec<&str>> {
    let mut parts = Vec::new();
    let mut rest = s;
    loop {
        match find_unquoted(rest, sep).ok()? {
            Some(i) => {
                parts.push(&rest[..i]);
                rest = &rest[i + 1..];
            }
            None => {
                parts.push(rest);
                return Some(parts);
            }
        }
    }
}

/// True when `s` is exactly one well-formed quoted string.
pub(crate) fn is_quoted_string(s: &str) -> bool {
    s.starts_with('"') && parse_quoted(s).is_some_and(|(_, rest)| rest.is_empty())
}

/// `1*DIGIT` as a number; `None` for anything else, including a sign or an overflow.
pub(crate) fn parse_digits<T: std::str::FromStr>(s: &str) -> Option<T> {
    if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens() {
        assert!(is_token("!interesting-Method0123456789_*+`.%indeed'~"));
        assert!(!is_token(""));
        assert!(!is_token("a b"));
        assert!(!is_token("a,b"));
        assert!(!is_token("é"));
    }

    #[test]
    fn escapes() {
        assert!(is_escaped_text("a%40b", b""));
        assert!(!is_escaped_text("a%4", b""));
        assert!(!is_escaped_text("a%zz", b""));
        assert!(!is_escaped_text("a@b", b""));
        assert!(is_escaped_text("a;b?c", b";?"));
        assert_eq!(unescape("%75se%72"), "user");
        assert_eq!(unescape("100%"), "100%");
        assert_eq!(unescape("%00"), "\0");
        assert_eq!(unescape("%ff"), "\u{fffd}");
    }

    #[test]
    fn quoted() {
        assert_eq!(
            parse_quoted(r#""a \"b\" \\" rest"#),
            Some((r#"a "b" \"#.to_owned(), " rest"))
        );
        assert_eq!(parse_quoted(r#""open"#), None);
        assert_eq!(parse_quoted(r#""open\""#), None);
        assert_eq!(parse_quoted("\"é\""), Some(("é".to_owned(), "")));
        assert_eq!(quote("a\"b\\c\u{7}\r\n"), "\"a\\\"b\\\\c\\\u{7}  \"");
        assert!(is_quoted_string(r#""x""#));
        assert!(!is_quoted_string(r#""x"y"#));
    }

    #[test]
    fn unquoted_search() {
        assert_eq!(find_unquoted(r#""a,b",c"#, b','), Ok(Some(5)));
        assert_eq!(find_unquoted(r#""a\",b",c"#, b','), Ok(Some(7)));
        assert_eq!(find_unquoted(r#""a,b"#, b','), Err(()));
        assert_eq!(
            split_unquoted(r#"a;b="x;y";c"#, b';'),
            Some(vec!["a", r#"b="x;y""#, "c"])
        );
    }

    #[test]
    fn digits() {
        assert_eq!(parse_digits::<u32>("0009"), Some(9));
        assert_eq!(parse_digits::<u32>("+9"), None);
        assert_eq!(parse_digits::<u32>("-1"), None);
        assert_eq!(parse_digits::<u32>(""), None);
        assert_eq!(parse_digits::<u32>("4294967296"), None);
        assert_eq!(parse_digits::<u16>("65535"), Some(65535));
        assert_eq!(parse_digits::<u16>("65536"), None);
    }
}
