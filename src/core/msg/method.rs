use std::fmt;

/// A request method. Methods are case-sensitive tokens (RFC 3261 §7.1); anything we do not
/// know is kept as an extension method so that a proxy can still forward it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    Invite,
    Ack,
    Bye,
    Cancel,
    Register,
    Options,
    Info,
    Update,
    Prack,
    Subscribe,
    Notify,
    Refer,
    Message,
    Publish,
    /// Any other token (RFC 3261 `extension-method`).
    Extension(String),
}

impl Method {
    /// Parses a method token; `None` if it is not a valid RFC 3261 token.
    pub fn parse(token: &str) -> Option<Method> {
        todo!("{token}")
    }

    pub fn as_str(&self) -> &str {
        todo!()
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
