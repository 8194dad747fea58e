use std::fmt;

use super::values::{CSeq, ContactList, NameAddr, Via};
use super::ParseError;

/// A header name. Known names are matched case-insensitively and in compact form (RFC 3261
/// §7.3.3: `v i f t m l c k s e o r b u x y n a j d`) and always written in their long canonical
/// form; any other name is kept as written.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
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
        todo!("{s}")
    }
    /// The canonical long form (`Call-ID`, `CSeq`, `WWW-Authenticate`, …).
    pub fn as_str(&self) -> &str {
        todo!()
    }
    /// Headers whose value may be a comma-separated list that is equivalent to several headers
    /// (RFC 3261 §7.3.1). Authorization-type headers are *not* lists.
    pub fn is_list(&self) -> bool {
        todo!()
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
    todo!("{value}")
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
        self.0.iter().find(|h| &h.name == name).map(|h| h.value.as_str())
    }
    /// Every value of that name in order, with list headers split at commas
    /// (`Via: a, b` + `Via: c` gives `a`, `b`, `c`).
    pub fn get_all<'a>(&'a self, name: &'a HeaderName) -> impl Iterator<Item = &'a str> + 'a {
        let list = name.is_list();
        self.0.iter().filter(move |h| &h.name == name).flat_map(move |h| {
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
        self.0.push(Header { name, value: value.into() });
    }
    /// Inserts a header before every other header of that name (or at the end when there is none),
    /// as a proxy adds Via and Record-Route.
    pub fn push_front(&mut self, name: HeaderName, value: impl Into<String>) {
        todo!("{name}{}", value.into())
    }
    /// Removes the first *value* of a list header (splitting `Via: a, b` into `Via: b`), or the
    /// first header of a non-list name. Returns the removed value.
    pub fn pop_front(&mut self, name: &HeaderName) -> Option<String> {
        todo!("{name}")
    }
    /// Removes every header of that name.
    pub fn remove_all(&mut self, name: &HeaderName) {
        self.0.retain(|h| &h.name != name);
    }
    /// Replaces every header of that name by one with this value (appended where the first was).
    pub fn set(&mut self, name: HeaderName, value: impl Into<String>) {
        todo!("{name}{}", value.into())
    }

    // --- typed views, parsed on demand -------------------------------------------------------

    /// Every Via in order (topmost first).
    pub fn vias(&self) -> Result<Vec<Via>, ParseError> {
        todo!()
    }
    pub fn top_via(&self) -> Result<Via, ParseError> {
        todo!()
    }
    pub fn call_id(&self) -> Result<&str, ParseError> {
        todo!()
    }
    pub fn cseq(&self) -> Result<CSeq, ParseError> {
        todo!()
    }
    pub fn from(&self) -> Result<NameAddr, ParseError> {
        todo!()
    }
    pub fn to(&self) -> Result<NameAddr, ParseError> {
        todo!()
    }
    /// `Ok(None)` when absent.
    pub fn max_forwards(&self) -> Result<Option<u32>, ParseError> {
        todo!()
    }
    /// `Ok(None)` when absent.
    pub fn expires(&self) -> Result<Option<u32>, ParseError> {
        todo!()
    }
    /// All Contact values (`*` as [`ContactList::Star`]); `Ok(ContactList::Addrs(vec![]))` when absent.
    pub fn contacts(&self) -> Result<ContactList, ParseError> {
        todo!()
    }
    /// Route (or Record-Route) values, in order.
    pub fn routes(&self, name: &HeaderName) -> Result<Vec<NameAddr>, ParseError> {
        todo!("{name}")
    }
}
