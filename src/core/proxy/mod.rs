//! The stateful proxy and registrar front end (RFC 3261 §16, §10): the transaction user that
//! turns incoming requests into local answers, registrations or forked client transactions.
//!
//! Sans-IO like the rest of the core: the shell calls [`Proxy::handle_datagram`] /
//! [`Proxy::handle_message`], [`Proxy::handle_timeout`] and [`Proxy::handle_transport_error`]
//! with `now`, then drains [`Proxy::poll_transmit`], [`Proxy::poll_event`] and arms a timer for
//! [`Proxy::poll_timeout`].

mod access;
mod error;
mod fork;
mod guard;
mod ids;
mod local;
mod lookup;
mod timer_c;

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tracing::{debug, info, warn};

pub use error::Refusal;
pub use fork::{Fork, ForkAction};
pub use local::{Extension, Listener, Locality, sent_by};

use crate::core::auth::{Authenticator, Reject, Verdict};
use crate::core::flow::{Flow, Transport};
use crate::core::locate::{LocateError, Target};
use crate::core::msg::{
    HeaderName, Host, Message, Method, ParseError, Request, Response, SipUri, Uri, Via,
    parse_message,
};
use crate::core::registrar::{RegisterOutcome, Registrar, contact_for_response};
use crate::core::time::Time;
use crate::core::transaction::{
    ClientTxId, Incoming, ServerTxId, Transactions, Transmit, TxEvent, build_cancel,
};
use ids::{Ids, loop_hash_of_branch, short_hash, stateless_branch};

/// Methods we answer in Allow (RFC 3261 §20.5).
const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, INFO, UPDATE, PRACK, SUBSCRIBE, NOTIFY, REFER, MESSAGE";

/// Timer C (§16.6 step 11): how long an INVITE branch may ring. RFC 3261 says "greater than
/// 3 minutes"; every provisional response restarts it.
pub const TIMER_C: Duration = Duration::from_secs(181);

/// What the proxy tells the shell besides datagrams.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// Registrations changed (new, refreshed with new data, removed, expired): persist them
    /// before sending what is queued, so that a crash after the 200 OK loses nothing.
    BindingsChanged,
    /// Find the servers for this URI (RFC 3263) and hand the answer to
    /// [`Proxy::handle_located`] with the same id. The request waits meanwhile.
    Locate { id: LookupId, uri: SipUri },
}

/// Names one RFC 3263 lookup the proxy is waiting for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LookupId(u64);

/// A request waiting for the servers of its target to be found.
#[derive(Debug)]
struct PendingLookup {
    server: ServerTxId,
    request: Request,
    in_flow: Flow,
}

/// RFC 3263 §4.3 failover for a request sent to a located target: the rest of the targets,
/// and the request as sent, to re-send with a new branch.
#[derive(Debug)]
struct Failover {
    next: VecDeque<Flow>,
    sent: Request,
}

/// A forked request waiting for its answers.
#[derive(Debug)]
struct Context {
    fork: Fork<ClientTxId>,
    /// The request as received (after rport processing), cut down to what a synthetic answer
    /// copies (Via, From, To, Call-ID, CSeq): contexts are many under load.
    request: Request,
    live_branches: usize,
    failover: Option<Failover>,
}

#[derive(Debug)]
pub struct Proxy {
    locality: Locality,
    user_agent: String,
    txs: Transactions,
    registrar: Registrar,
    auth: Authenticator,
    guard: guard::AuthGuard,
    secrets: HashMap<String, String>,
    ids: Ids,
    seed: [u8; 32],
    contexts: HashMap<ServerTxId, Context>,
    branch_owner: HashMap<ClientTxId, ServerTxId>,
    /// Timer C of each INVITE branch: the deadline set (for ordering) and the live deadline
    /// per branch (an entry of the set whose deadline differs is stale and skipped).
    timer_c: BTreeSet<(Time, ClientTxId)>,
    timer_c_at: HashMap<ClientTxId, TimerC>,
    lookups: HashMap<LookupId, PendingLookup>,
    next_lookup: u64,
    out: VecDeque<Transmit>,
    events: VecDeque<Event>,
}

/// What Timer C does for a branch when it fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct TimerC {
    at: Time,
    /// First expiry: CANCEL the branch. Second (64*T1 after the CANCEL): give up on it.
    cancelled: bool,
}

/// How a request that passed the checks is to be routed.
enum Route {
    /// Forward to these targets (Request-URI, flow), forking when there are several.
    Forward(Vec<(Uri, Flow)>),
    /// Forward to the servers of this URI, once DNS (or mDNS) has found them.
    Locate(SipUri),
    /// Answered here.
    Answered,
}

impl Proxy {
    pub fn new(
        locality: Locality,
        user_agent: String,
        txs: Transactions,
        registrar: Registrar,
        auth: Authenticator,
        seed: [u8; 32],
    ) -> Proxy {
        Proxy {
            locality,
            user_agent,
            txs,
            registrar,
            auth,
            guard: guard::AuthGuard::new(),
            secrets: HashMap::new(),
            ids: Ids::new(seed),
            seed,
            contexts: HashMap::new(),
            branch_owner: HashMap::new(),
            timer_c: BTreeSet::new(),
            timer_c_at: HashMap::new(),
            lookups: HashMap::new(),
            next_lookup: 0,
            out: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    pub fn locality(&self) -> &Locality {
        &self.locality
    }

    /// New domains, listeners or extensions (config reload). Registrations of extensions that
    /// no longer exist are dropped; everything else, calls included, carries on.
    pub fn set_locality(&mut self, locality: Locality) {
        let gone: Vec<String> = self
            .registrar
            .aors()
            .filter(|aor| locality.extension(aor).is_none())
            .map(str::to_owned)
            .collect();
        for aor in &gone {
            self.registrar.remove_aor(aor);
        }
        if !gone.is_empty() {
            self.events.push_back(Event::BindingsChanged);
        }
        self.locality = locality;
    }

    /// The digest algorithms to offer, in order (config reload).
    pub fn set_auth_algorithms(&mut self, algorithms: Vec<crate::core::auth::Algorithm>) {
        self.auth.set_algorithms(algorithms);
    }

    /// The passwords of the extensions, by extension name (loaded by the shell from the keyring).
    pub fn set_secrets(&mut self, secrets: HashMap<String, String>) {
        self.secrets = secrets;
    }

    pub fn registrar(&self) -> &Registrar {
        &self.registrar
    }

    pub fn registrar_mut(&mut self) -> &mut Registrar {
        &mut self.registrar
    }

    // --- inputs --------------------------------------------------------------------------------

    /// A UDP datagram (or one framed stream message) arrived on `flow`.
    pub fn handle_datagram(&mut self, flow: Flow, bytes: &[u8], now: Time) {
        if bytes.iter().all(|b| matches!(b, b'\r' | b'\n')) {
            // CRLF keep-alives (RFC 5626 §3.5.1 over UDP is STUN, but phones send CRLF too).
            return;
        }
        match parse_message(bytes) {
            Ok(msg) => self.handle_message(flow, msg, now),
            Err(e) => self.reject_unparsable(flow, e),
        }
    }

    pub fn handle_message(&mut self, flow: Flow, msg: Message, now: Time) {
        match msg {
            Message::Request(req) => self.handle_request(flow, req, now),
            Message::Response(resp) => self.handle_response(resp, now),
        }
        self.pump(now);
    }

    pub fn handle_timeout(&mut self, now: Time) {
        self.txs.on_timeout(now);
        self.fire_timer_c(now);
        let generation = self.registrar.generation();
        self.registrar.expire(now);
        if self.registrar.generation() != generation {
            self.events.push_back(Event::BindingsChanged);
        }
        self.pump(now);
    }

    /// A flow failed (TCP connection closed or refused).
    pub fn handle_transport_error(&mut self, flow: Flow, now: Time) {
        self.txs.on_transport_error(flow, now);
        if flow.transport == Transport::Tcp && !self.registrar.flow_closed(flow).is_empty() {
            self.events.push_back(Event::BindingsChanged);
        }
        self.pump(now);
    }

    // --- outputs -------------------------------------------------------------------------------

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.pop_front().or_else(|| self.txs.poll_transmit())
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Time> {
        [
            self.txs.poll_timeout(),
            self.registrar.poll_timeout(),
            self.timer_c.first().map(|(t, _)| *t),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    // --- requests ------------------------------------------------------------------------------

    fn reject_unparsable(&mut self, flow: Flow, e: ParseError) {
        // The sender matches an answer by the Via branch and the CSeq method (§17.1.3); without
        // those it could not use one, so such a message is only dropped and logged. Whatever
        // else of Via/From/To/Call-ID/CSeq is there is copied back (§8.2.6.2).
        let answerable = e
            .headers
            .as_ref()
            .is_some_and(|h| h.contains(&HeaderName::Via) && h.contains(&HeaderName::CSeq));
        let Some(headers) = e.headers.as_ref().filter(|_| answerable) else {
            warn!(remote = %flow.remote, status = e.status, detail = %e.detail, "dropped unparsable message");
            return;
        };
        // A stateless answer: without a parsable Via there is no transaction to match.
        warn!(remote = %flow.remote, status = e.status, detail = %e.detail, "rejected malformed request");
        let mut resp = Response {
            status: e.status,
            reason: crate::core::msg::reason_phrase(e.status).to_owned(),
            headers: crate::core::msg::Headers::new(),
            body: Vec::new(),
        };
        for h in headers.iter() {
            if h.name.is_copied_into_responses() {
                resp.headers.0.push(h.clone());
            }
        }
        resp.headers
            .push(HeaderName::Server, self.user_agent.clone());
        self.out.push_back(Transmit {
            flow,
            bytes: resp.to_bytes(),
        });
    }

    fn handle_request(&mut self, flow: Flow, mut req: Request, now: Time) {
        if let Err(e) = mark_received(&mut req, flow.remote) {
            self.reject_unparsable(
                flow,
                ParseError {
                    headers: Some(req.headers),
                    ..e
                },
            );
            return;
        }
        match self.txs.on_request(&req, flow, now) {
            Incoming::Absorbed => {}
            Incoming::Ack => self.forward_ack(req, now),
            Incoming::Cancel { cancel, invite } => self.handle_cancel(cancel, invite, &req, now),
            Incoming::New(id) => {
                let method = req.method.clone();
                match self.route_request(id, &mut req, flow, now) {
                    Ok(Route::Answered) => {}
                    Ok(Route::Forward(targets)) => self.forward(id, req, flow, targets, now),
                    Ok(Route::Locate(uri)) => {
                        let lookup = LookupId(self.next_lookup);
                        self.next_lookup += 1;
                        debug!(?lookup, %uri, "locating");
                        self.lookups.insert(
                            lookup,
                            PendingLookup {
                                server: id,
                                request: req,
                                in_flow: flow,
                            },
                        );
                        self.events.push_back(Event::Locate { id: lookup, uri });
                    }
                    Err(refusal) => {
                        info!(%method, remote = %flow.remote, status = refusal.status(), %refusal, "refused");
                        self.reply(id, &req, refusal.status(), now, |_| {});
                    }
                }
            }
        }
    }

    /// §16.3 checks, §16.4 route preprocessing, then target determination (§16.5).
    fn route_request(
        &mut self,
        id: ServerTxId,
        req: &mut Request,
        flow: Flow,
        now: Time,
    ) -> Result<Route, Refusal> {
        let max_forwards = req.headers.max_forwards()?;
        req.headers.cseq()?;
        if let Some(required) = req.headers.get(&HeaderName::ProxyRequire) {
            return Err(Refusal::BadExtension(required.to_owned()));
        }
        let routed_through_us = self.preprocess_routes(req)?;
        if let Some(hash) = self.loop_hash_if_looped(req)? {
            debug!(hash, "loop");
            return Err(Refusal::Loop);
        }
        let to_tag = req.headers.to()?.tag().is_some();
        let sip_uri = match &req.uri {
            Uri::Sip(u) => u.clone(),
            Uri::Tel(number) => {
                // tel:100 dialled from a local phone means extension 100.
                let number = number.split(';').next().unwrap_or_default();
                let ext = self.locality.extension(number).ok_or(Refusal::NotFound)?;
                let domain = self.locality.domains.first().cloned().unwrap_or_default();
                let host = Host::parse(&domain).ok_or(Refusal::NotFound)?;
                SipUri {
                    secure: false,
                    user: Some(ext.name.clone()),
                    password: None,
                    host,
                    port: None,
                    params: Default::default(),
                    headers: Vec::new(),
                }
            }
            Uri::Other { .. } => return Err(Refusal::UnsupportedScheme),
        };

        // Max-Forwards 0 may still reach us (OPTIONS to the server, §11.1) but goes nowhere.
        let for_us = self.locality.is_us(&sip_uri)
            || sip_uri.user.is_none() && self.locality.is_local_uri(&sip_uri);
        if max_forwards == Some(0) && !(for_us && req.method == Method::Options) {
            return Err(Refusal::TooManyHops);
        }

        // Loose routing: a Route set remains after removing ours. Only dialogs we are in, and
        // our own authenticated phones, may send us requests for elsewhere: no open relay.
        if let Some(next) = req.headers.routes(&HeaderName::Route)?.into_iter().next() {
            if !self.may_relay(id, req, flow, to_tag, routed_through_us, now)? {
                return Ok(Route::Answered);
            }
            let target_uri = next.uri.as_sip().ok_or(Refusal::UnsupportedScheme)?;
            return self.route_to(target_uri, req, now);
        }

        if req.method == Method::Register {
            self.register(id, req, flow, &sip_uri, now);
            return Ok(Route::Answered);
        }

        // A request addressed to a registered phone's own contact (in-dialog requests of a
        // dialog whose route set is empty, or a GRUU-like URI): through its flow.
        if let Some(flow) = self.binding_flow_for_contact(&sip_uri, now) {
            if !to_tag && !self.authenticate_caller(id, req, flow, now)? {
                return Ok(Route::Answered);
            }
            return Ok(Route::Forward(vec![(req.uri.clone(), flow)]));
        }

        if self.locality.is_local_uri(&sip_uri) || for_us {
            let Some(user) = sip_uri.user_unescaped().filter(|u| !u.is_empty()) else {
                return self.answer_for_server(id, req, now);
            };
            if !to_tag && !self.authenticate_caller(id, req, flow, now)? {
                return Ok(Route::Answered);
            }
            let ext = self
                .locality
                .extension(&user)
                .ok_or(Refusal::NotFound)?
                .clone();
            // The callee's own policy for callers from outside (our phones always get through).
            if !to_tag && !self.is_local_caller(req)? {
                let from = req.headers.from()?;
                let caller = from.uri.as_sip();
                let (user, host) = (
                    caller.and_then(SipUri::user_unescaped),
                    caller.map(|u| u.host.to_string()),
                );
                if !ext
                    .inbound
                    .admits(user.as_deref(), host.as_deref().unwrap_or_default())
                {
                    return Err(Refusal::CallerRefused);
                }
            }
            let targets: Vec<(Uri, Flow)> = self
                .registrar
                .lookup(&ext.name, now)
                .into_iter()
                .map(|b| (b.contact.uri.clone(), b.flow))
                .collect();
            if targets.is_empty() {
                return Err(Refusal::Unavailable);
            }
            return Ok(Route::Forward(targets));
        }

        if !self.may_relay(id, req, flow, to_tag, routed_through_us, now)? {
            return Ok(Route::Answered);
        }
        self.route_to(&sip_uri, req, now)
    }

    /// §16.4: undo a strict router's rewrite, and remove the Route entries that name us.
    /// Returns whether the request named us in its route (it follows a route set we
    /// Record-Routed, or a phone's outbound-proxy Route).
    fn preprocess_routes(&self, req: &mut Request) -> Result<bool, Refusal> {
        let mut ours = false;
        if let Uri::Sip(ruri) = &req.uri
            && self.locality.is_us(ruri)
            && ruri.params.contains("lr")
        {
            let routes = req.headers.routes(&HeaderName::Route)?;
            if let Some(last) = routes.last() {
                // The previous hop was a strict router: the real Request-URI is the last Route.
                ours = true;
                req.uri = last.uri.clone();
                let keep: Vec<String> = routes[..routes.len() - 1]
                    .iter()
                    .map(ToString::to_string)
                    .collect();
                req.headers.remove_all(&HeaderName::Route);
                for r in keep {
                    req.headers.push(HeaderName::Route, r);
                }
            }
        }
        loop {
            let routes = req.headers.routes(&HeaderName::Route)?;
            match routes.first() {
                Some(top) if top.uri.as_sip().is_some_and(|u| self.locality.is_us(u)) => {
                    req.headers.pop_front(&HeaderName::Route);
                    ours = true;
                }
                _ => return Ok(ours),
            }
        }
    }

    /// The hash that identifies this request for loop detection (§16.6 step 8, §16.3 step 4):
    /// the fields a spiral changes (Request-URI, Route) are included, so only a true loop
    /// repeats it. The top Via is left out on purpose: a looping request arrives with another
    /// hop's Via on top, so including it (as the RFC's text suggests) would hide every loop
    /// longer than one hop.
    fn loop_hash(req: &Request) -> Result<String, Refusal> {
        let routes: Vec<&str> = req.headers.get_all(&HeaderName::Route).collect();
        let to_tag = req.headers.to()?.tag().unwrap_or_default().to_owned();
        let from_tag = req.headers.from()?.tag().unwrap_or_default().to_owned();
        let cseq = req.headers.cseq()?.seq.to_string();
        let uri = req.uri.to_string();
        let mut parts = vec![
            uri.as_str(),
            to_tag.as_str(),
            from_tag.as_str(),
            req.headers.call_id()?,
            cseq.as_str(),
        ];
        parts.extend(routes);
        Ok(short_hash(&parts))
    }

    /// A Via of ours whose loop hash equals this request's: it has been here in this very form.
    fn loop_hash_if_looped(&self, req: &Request) -> Result<Option<String>, Refusal> {
        let vias = req.headers.vias()?;
        let ours: Vec<&str> = vias
            .iter()
            .filter(|v| self.is_our_via(v))
            .filter_map(|v| v.branch().and_then(loop_hash_of_branch))
            .collect();
        if ours.is_empty() {
            return Ok(None);
        }
        let hash = Self::loop_hash(req)?;
        Ok(ours.contains(&hash.as_str()).then_some(hash))
    }

    fn is_our_via(&self, via: &Via) -> bool {
        let port = via.sent_by.port.unwrap_or(5060);
        via.sent_by.host.ip().is_some_and(|ip| {
            self.locality
                .listeners
                .iter()
                .any(|l| l.addr.ip() == ip && l.addr.port() == port)
        })
    }

    /// A request for the server itself (no user part).
    fn answer_for_server(
        &mut self,
        id: ServerTxId,
        req: &Request,
        now: Time,
    ) -> Result<Route, Refusal> {
        if self.unsupported_requirement(id, req, now) {
            return Ok(Route::Answered);
        }
        match req.method {
            Method::Options => {
                self.reply(id, req, 200, now, |resp| {
                    resp.headers.push(HeaderName::Allow, ALLOW);
                    resp.headers.push(HeaderName::Accept, "application/sdp");
                });
                Ok(Route::Answered)
            }
            Method::Invite | Method::Message | Method::Subscribe => Err(Refusal::NotFound),
            Method::Extension(_) => {
                self.reply(id, req, 501, now, |resp| {
                    resp.headers.push(HeaderName::Allow, ALLOW)
                });
                Ok(Route::Answered)
            }
            _ => {
                self.reply(id, req, Refusal::MethodNotAllowed.status(), now, |resp| {
                    resp.headers.push(HeaderName::Allow, ALLOW)
                });
                Ok(Route::Answered)
            }
        }
    }

    /// The flow of a registered binding whose contact is this URI (phones behind NAT put private
    /// addresses in Contact; the flow is how to reach them).
    fn binding_flow_for_contact(&self, uri: &SipUri, now: Time) -> Option<Flow> {
        self.registrar
            .aors()
            .flat_map(|aor| self.registrar.lookup(aor, now))
            .find(|b| {
                b.contact
                    .uri
                    .as_sip()
                    .is_some_and(|c| c.equivalent(uri) || same_address(c, uri))
            })
            .map(|b| b.flow)
    }

    /// Where to send a request for `uri`: a registered phone's flow, or an IP literal. Names
    /// need DNS (RFC 3263), which this layer does not do yet.
    fn flow_for(&self, uri: &SipUri, now: Time) -> Option<Flow> {
        if let Some(flow) = self.binding_flow_for_contact(uri, now) {
            return Some(flow);
        }
        let ip = uri.host.ip()?;
        let transport = match uri.transport().as_deref() {
            Some("tcp") => Transport::Tcp,
            None | Some("udp") => Transport::Udp,
            Some(_) => return None,
        };
        let port = uri.port.unwrap_or(5060);
        let listener = self.locality.listener_for(transport, ip)?;
        Some(Flow {
            transport,
            local: listener.addr,
            remote: SocketAddr::new(ip, port),
        })
    }

    /// §16.6: one client transaction per target; the server transaction waits for the best answer.
    fn forward(
        &mut self,
        id: ServerTxId,
        req: Request,
        in_flow: Flow,
        targets: Vec<(Uri, Flow)>,
        now: Time,
    ) {
        let loop_hash = match Self::loop_hash(&req) {
            Ok(h) => h,
            Err(r) => return self.reply(id, &req, r.status(), now, |_| {}),
        };
        let dialog_creating = matches!(
            req.method,
            Method::Invite | Method::Subscribe | Method::Refer
        ) && req.headers.to().ok().is_some_and(|t| t.tag().is_none());
        let mut branches = Vec::with_capacity(targets.len());
        for (uri, flow) in targets {
            let mut out = req.clone();
            out.uri = uri;
            let mf = out.headers.max_forwards().ok().flatten().unwrap_or(71);
            out.headers
                .set(HeaderName::MaxForwards, mf.saturating_sub(1).to_string());
            if dialog_creating {
                self.add_record_route(&mut out, in_flow, flow);
            }
            let branch = self.ids.branch(&loop_hash);
            out.headers.push_front(
                HeaderName::Via,
                format!(
                    "SIP/2.0/{} {};branch={branch};rport",
                    flow.transport.as_via(),
                    sent_by(flow.local)
                ),
            );
            let invite = out.method == Method::Invite;
            let cid = self.txs.send(out, flow, now);
            self.branch_owner.insert(cid, id);
            if invite {
                self.arm_timer_c(cid, now + TIMER_C, false);
            }
            branches.push(cid);
        }
        debug!(branches = branches.len(), "forwarded");
        let live_branches = branches.len();
        let req = answer_template(req);
        self.contexts.insert(
            id,
            Context {
                fork: Fork::new(branches),
                request: req,
                live_branches,
                failover: None,
            },
        );
    }

    /// Record-Route so in-dialog requests come back through us; two entries when the request
    /// changes transport or address family, so each side sees an address it can reach.
    fn add_record_route(&self, req: &mut Request, in_flow: Flow, out_flow: Flow) {
        let rr = |flow: Flow| {
            let transport = if flow.transport == Transport::Tcp {
                ";transport=tcp"
            } else {
                ""
            };
            format!("<sip:{}{transport};lr>", sent_by(flow.local))
        };
        let inbound = rr(in_flow);
        let outbound = rr(out_flow);
        req.headers
            .push_front(HeaderName::RecordRoute, inbound.clone());
        if outbound != inbound {
            req.headers.push_front(HeaderName::RecordRoute, outbound);
        }
    }

    /// An ACK that matched no server transaction acknowledges a 2xx: it is routed end to end
    /// along the dialog's route set, statelessly (§16.11).
    fn forward_ack(&mut self, mut req: Request, now: Time) {
        if let Err(r) = self.preprocess_routes(&mut req).map(|_| ()) {
            debug!(%r, "dropped ACK");
            return;
        }
        let next = match req.headers.routes(&HeaderName::Route) {
            Ok(routes) => routes.into_iter().next().map(|r| r.uri),
            Err(_) => return,
        };
        let Some(next_uri) = next.unwrap_or_else(|| req.uri.clone()).as_sip().cloned() else {
            return;
        };
        if self.locality.is_us(&next_uri) {
            return; // an ACK for a 2xx we sent ourselves (we send none) or addressed to us
        }
        let Some(flow) = self.flow_for(&next_uri, now) else {
            debug!(uri = %next_uri, "no route for ACK");
            return;
        };
        let incoming_branch = req
            .headers
            .top_via()
            .ok()
            .and_then(|v| v.branch().map(str::to_owned))
            .unwrap_or_default();
        let branch = stateless_branch(&self.seed, &incoming_branch);
        let mf = req.headers.max_forwards().ok().flatten().unwrap_or(71);
        if mf == 0 {
            return;
        }
        req.headers
            .set(HeaderName::MaxForwards, (mf - 1).to_string());
        req.headers.push_front(
            HeaderName::Via,
            format!(
                "SIP/2.0/{} {};branch={branch};rport",
                flow.transport.as_via(),
                sent_by(flow.local)
            ),
        );
        self.out.push_back(Transmit {
            flow,
            bytes: req.to_bytes(),
        });
    }

    fn handle_cancel(
        &mut self,
        cancel: ServerTxId,
        invite: Option<ServerTxId>,
        req: &Request,
        now: Time,
    ) {
        let Some(invite) = invite else {
            return self.reply(cancel, req, Refusal::NoTransaction.status(), now, |_| {});
        };
        self.reply(cancel, req, 200, now, |_| {});
        // Still looking up where to send it: it never left, so it ends here.
        let waiting = self
            .lookups
            .iter()
            .find(|(_, l)| l.server == invite)
            .map(|(id, _)| *id);
        if let Some(pending) = waiting.and_then(|id| self.lookups.remove(&id)) {
            self.reply(invite, &pending.request, 487, now, |_| {});
            return;
        }
        match self.contexts.get_mut(&invite) {
            Some(ctx) if !ctx.fork.final_forwarded() => {
                let actions = ctx.fork.cancel_all();
                self.apply(invite, actions, now);
            }
            _ => {}
        }
    }

    // --- responses -----------------------------------------------------------------------------

    fn handle_response(&mut self, resp: Response, now: Time) {
        let Ok(top) = resp.headers.top_via() else {
            debug!("dropped response without a Via");
            return;
        };
        if !self.is_our_via(&top) {
            debug!(via = %top, "dropped response not sent by us");
            return;
        }
        match self.txs.on_response(&resp, now) {
            Some(cid) => {
                let Some(&sid) = self.branch_owner.get(&cid) else {
                    // The call's context is gone: a late 2xx retransmission still goes up.
                    if (200..300).contains(&resp.status)
                        && resp
                            .headers
                            .cseq()
                            .is_ok_and(|c| c.method == Method::Invite)
                    {
                        self.forward_response_statelessly(resp);
                    }
                    return;
                };
                if self.timer_c_at.get(&cid).is_some_and(|t| !t.cancelled) {
                    if resp.status < 200 {
                        self.arm_timer_c(cid, now + TIMER_C, false);
                    } else {
                        self.disarm_timer_c(cid);
                    }
                }
                if resp.status == 503 && self.fail_over(sid, cid, now) {
                    return;
                }
                let Some(ctx) = self.contexts.get_mut(&sid) else {
                    return;
                };
                let actions = ctx.fork.on_response(cid, resp);
                self.apply(sid, actions, now);
            }
            None => {
                // No transaction: a 2xx retransmission after the INVITE transaction ended.
                // Forward it statelessly along the Vias (§16.7 step 1 / §16.11).
                if (200..300).contains(&resp.status)
                    && resp
                        .headers
                        .cseq()
                        .is_ok_and(|c| c.method == Method::Invite)
                {
                    self.forward_response_statelessly(resp);
                }
            }
        }
    }

    fn apply(&mut self, sid: ServerTxId, actions: Vec<ForkAction<ClientTxId>>, now: Time) {
        for action in actions {
            match action {
                ForkAction::Forward(mut resp) => {
                    resp.headers.pop_front(&HeaderName::Via);
                    // A 2xx must get through even if the server transaction is gone (§16.7
                    // step 5); only then is a copy worth its cost.
                    let fallback = (200..300).contains(&resp.status).then(|| resp.clone());
                    if let Err(e) = self.txs.respond(sid, resp, now) {
                        debug!(?e, "server transaction gone; forwarding statelessly");
                        if let Some(resp) = fallback {
                            self.send_by_via(resp);
                        }
                    }
                }
                ForkAction::Cancel(cid) => {
                    self.send_cancel(cid, now);
                    // A branch that never answers the CANCEL is abandoned after 64*T1 (§9.1).
                    let wait = self.txs.config().t1 * 64;
                    self.arm_timer_c(cid, now + wait, true);
                }
            }
        }
        self.forget_if_finished(sid);
    }

    /// A context whose every branch has answered and whose answer went upstream is done: late
    /// 2xx retransmissions are forwarded statelessly by their Via from now on, so nothing of
    /// the call needs to stay in memory while the transactions wait out their timers.
    fn forget_if_finished(&mut self, sid: ServerTxId) {
        let Some(ctx) = self.contexts.get(&sid) else {
            return;
        };
        if !ctx.fork.is_finished() {
            return;
        }
        let branches: Vec<ClientTxId> = ctx.fork.branches().collect();
        self.contexts.remove(&sid);
        for cid in branches {
            self.branch_owner.remove(&cid);
            self.disarm_timer_c(cid);
        }
    }

    fn send_cancel(&mut self, cid: ClientTxId, now: Time) {
        let Some(invite) = self.txs.client_request(cid).cloned() else {
            return;
        };
        let Some(flow) = self.txs.client_flow(cid) else {
            return;
        };
        self.txs.send(build_cancel(&invite), flow, now);
    }

    /// A branch ended without a response of its own: feed the fork a synthetic one.
    fn fail_branch(&mut self, sid: ServerTxId, id: ClientTxId, status: u16, now: Time) {
        let Some(ctx) = self.contexts.get_mut(&sid) else {
            return;
        };
        let mut synthetic = Response::to_request(&ctx.request, status);
        // As if it came back through our Via, like a real response (the Via is popped).
        synthetic.headers.push_front(
            HeaderName::Via,
            "SIP/2.0/UDP invalid;branch=z9hG4bK.synthetic",
        );
        add_to_tag(&mut synthetic, &mut self.ids);
        let actions = ctx.fork.on_failure(id, synthetic);
        self.apply(sid, actions, now);
    }

    fn forward_response_statelessly(&mut self, mut resp: Response) {
        resp.headers.pop_front(&HeaderName::Via);
        self.send_by_via(resp);
    }

    /// Sends a response to the address in its (new) top Via: `received`/`rport` first (RFC 3581).
    fn send_by_via(&mut self, resp: Response) {
        let Ok(via) = resp.headers.top_via() else {
            return;
        };
        let transport = if via.transport.eq_ignore_ascii_case("TCP") {
            Transport::Tcp
        } else {
            Transport::Udp
        };
        let ip: Option<IpAddr> = via
            .received()
            .and_then(|r| r.trim_matches(['[', ']']).parse().ok())
            .or_else(|| via.sent_by.host.ip());
        let Some(ip) = ip else { return };
        let port = via.rport().flatten().or(via.sent_by.port).unwrap_or(5060);
        let Some(listener) = self.locality.listener_for(transport, ip) else {
            return;
        };
        let flow = Flow {
            transport,
            local: listener.addr,
            remote: SocketAddr::new(ip, port),
        };
        self.out.push_back(Transmit {
            flow,
            bytes: resp.to_bytes(),
        });
    }

    // --- plumbing ------------------------------------------------------------------------------

    /// Sends a locally generated answer on a server transaction (with a To tag on finals, §8.2.6.2).
    fn reply(
        &mut self,
        id: ServerTxId,
        req: &Request,
        status: u16,
        now: Time,
        extra: impl FnOnce(&mut Response),
    ) {
        let mut resp = Response::to_request(req, status);
        if status > 100 {
            add_to_tag(&mut resp, &mut self.ids);
        }
        resp.headers
            .push(HeaderName::Server, self.user_agent.clone());
        extra(&mut resp);
        if let Err(e) = self.txs.respond(id, resp, now) {
            debug!(?e, status, "could not answer");
        }
    }

    /// Feeds transaction events to the contexts until nothing changes.
    fn pump(&mut self, now: Time) {
        while let Some(event) = self.txs.poll_event() {
            match event {
                TxEvent::ClientFailed { id, status } => {
                    let Some(&sid) = self.branch_owner.get(&id) else {
                        continue;
                    };
                    if !self.fail_over(sid, id, now) {
                        self.fail_branch(sid, id, status, now);
                    }
                }
                TxEvent::ClientTerminated { id } => {
                    self.disarm_timer_c(id);
                    if let Some(sid) = self.branch_owner.remove(&id)
                        && let Some(ctx) = self.contexts.get_mut(&sid)
                    {
                        ctx.live_branches = ctx.live_branches.saturating_sub(1);
                        if ctx.live_branches == 0 {
                            self.contexts.remove(&sid);
                        }
                    }
                }
                TxEvent::ServerAckTimeout { id } => debug!(?id, "no ACK for our final response"),
                TxEvent::ServerTerminated { .. } => {}
            }
        }
    }
}

/// RFC 3261 §18.2.1 and RFC 3581: note where the request really came from in the top Via, so
/// that responses (and this binding's requests) go back through the NAT.
fn mark_received(req: &mut Request, remote: SocketAddr) -> Result<(), ParseError> {
    let mut via = req.headers.top_via()?;
    let ip = remote.ip();
    let wants_rport = via.rport().is_some();
    if via.sent_by.host.ip() != Some(ip) || wants_rport {
        via.params.set("received", Some(&ip.to_string()));
    }
    if wants_rport {
        via.params.set("rport", Some(&remote.port().to_string()));
    }
    req.headers.pop_front(&HeaderName::Via);
    req.headers.push_front(HeaderName::Via, via.to_string());
    Ok(())
}

fn add_to_tag(resp: &mut Response, ids: &mut Ids) {
    let Ok(mut to) = resp.headers.to() else {
        return;
    };
    if to.tag().is_none() {
        to.params.set("tag", Some(&ids.tag()));
        resp.headers.set(HeaderName::To, to.to_string());
    }
}

/// Same host and port (for matching a phone's Contact when its URI parameters differ).
fn same_address(a: &SipUri, b: &SipUri) -> bool {
    a.host == b.host && a.port.unwrap_or(5060) == b.port.unwrap_or(5060) && a.user == b.user
}

/// The part of a request that a locally generated answer copies (§8.2.6.2).
fn answer_template(req: Request) -> Request {
    let Request {
        method,
        uri,
        headers,
        ..
    } = req;
    let mut kept = crate::core::msg::Headers::new();
    for h in headers.0 {
        if h.name.is_copied_into_responses() {
            kept.0.push(h);
        }
    }
    Request {
        method,
        uri,
        headers: kept,
        body: Vec::new(),
    }
}

#[cfg(test)]
mod tests;
