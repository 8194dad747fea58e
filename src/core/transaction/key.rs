//! Transaction matching: which transaction a message belongs to (RFC 3261 §17.1.3, §17.2.3).

use crate::core::msg::{HostPort, Method, Params, ParseError, Request, Response, Uri};

/// RFC 3261 §8.1.1.7: a branch starting with this was built by an RFC 3261 element and is
/// unique across space and time, so branch and sent-by alone identify a server transaction.
pub const MAGIC_COOKIE: &str = "z9hG4bK";

/// Client transaction key (§17.1.3): the branch of the top Via, which we generated, and the
/// CSeq method, because a CANCEL shares its INVITE's branch.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct ClientKey {
    branch: String,
    method: Method,
}

impl ClientKey {
    /// The key of a request we send; `None` when it carries no branch (then no response can ever
    /// match and the transaction simply times out).
    pub(crate) fn of_request(req: &Request) -> Option<ClientKey> {
        let via = req.headers.top_via().ok()?;
        Some(ClientKey {
            branch: via.branch()?.to_owned(),
            method: req.method.clone(),
        })
    }

    /// The key a response names; `None` for a response without a usable Via branch or CSeq.
    pub(crate) fn of_response(resp: &Response) -> Option<ClientKey> {
        let via = resp.headers.top_via().ok()?;
        let cseq = resp.headers.cseq().ok()?;
        Some(ClientKey {
            branch: via.branch()?.to_owned(),
            method: cseq.method,
        })
    }
}

/// Server transaction key (§17.2.3). `method` is the method of the request that creates the
/// transaction: an ACK looks up its INVITE with [`ServerKey::with_method`], and so does a
/// CANCEL (RFC 3261 §9.2).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum ServerKey {
    /// The top Via branch carries the magic cookie: branch, sent-by and method.
    Rfc3261 {
        branch: String,
        sent_by: HostPort,
        method: Method,
    },
    /// An RFC 2543 client: the branch is not trustworthy, so compare the fields a request and
    /// its retransmissions share (boxed: this variant is much larger).
    Rfc2543(Box<LegacyKey>),
}

/// The RFC 2543 fallback of §17.2.3: Request-URI, To tag, From tag, Call-ID, CSeq and the whole
/// top Via.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct LegacyKey {
    uri: Uri,
    to_tag: Option<String>,
    from_tag: Option<String>,
    call_id: String,
    seq: u32,
    method: Method,
    via_transport: String,
    via_sent_by: HostPort,
    via_params: Params,
}

impl ServerKey {
    /// The key of a received request. Fails only when the headers that every request must
    /// carry (Via, and for RFC 2543 clients From, To, Call-ID, CSeq) do not parse.
    pub(crate) fn of_request(req: &Request) -> Result<ServerKey, ParseError> {
        let via = req.headers.top_via()?;
        if let Some(branch) = via.branch().filter(|b| b.starts_with(MAGIC_COOKIE)) {
            return Ok(ServerKey::Rfc3261 {
                branch: branch.to_owned(),
                sent_by: via.sent_by.clone(),
                method: req.method.clone(),
            });
        }
        let to = req.headers.to()?;
        let from = req.headers.from()?;
        Ok(ServerKey::Rfc2543(Box::new(LegacyKey {
            uri: req.uri.clone(),
            to_tag: to.tag().map(str::to_owned),
            from_tag: from.tag().map(str::to_owned),
            call_id: req.headers.call_id()?.to_owned(),
            seq: req.headers.cseq()?.seq,
            method: req.method.clone(),
            via_transport: via.transport,
            via_sent_by: via.sent_by,
            via_params: via.params,
        })))
    }

    /// The same key for the transaction another method would have created: an ACK or CANCEL
    /// looks up its INVITE this way.
    pub(crate) fn with_method(&self, method: Method) -> ServerKey {
        match self {
            ServerKey::Rfc3261 {
                branch, sent_by, ..
            } => ServerKey::Rfc3261 {
                branch: branch.clone(),
                sent_by: sent_by.clone(),
                method,
            },
            ServerKey::Rfc2543(k) => ServerKey::Rfc2543(Box::new(LegacyKey {
                method,
                ..(**k).clone()
            })),
        }
    }

    /// For an RFC 2543 ACK: the INVITE key with a different To tag. The ACK carries the To tag
    /// of our response while the INVITE had none (or, in a dialog, the same one), so the caller
    /// tries both. `None` for RFC 3261 keys, which ignore To.
    pub(crate) fn without_to_tag(&self) -> Option<ServerKey> {
        match self {
            ServerKey::Rfc3261 { .. } => None,
            ServerKey::Rfc2543(k) => Some(ServerKey::Rfc2543(Box::new(LegacyKey {
                to_tag: None,
                ..(**k).clone()
            }))),
        }
    }
}
