//! The SIP message layer (RFC 3261 §7, §20, §25; RFC 4475; RFC 5118).
//!
//! Our own, because `rsip` 0.4 (its last release, 2022) rejects IPv6 references, ignores compact
//! header names and folded lines, drops parameters after `SP ;`, ignores Content-Length and
//! corrupts binary bodies.
//!
//! Shape: a message is a start line, an ordered list of [`Header`]s (name normalised to its long
//! form, value unfolded) and a byte-exact body. Typed views ([`Via`], [`NameAddr`], [`CSeq`], …)
//! are parsed on demand from the header list, so a proxy edits the list and keeps header order.

mod framing;
mod header;
mod message;
mod method;
mod parse;
mod status;
mod syntax;
mod uri;
mod values;

pub use framing::{Framed, StreamFramer};
pub use header::{Header, HeaderName, Headers, split_list};
pub use message::{Message, Request, Response};
pub use method::Method;
pub use parse::{MAX_MESSAGE_SIZE, ParseError, parse_message};
pub use status::reason_phrase;
pub use uri::{Host, HostPort, Params, SipUri, Uri};
pub use values::{AuthParams, CSeq, ContactList, NameAddr, Via};
