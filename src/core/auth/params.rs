//! A small parser for credentials (`Digest username="…", …`).
//!
//! Stop-gap: `crate::core::msg::AuthParams::parse` is the real one (branch `msg`); this private
//! copy exists only until that branch lands, and produces the same type so that the switch is
//! one line in `mod.rs`.

use crate::core::msg::AuthParams;

fn is_ws(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-.!%*_+`'~".contains(c)
}

pub(crate) fn parse(s: &str) -> Option<AuthParams> {
    let s = s.trim_matches(is_ws);
    let scheme_end = s.find(is_ws).unwrap_or(s.len());
    let scheme = s.get(..scheme_end)?;
    if scheme.is_empty() || !scheme.chars().all(is_token_char) {
        return None;
    }
    let mut rest = s.get(scheme_end..)?;
    let mut params = Vec::new();
    loop {
        rest = rest.trim_start_matches(|c| is_ws(c) || c == ',');
        if rest.is_empty() {
            break;
        }
        let name_end = rest.find(|c| !is_token_char(c)).unwrap_or(rest.len());
        let name = rest.get(..name_end)?;
        if name.is_empty() {
            return None;
        }
        rest = rest.get(name_end..)?.trim_start_matches(is_ws);
        rest = rest.strip_prefix('=')?.trim_start_matches(is_ws);
        let value;
        if let Some(quoted) = rest.strip_prefix('"') {
            let mut v = String::new();
            let mut chars = quoted.char_indices();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => v.push(chars.next()?.1),
                    '"' => {
                        end = Some(i + 1);
                        break;
                    }
                    _ => v.push(c),
                }
            }
            value = v;
            rest = quoted.get(end?..)?;
        } else {
            let end = rest
                .find(|c| is_ws(c) || c == ',' || c == '"')
                .unwrap_or(rest.len());
            value = rest.get(..end)?.to_string();
            if value.is_empty() {
                return None;
            }
            rest = rest.get(end..)?;
        }
        params.push((name.to_ascii_lowercase(), value));
        rest = rest.trim_start_matches(is_ws);
        if !rest.is_empty() && !rest.starts_with(',') {
            return None;
        }
    }
    Some(AuthParams {
        scheme: scheme.to_string(),
        params,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_quoted_and_token_values() {
        let p = parse(
            "Digest username=\"bob\",realm=\"a\\\"b\" , nonce=\"x,y\", nc=00000001 ,qop=auth,",
        )
        .unwrap();
        assert_eq!(p.scheme, "Digest");
        assert_eq!(p.get("username"), Some("bob"));
        assert_eq!(p.get("realm"), Some("a\"b"));
        assert_eq!(p.get("nonce"), Some("x,y"));
        assert_eq!(p.get("nc"), Some("00000001"));
        assert_eq!(p.get("QOP"), Some("auth"));
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            "",
            "Digest realm=\"open",
            "Digest =x",
            "Digest a=b c=d",
            "Dig\"est a=b",
            "Digest a=",
        ] {
            assert!(parse(bad).is_none(), "{bad:?}");
        }
    }
}
