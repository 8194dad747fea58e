use std::fmt;
use std::hash::{Hash, Hasher};

use super::ParseError;
use super::syntax::{is_token, is_ws, parse_digits};
use super::values::{CSeq, ContactList, NameAddr, Via};

/// A header name. Known names are matched case-insensitively and in compact form (RFC 3261
/// §7.3.3: `v i f t m l c k s e o r b u x y n a j d`) and always written in their long canonical
/// form; any other name is kept as written.
#[derive(Clone, Debug)]
pub enum HeaderName {
    Accept,
    AcceptContact,
    AcceptEncoding,
    AcceptLanguage,
    AlertInfo,
    Allow,
    AllowEvents,
    AuthenticationInfo,
    Authorization,
    CallId,
    CallInfo,
    Contact,
    ContentDisposition,
    ContentEncoding,
    ContentLanguage,
    ContentLength,
    ContentType,
    CSeq,
    Date,
    Diversion,
    ErrorInfo,
    Event,
    Expires,
    From,
    HistoryInfo,
    Identity,
    IdentityInfo,
    InReplyTo,
    MaxForwards,
    MimeVersion,
    MinExpires,
    Organization,
    Path,
    Priority,
    ProxyAuthenticate,
    ProxyAuthorization,
    ProxyRequire,
    RecordRoute,
    ReferTo,
    ReferredBy,
    RejectContact,
    ReplyTo,
    RequestDisposition,
    Require,
    RetryAfter,
    Route,
    Server,
    SessionExpires,
    Subject,
    SubscriptionState,
    Supported,
    Timestamp,
    To,
    Unsupported,
    UserAgent,
    Via,
    Warning,
    WwwAuthenticate,
    /// Any other (extension) header, name as written.
    Other(String),
}

impl HeaderName {
    /// Recognises long and compact forms, case-insensitively. `None` if `s` is not a token.
    pub fn parse(s: &str) -> Option<HeaderName> {
        if !is_token(s) {
            return None;
        }
        Some(match s.to_ascii_lowercase().as_str() {
            "accept" => HeaderName::Accept,
            "accept-contact" | "a" => HeaderName::AcceptContact,
            "accept-encoding" => HeaderName::AcceptEncoding,
            "accept-language" => HeaderName::AcceptLanguage,
            "alert-info" => HeaderName::AlertInfo,
            "allow" => HeaderName::Allow,
            "allow-events" | "u" => HeaderName::AllowEvents,
            "authentication-info" => HeaderName::AuthenticationInfo,
            "authorization" => HeaderName::Authorization,
            "call-id" | "i" => HeaderName::CallId,
            "call-info" => HeaderName::CallInfo,
            "contact" | "m" => HeaderName::Contact,
            "content-disposition" => HeaderName::ContentDisposition,
            "content-encoding" | "e" => HeaderName::ContentEncoding,
            "content-language" => HeaderName::ContentLanguage,
            "content-length" | "l" => HeaderName::ContentLength,
            "content-type" | "c" => HeaderName::ContentType,
            "cseq" => HeaderName::CSeq,
            "date" => HeaderName::Date,
            "diversion" => HeaderName::Diversion,
            "error-info" => HeaderName::ErrorInfo,
            "event" | "o" => HeaderName::Event,
            "expires" => HeaderName::Expires,
            "from" | "f" => HeaderName::From,
            "history-info" => HeaderName::HistoryInfo,
            "identity" | "y" => HeaderName::Identity,
            "identity-info" | "n" => HeaderName::IdentityInfo,
            "in-reply-to" => HeaderName::InReplyTo,
            "max-forwards" => HeaderName::MaxForwards,
            "mime-version" => HeaderName::MimeVersion,
            "min-expires" => HeaderName::MinExpires,
            "organization" => HeaderName::Organization,
            "path" => HeaderName::Path,
            "priority" => HeaderName::Priority,
            "proxy-authenticate" => HeaderName::ProxyAuthenticate,
            "proxy-authorization" => HeaderName::ProxyAuthorization,
            "proxy-require" => HeaderName::ProxyRequire,
            "record-route" => HeaderName::RecordRoute,
            "refer-to" | "r" => HeaderName::ReferTo,
            "referred-by" | "b" => HeaderName::ReferredBy,
            "reject-contact" | "j" => HeaderName::RejectContact,
            "reply-to" => HeaderName::ReplyTo,
            "request-disposition" | "d" => HeaderName::RequestDisposition,
            "require" => HeaderName::Require,
            "retry-after" => HeaderName::RetryAfter,
            "route" => HeaderName::Route,
            "server" => HeaderName::Server,
            "session-expires" | "x" => HeaderName::SessionExpires,
            "subject" | "s" => HeaderName::Subject,
            "subscription-state" => HeaderName::SubscriptionState,
            "supported" | "k" => HeaderName::Supported,
            "timestamp" => HeaderName::Timestamp,
            "to" | "t" => HeaderName::To,
            "unsupported" => HeaderName::Unsupported,
            "user-agent" => HeaderName::UserAgent,
            "via" | "v" => HeaderName::Via,
            "warning" => HeaderName::Warning,
            "www-authenticate" => HeaderName::WwwAuthenticate,
            _ => HeaderName::Other(s.to_owned()),
        })
    }
    /// The canonical long form (`Call-ID`, `CSeq`, `WWW-Authenticate`, …).
    pub fn as_str(&self) -> &str {
        match self {
            HeaderName::Accept => "Accept",
            HeaderName::AcceptContact => "Accept-Contact",
            HeaderName::AcceptEncoding => "Accept-Encoding",
            HeaderName::AcceptLanguage => "Accept-Language",
            HeaderName::AlertInfo => "Alert-Info",
            HeaderName::Allow => "Allow",
            HeaderName::AllowEvents => "Allow-Events",
            HeaderName::AuthenticationInfo => "Authentication-Info",
            HeaderName::Authorization => "Authorization",
            HeaderName::CallId => "Call-ID",
            HeaderName::CallInfo => "Call-Info",
            HeaderName::Contact => "Contact",
            HeaderName::ContentDisposition => "Content-Disposition",
            HeaderName::ContentEncoding => "Content-Encoding",
            HeaderName::ContentLanguage => "Content-Language",
            HeaderName::ContentLength => "Content-Length",
            HeaderName::ContentType => "Content-Type",
            HeaderName::CSeq => "CSeq",
            HeaderName::Date => "Date",
            HeaderName::Diversion => "Diversion",
            HeaderName::ErrorInfo => "Error-Info",
            HeaderName::Event => "Event",
            HeaderName::Expires => "Expires",
            HeaderName::From => "From",
            HeaderName::HistoryInfo => "History-Info",
            HeaderName::Identity => "Identity",
            HeaderName::IdentityInfo => "Identity-Info",
            HeaderName::InReplyTo => "In-Reply-To",
            HeaderName::MaxForwards => "Max-Forwards",
            HeaderName::MimeVersion => "MIME-Version",
            HeaderName::MinExpires => "Min-Expires",
            HeaderName::Organization => "Organization",
            HeaderName::Path => "Path",
            HeaderName::Priority => "Priority",
            HeaderName::ProxyAuthenticate => "Proxy-Authenticate",
            HeaderName::ProxyAuthorization => "Proxy-Authorization",
            HeaderName::ProxyRequire => "Proxy-Require",
            HeaderName::RecordRoute => "Record-Route",
            HeaderName::ReferTo => "Refer-To",
            HeaderName::ReferredBy => "Referred-By",
            HeaderName::RejectContact => "Reject-Contact",
            HeaderName::ReplyTo => "Reply-To",
            HeaderName::RequestDisposition => "Request-Disposition",
            HeaderName::Require => "Require",
            HeaderName::RetryAfter => "Retry-After",
            HeaderName::Route => "Route",
            HeaderName::Server => "Server",
            HeaderName::SessionExpires => "Session-Expires",
            HeaderName::Subject => "Subject",
            HeaderName::SubscriptionState => "Subscription-State",
            HeaderName::Supported => "Supported",
            HeaderName::Timestamp => "Timestamp",
            HeaderName::To => "To",
            HeaderName::Unsupported => "Unsupported",
            HeaderName::UserAgent => "User-Agent",
            HeaderName::Via => "Via",
            HeaderName::Warning => "Warning",
            HeaderName::WwwAuthenticate => "WWW-Authenticate",
            HeaderName::Other(s) => s,
        }
    }
    /// The headers a response copies from its request (RFC 3261 §8.2.6.2): Via, From, To,
    /// Call-ID and CSeq.
    pub fn is_copied_into_responses(&self) -> bool {
        matches!(
            self,
            HeaderName::Via
                | HeaderName::From
                | HeaderName::To
                | HeaderName::CallId
                | HeaderName::CSeq
        )
    }

    /// Headers whose value may be a comma-separated list that is equivalent to several headers
    /// (RFC 3261 §7.3.1). Authorization-type headers are *not* lists.
    pub fn is_list(&self) -> bool {
        use HeaderName::*;
        matches!(
            self,
            Via | Contact
                | Route
                | RecordRoute
                | Allow
                | Supported
                | Require
                | ProxyRequire
                | Unsupported
                | Accept
                | AcceptEncoding
                | AcceptLanguage
                | AllowEvents
                | Path
                | ContentEncoding
                | ContentLanguage
                | InReplyTo
                | Warning
                | ErrorInfo
                | CallInfo
                | AlertInfo
                | HistoryInfo
                | Diversion
                | AcceptContact
                | RejectContact
                | RequestDisposition
        )
    }
}

/// Header names compare case-insensitively (RFC 3261 §7.3.1), extension names included, so
/// `Other("x-foo")` finds a received `X-Foo`.
impl PartialEq for HeaderName {
    fn eq(&self, other: &Self) -> bool {
        self.as_str().eq_ignore_ascii_case(other.as_str())
    }
}

impl Eq for HeaderName {}

impl Hash for HeaderName {
    fn hash<H: Hasher>(&self, state: &mut H) {
        for b in self.as_str().bytes() {
            state.write_u8(b.to_ascii_lowercase());
        }
        state.write_u8(0xff);
    }
}

impl fmt::Display for HeaderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One header field: the value is unfolded (continuation lines joined by one space) and trimmed,
/// otherwise exactly as received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub name: HeaderName,
    pub value: String,
}

/// Splits a list header value at top-level commas (not inside `"…"` with `\` escapes, nor inside
/// `<…>`), trimming each element and skipping empty ones.
pub fn split_list(value: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = value;
    loop {
        let (first, tail) = split_first(rest);
        if !first.is_empty() {
            out.push(first);
        }
        match tail {
            Some(t) => rest = t,
            None => return out,
        }
    }
}

/// The first element of a list value (trimmed) and the text after its comma, if any.
/// Quotes left open swallow the rest of the value, like an unterminated `<`.
fn split_first(value: &str) -> (&str, Option<&str>) {
    let mut in_quote = false;
    let mut escaped = false;
    let mut in_angle = false;
    for (i, c) in value.bytes().enumerate() {
        if in_quote {
            if escaped {
                escaped = false;
            } else if c == b'\\' {
                escaped = true;
            } else if c == b'"' {
                in_quote = false;
            }
            continue;
        }
        match c {
            b'"' if !in_angle => in_quote = true,
            b'<' => in_angle = true,
            b'>' => in_angle = false,
            b',' if !in_angle => {
                return (value[..i].trim_matches(is_ws), Some(&value[i + 1..]));
            }
            _ => {}
        }
    }
    (value.trim_matches(is_ws), None)
}

/// The ordered header list of a message.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Headers(pub Vec<Header>);

impl Headers {
    pub fn new() -> Self {
        Headers(Vec::new())
    }
    pub fn iter(&self) -> impl Iterator<Item = &Header> {
        self.0.iter()
    }
    /// Value of the first header with that name.
    pub fn get(&self, name: &HeaderName) -> Option<&str> {
        self.0
            .iter()
            .find(|h| &h.name == name)
            .map(|h| h.value.as_str())
    }
    /// Every value of that name in order, with list headers split at commas
    /// (`Via: a, b` + `Via: c` gives `a`, `b`, `c`).
    pub fn get_all<'a>(&'a self, name: &'a HeaderName) -> impl Iterator<Item = &'a str> + 'a {
        let list = name.is_list();
        self.0
            .iter()
            .filter(move |h| &h.name == name)
            .flat_map(move |h| {
                if list {
                    split_list(&h.value)
                } else {
                    vec![h.value.as_str()]
                }
            })
    }
    pub fn contains(&self, name: &HeaderName) -> bool {
        self.get(name).is_some()
    }
    /// Appends a header at the end.
    pub fn push(&mut self, name: HeaderName, value: impl Into<String>) {
        self.0.push(Header {
            name,
            value: value.into(),
        });
    }
    /// Inserts a header before every other header of that name (or at the end when there is none),
    /// as a proxy adds Via and Record-Route.
    pub fn push_front(&mut self, name: HeaderName, value: impl Into<String>) {
        let at = self
            .0
            .iter()
            .position(|h| h.name == name)
            .unwrap_or(self.0.len());
        self.0.insert(
            at,
            Header {
                name,
                value: value.into(),
            },
        );
    }
    /// Removes the first *value* of a list header (splitting `Via: a, b` into `Via: b`), or the
    /// first header of a non-list name. Returns the removed value.
    pub fn pop_front(&mut self, name: &HeaderName) -> Option<String> {
        loop {
            let at = self.0.iter().position(|h| &h.name == name)?;
            if !name.is_list() {
                return Some(self.0.remove(at).value);
            }
            let value = self.0.get(at)?.value.clone();
            // Skip empty elements (`Via: , a`) so that the first real value comes out.
            let mut rest = Some(value.as_str());
            let mut first = None;
            while let Some(r) = rest {
                let (f, tail) = split_first(r);
                rest = tail;
                if !f.is_empty() {
                    first = Some(f.to_owned());
                    break;
                }
            }
            match rest
                .map(|r| r.trim_matches(is_ws))
                .filter(|r| !split_list(r).is_empty())
            {
                Some(r) => {
                    if let Some(h) = self.0.get_mut(at) {
                        h.value = r.to_owned();
                    }
                }
                None => {
                    self.0.remove(at);
                }
            }
            if first.is_some() {
                return first;
            }
        }
    }
    /// Removes every header of that name.
    pub fn remove_all(&mut self, name: &HeaderName) {
        self.0.retain(|h| &h.name != name);
    }
    /// Replaces every header of that name by one with this value (appended where the first was).
    pub fn set(&mut self, name: HeaderName, value: impl Into<String>) {
        let at = self.0.iter().position(|h| h.name == name);
        self.remove_all(&name);
        let header = Header {
            name,
            value: value.into(),
        };
        match at {
            Some(i) => self.0.insert(i, header),
            None => self.0.push(header),
        }
    }

    // --- typed views, parsed on demand -------------------------------------------------------

    /// Every Via in order (topmost first).
    pub fn vias(&self) -> Result<Vec<Via>, ParseError> {
        self.get_all(&HeaderName::Via).map(Via::parse).collect()
    }
    pub fn top_via(&self) -> Result<Via, ParseError> {
        let top = self.get_all(&HeaderName::Via).next();
        Via::parse(top.ok_or_else(|| ParseError::bad("missing Via"))?)
    }
    pub fn call_id(&self) -> Result<&str, ParseError> {
        match self.get(&HeaderName::CallId) {
            Some(v) if !v.trim_matches(is_ws).is_empty() => Ok(v.trim_matches(is_ws)),
            _ => Err(ParseError::bad("missing Call-ID")),
        }
    }
    pub fn cseq(&self) -> Result<CSeq, ParseError> {
        CSeq::parse(
            self.get(&HeaderName::CSeq)
                .ok_or_else(|| ParseError::bad("missing CSeq"))?,
        )
    }
    pub fn from(&self) -> Result<NameAddr, ParseError> {
        NameAddr::parse(
            self.get(&HeaderName::From)
                .ok_or_else(|| ParseError::bad("missing From"))?,
        )
    }
    pub fn to(&self) -> Result<NameAddr, ParseError> {
        NameAddr::parse(
            self.get(&HeaderName::To)
                .ok_or_else(|| ParseError::bad("missing To"))?,
        )
    }
    /// `Ok(None)` when absent.
    pub fn max_forwards(&self) -> Result<Option<u32>, ParseError> {
        self.number(&HeaderName::MaxForwards)
    }
    /// `Ok(None)` when absent.
    pub fn expires(&self) -> Result<Option<u32>, ParseError> {
        self.number(&HeaderName::Expires)
    }
    /// All Contact values (`*` as [`ContactList::Star`]); `Ok(ContactList::Addrs(vec![]))` when absent.
    pub fn contacts(&self) -> Result<ContactList, ParseError> {
        let values: Vec<&str> = self.get_all(&HeaderName::Contact).collect();
        if values.contains(&"*") {
            return match values.len() {
                1 => Ok(ContactList::Star),
                _ => Err(ParseError::bad("Contact: * mixed with addresses")),
            };
        }
        values
            .into_iter()
            .map(NameAddr::parse)
            .collect::<Result<_, _>>()
            .map(ContactList::Addrs)
    }
    /// Route (or Record-Route) values, in order.
    pub fn routes(&self, name: &HeaderName) -> Result<Vec<NameAddr>, ParseError> {
        self.get_all(name).map(NameAddr::parse).collect()
    }

    /// A `1*DIGIT` header that must fit a `u32`.
    fn number(&self, name: &HeaderName) -> Result<Option<u32>, ParseError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => parse_digits(v.trim_matches(is_ws))
                .map(Some)
                .ok_or_else(|| ParseError::bad(format!("malformed {name}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::msg::{Method, Uri};

    #[test]
    fn compact_forms() {
        let pairs = [
            ("i", HeaderName::CallId),
            ("m", HeaderName::Contact),
            ("e", HeaderName::ContentEncoding),
            ("l", HeaderName::ContentLength),
            ("c", HeaderName::ContentType),
            ("f", HeaderName::From),
            ("s", HeaderName::Subject),
            ("k", HeaderName::Supported),
            ("t", HeaderName::To),
            ("v", HeaderName::Via),
            ("o", HeaderName::Event),
            ("r", HeaderName::ReferTo),
            ("b", HeaderName::ReferredBy),
            ("u", HeaderName::AllowEvents),
            ("x", HeaderName::SessionExpires),
            ("y", HeaderName::Identity),
            ("n", HeaderName::IdentityInfo),
            ("a", HeaderName::AcceptContact),
            ("j", HeaderName::RejectContact),
            ("d", HeaderName::RequestDisposition),
        ];
        for (compact, long) in pairs {
            let parsed = HeaderName::parse(compact).unwrap();
            assert!(!matches!(parsed, HeaderName::Other(_)), "{compact}");
            assert_eq!(parsed.as_str(), long.as_str());
            assert_eq!(
                HeaderName::parse(&compact.to_uppercase()).unwrap().as_str(),
                long.as_str()
            );
        }
    }

    #[test]
    fn long_names_case_insensitive_and_canonical() {
        assert_eq!(HeaderName::parse("call-id").unwrap().as_str(), "Call-ID");
        assert_eq!(HeaderName::parse("CSEQ").unwrap().as_str(), "CSeq");
        assert_eq!(
            HeaderName::parse("MaX-fOrWaRdS").unwrap().as_str(),
            "Max-Forwards"
        );
        assert_eq!(
            HeaderName::parse("www-authenticate").unwrap().to_string(),
            "WWW-Authenticate"
        );
        assert_eq!(
            HeaderName::parse("mime-version").unwrap().as_str(),
            "MIME-Version"
        );
        assert!(matches!(HeaderName::parse("Via"), Some(HeaderName::Via)));
    }

    #[test]
    fn extension_names() {
        let n = HeaderName::parse("C%6Fntact").unwrap();
        assert_eq!(n, HeaderName::Other("C%6Fntact".into()));
        assert_eq!(n.as_str(), "C%6Fntact");
        assert_eq!(
            HeaderName::Other("x-foo".into()),
            HeaderName::parse("X-Foo").unwrap()
        );
        assert_eq!(HeaderName::parse(""), None);
        assert_eq!(HeaderName::parse("Bad Name"), None);
        assert_eq!(HeaderName::parse("Bad:Name"), None);
        let mut set = std::collections::HashSet::new();
        set.insert(HeaderName::Other("X-Foo".into()));
        assert!(set.contains(&HeaderName::Other("x-FOO".into())));
    }

    #[test]
    fn list_headers() {
        for n in [
            "Via",
            "Contact",
            "Route",
            "Record-Route",
            "Allow",
            "Supported",
            "Require",
            "Proxy-Require",
            "Unsupported",
            "Accept",
            "Accept-Encoding",
            "Accept-Language",
            "Allow-Events",
            "Path",
            "Content-Encoding",
            "Content-Language",
            "In-Reply-To",
            "Warning",
            "Error-Info",
            "Call-Info",
            "Alert-Info",
            "History-Info",
            "Diversion",
        ] {
            assert!(HeaderName::parse(n).unwrap().is_list(), "{n}");
        }
        for n in [
            "Authorization",
            "Proxy-Authorization",
            "WWW-Authenticate",
            "Proxy-Authenticate",
            "Authentication-Info",
            "From",
            "To",
            "Call-ID",
            "CSeq",
            "Date",
            "Reply-To",
            "Max-Forwards",
            "Content-Length",
            "Content-Type",
            "Expires",
            "X-Foo",
        ] {
            assert!(!HeaderName::parse(n).unwrap().is_list(), "{n}");
        }
    }

    #[test]
    fn split_list_respects_quotes_and_brackets() {
        assert_eq!(split_list("a, b ,c"), vec!["a", "b", "c"]);
        assert_eq!(split_list(" , a,,  "), vec!["a"]);
        assert_eq!(
            split_list(r#""Doe, \"J\"" <sip:a@b>;x="1,2", <sip:c,d@e>"#),
            vec![r#""Doe, \"J\"" <sip:a@b>;x="1,2""#, "<sip:c,d@e>"]
        );
        assert!(split_list("").is_empty());
        assert_eq!(split_list(r#""open, x"#), vec![r#""open, x"#]);
    }

    fn headers(list: &[(HeaderName, &str)]) -> Headers {
        let mut h = Headers::new();
        for (n, v) in list {
            h.push(n.clone(), *v);
        }
        h
    }

    #[test]
    fn push_front_pop_front_set() {
        let mut h = headers(&[
            (HeaderName::To, "<sip:b@x>"),
            (
                HeaderName::Via,
                "SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/UDP b",
            ),
            (HeaderName::Via, "SIP/2.0/UDP c"),
        ]);
        h.push_front(HeaderName::Via, "SIP/2.0/UDP p");
        h.push_front(HeaderName::RecordRoute, "<sip:p;lr>");
        let names: Vec<&str> = h.iter().map(|x| x.name.as_str()).collect();
        assert_eq!(names, ["To", "Via", "Via", "Via", "Record-Route"]);
        assert_eq!(
            h.pop_front(&HeaderName::Via).as_deref(),
            Some("SIP/2.0/UDP p")
        );
        assert_eq!(
            h.pop_front(&HeaderName::Via).as_deref(),
            Some("SIP/2.0/UDP a;branch=z9hG4bK1")
        );
        assert_eq!(h.get(&HeaderName::Via), Some("SIP/2.0/UDP b"));
        let all: Vec<&str> = h.get_all(&HeaderName::Via).collect();
        assert_eq!(all, ["SIP/2.0/UDP b", "SIP/2.0/UDP c"]);
        assert_eq!(
            h.pop_front(&HeaderName::Via).as_deref(),
            Some("SIP/2.0/UDP b")
        );
        assert_eq!(
            h.pop_front(&HeaderName::Via).as_deref(),
            Some("SIP/2.0/UDP c")
        );
        assert_eq!(h.pop_front(&HeaderName::Via), None);
        assert_eq!(h.pop_front(&HeaderName::To).as_deref(), Some("<sip:b@x>"));
        h.push(HeaderName::Via, " , ");
        h.push(HeaderName::Via, "SIP/2.0/UDP d");
        assert_eq!(
            h.pop_front(&HeaderName::Via).as_deref(),
            Some("SIP/2.0/UDP d")
        );
        assert!(!h.contains(&HeaderName::Via));

        let mut h = headers(&[
            (HeaderName::Expires, "1"),
            (HeaderName::To, "t"),
            (HeaderName::Expires, "2"),
        ]);
        h.set(HeaderName::Expires, "3");
        assert_eq!(
            h.0,
            headers(&[(HeaderName::Expires, "3"), (HeaderName::To, "t")]).0
        );
        h.set(HeaderName::Subject, "s");
        assert_eq!(h.0.last().unwrap().name, HeaderName::Subject);
        h.remove_all(&HeaderName::Expires);
        assert_eq!(h.expires(), Ok(None));
    }

    #[test]
    fn typed_views() {
        let h = headers(&[
            (
                HeaderName::Via,
                "SIP/2.0/UDP a.example.com;branch=z9hG4bK1, SIP/2.0/TCP [::1]:5060",
            ),
            (HeaderName::From, "\"Alice\" <sip:alice@example.com>;tag=1"),
            (HeaderName::To, "sip:bob@example.com"),
            (HeaderName::CallId, " abc@x "),
            (HeaderName::CSeq, "0009 INVITE"),
            (HeaderName::MaxForwards, "70"),
            (HeaderName::Expires, "3600"),
            (HeaderName::Contact, "<sip:a@b>;expires=60, sip:c@d;q=0.5"),
            (HeaderName::RecordRoute, "<sip:p1;lr>, <sip:p2;lr>"),
        ]);
        let vias = h.vias().unwrap();
        assert_eq!(vias.len(), 2);
        assert_eq!(vias[1].sent_by.port, Some(5060));
        assert_eq!(h.top_via().unwrap().branch(), Some("z9hG4bK1"));
        assert_eq!(h.call_id(), Ok("abc@x"));
        assert_eq!(
            h.cseq().unwrap(),
            CSeq {
                seq: 9,
                method: Method::Invite
            }
        );
        assert_eq!(h.from().unwrap().tag(), Some("1"));
        assert_eq!(h.to().unwrap().tag(), None);
        assert_eq!(h.max_forwards(), Ok(Some(70)));
        assert_eq!(h.expires(), Ok(Some(3600)));
        match h.contacts().unwrap() {
            ContactList::Addrs(a) => {
                assert_eq!(a.len(), 2);
                assert_eq!(a[0].params.value("expires"), Some("60"));
                assert_eq!(a[1].params.value("q"), Some("0.5"));
            }
            ContactList::Star => panic!(),
        }
        let rr = h.routes(&HeaderName::RecordRoute).unwrap();
        assert_eq!(rr.len(), 2);
        assert_eq!(rr[1].uri, Uri::parse("sip:p2;lr").unwrap());
        assert!(h.routes(&HeaderName::Route).unwrap().is_empty());
    }

    #[test]
    fn typed_views_errors() {
        let empty = Headers::new();
        assert_eq!(empty.top_via().unwrap_err().status, 400);
        assert!(empty.vias().unwrap().is_empty());
        assert!(empty.call_id().is_err());
        assert!(empty.cseq().is_err());
        assert!(empty.from().is_err());
        assert!(empty.to().is_err());
        assert_eq!(empty.max_forwards(), Ok(None));
        assert_eq!(empty.contacts(), Ok(ContactList::Addrs(vec![])));
        let h = headers(&[(HeaderName::CallId, "  ")]);
        assert!(h.call_id().is_err());
        for bad in ["-1", "abc", "4294967296", "", "1 2"] {
            let h = headers(&[(HeaderName::MaxForwards, bad), (HeaderName::Expires, bad)]);
            assert!(h.max_forwards().is_err(), "{bad}");
            assert!(h.expires().is_err(), "{bad}");
        }
        let h = headers(&[(HeaderName::MaxForwards, "4294967295")]);
        assert_eq!(h.max_forwards(), Ok(Some(u32::MAX)));
        let h = headers(&[(HeaderName::Via, "SIP/2.0/UDP a, garbage")]);
        assert!(h.vias().is_err());
    }

    #[test]
    fn contact_star() {
        let h = headers(&[(HeaderName::Contact, "*")]);
        assert_eq!(h.contacts(), Ok(ContactList::Star));
        let h = headers(&[(HeaderName::Contact, "*, <sip:a@b>")]);
        assert!(h.contacts().is_err());
        let h = headers(&[
            (HeaderName::Contact, "<sip:a@b>"),
            (HeaderName::Contact, "*"),
        ]);
        assert!(h.contacts().is_err());
        let h = headers(&[(HeaderName::Contact, "<sip:a@b>;;;;")]);
        assert!(h.contacts().is_err());
    }
}
