//! Why the proxy refuses a request, and the one place that maps it to a SIP status.

use thiserror::Error;

#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum Refusal {
    #[error("malformed request: {0}")]
    Malformed(String),
    #[error("too many hops")]
    TooManyHops,
    #[error("loop detected")]
    Loop,
    #[error("unsupported URI scheme")]
    UnsupportedScheme,
    #[error("extension required by the proxy: {0}")]
    BadExtension(String),
    #[error("relaying to a foreign domain is refused")]
    RelayDenied,
    #[error("credentials do not match the identity")]
    IdentityMismatch,
    #[error("no such user")]
    NotFound,
    #[error("nobody registered")]
    Unavailable,
    #[error("no route to the target host")]
    NoRoute,
    #[error("method not allowed here")]
    MethodNotAllowed,
    #[error("no matching transaction")]
    NoTransaction,
    #[error("the callee does not take calls from this caller")]
    CallerRefused,
}

impl Refusal {
    /// The one mapping from a refusal to the status the client sees.
    pub fn status(&self) -> u16 {
        match self {
            Refusal::Malformed(_) => 400,
            Refusal::TooManyHops => 483,
            Refusal::Loop => 482,
            Refusal::UnsupportedScheme => 416,
            Refusal::BadExtension(_) => 420,
            Refusal::RelayDenied | Refusal::IdentityMismatch | Refusal::CallerRefused => 403,
            Refusal::NotFound | Refusal::NoRoute => 404,
            Refusal::Unavailable => 480,
            Refusal::MethodNotAllowed => 405,
            Refusal::NoTransaction => 481,
        }
    }
}

impl From<crate::core::msg::ParseError> for Refusal {
    fn from(e: crate::core::msg::ParseError) -> Self {
        Refusal::Malformed(e.detail)
    }
}
