//! The transaction table: matches messages to transactions, drives their timers, and queues
//! what must be sent and what the TU must hear about.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Arc;

use super::client_invite::ClientInvite;
use super::client_non_invite::ClientNonInvite;
use super::error::TxError;
use super::id::{ClientTxId, ServerTxId};
use super::key::{ClientKey, ServerKey};
use super::messages::trying;
use super::server_invite::{AckStep, ServerInvite};
use super::server_non_invite::ServerNonInvite;
use super::timers::{Fired, TimerConfig};
use crate::core::flow::Flow;
use crate::core::msg::{Method, Request, Response};
use crate::core::time::Time;

/// Bytes the shell must send on a flow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    /// Where to send them. For TCP, the connection named by the flow (re-opened by the shell if
    /// it closed, RFC 3261 §18.2.2).
    pub flow: Flow,
    /// One complete serialised message.
    pub bytes: Vec<u8>,
}

/// What a received request means, as [`Transactions::on_request`] reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Incoming {
    /// A new server transaction: the TU must handle the request and answer through
    /// [`Transactions::respond`].
    New(ServerTxId),
    /// Nothing for the TU: a retransmission (the last response, if any, was re-sent), an ACK for
    /// a non-2xx final response, or a request too malformed to match (no parsable top Via, or
    /// for an RFC 2543 client no parsable From/To/Call-ID/CSeq), which the parser normally
    /// rejects before it gets here.
    Absorbed,
    /// An ACK that is not for a non-2xx final response (an ACK for a 2xx, which starts no
    /// transaction and is routed end to end): the TU routes it statelessly.
    Ack,
    /// A new CANCEL: its own non-INVITE server transaction `cancel` (answer it with 200, or 481
    /// when `invite` is `None`), and the INVITE server transaction it cancels, matched as RFC
    /// 3261 §9.2 says, if that transaction still exists. A retransmitted CANCEL is `Absorbed`.
    Cancel {
        /// The CANCEL's own server transaction.
        cancel: ServerTxId,
        /// The INVITE server transaction it targets.
        invite: Option<ServerTxId>,
    },
}

/// What happened on its own (timers, transport errors) that the TU must know.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxEvent {
    /// Timer B/F fired, or a transport error: the TU should act as if 408/503 was received
    /// (RFC 3261 §8.1.3.1; for a proxy §16.7, §16.9). `ClientTerminated` follows.
    ClientFailed {
        /// The failed transaction.
        id: ClientTxId,
        /// 408 for a timeout, 503 for a transport error.
        status: u16,
    },
    /// Timer H fired: no ACK came for our non-2xx final response to an INVITE.
    /// `ServerTerminated` follows.
    ServerAckTimeout {
        /// The transaction that gave up.
        id: ServerTxId,
    },
    /// The client transaction is gone: its id will not be reported again. Every id
    /// [`Transactions::send`] returned gets exactly one of these.
    ClientTerminated {
        /// The transaction that ended.
        id: ClientTxId,
    },
    /// The server transaction is gone; [`Transactions::respond`] on it now fails. Every id
    /// [`Transactions::on_request`] reported gets exactly one of these.
    ServerTerminated {
        /// The transaction that ended.
        id: ServerTxId,
    },
}

/// Either side's transaction, as the timer queue names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum TxRef {
    Client(ClientTxId),
    Server(ServerTxId),
}

/// An entry of the transmit queue.
#[derive(Clone, Debug)]
enum Queued {
    Ready(Transmit),
    /// A `100 Trying`, built when the shell polls for it and only if the TU has not answered
    /// by then (RFC 3261 §17.2.1 lets the TU's own response replace it).
    Trying(ServerTxId),
}

#[derive(Clone, Debug)]
enum ClientMachine {
    Invite(ClientInvite),
    NonInvite(ClientNonInvite),
}

/// A client transaction. The request lives in its machine's states that need it; the key is
/// shared with `client_keys` (the transaction needs it only to remove that entry).
#[derive(Clone, Debug)]
struct ClientTx {
    flow: Flow,
    key: Option<Arc<ClientKey>>,
    machine: ClientMachine,
    /// The deadline this transaction has in the timer queue.
    scheduled: Option<Time>,
}

#[derive(Clone, Debug)]
enum ServerMachine {
    Invite(ServerInvite),
    NonInvite(ServerNonInvite),
}

/// A server transaction; like [`ClientTx`], the request is in its machine, the key shared with
/// `server_keys`.
#[derive(Clone, Debug)]
struct ServerTx {
    flow: Flow,
    key: Arc<ServerKey>,
    machine: ServerMachine,
    scheduled: Option<Time>,
}

impl ClientMachine {
    fn deadline(&self) -> Option<Time> {
        match self {
            ClientMachine::Invite(m) => m.deadline(),
            ClientMachine::NonInvite(m) => m.deadline(),
        }
    }
    fn is_terminated(&self) -> bool {
        match self {
            ClientMachine::Invite(m) => m.is_terminated(),
            ClientMachine::NonInvite(m) => m.is_terminated(),
        }
    }
    fn awaiting_final(&self) -> bool {
        match self {
            ClientMachine::Invite(m) => m.awaiting_final(),
            ClientMachine::NonInvite(m) => m.awaiting_final(),
        }
    }
    fn terminate(&mut self) {
        match self {
            ClientMachine::Invite(m) => m.terminate(),
            ClientMachine::NonInvite(m) => m.terminate(),
        }
    }
    fn request(&self) -> Option<&Request> {
        match self {
            ClientMachine::Invite(m) => m.request(),
            ClientMachine::NonInvite(m) => m.request(),
        }
    }
    #[cfg(test)]
    fn held_bytes(&self) -> usize {
        match self {
            ClientMachine::Invite(m) => m.held_bytes(),
            ClientMachine::NonInvite(m) => m.held_bytes(),
        }
    }
}

impl ServerMachine {
    fn deadline(&self) -> Option<Time> {
        match self {
            ServerMachine::Invite(m) => m.deadline(),
            ServerMachine::NonInvite(m) => m.deadline(),
        }
    }
    fn is_terminated(&self) -> bool {
        match self {
            ServerMachine::Invite(m) => m.is_terminated(),
            ServerMachine::NonInvite(m) => m.is_terminated(),
        }
    }
    fn terminate(&mut self) {
        match self {
            ServerMachine::Invite(m) => m.terminate(),
            ServerMachine::NonInvite(m) => m.terminate(),
        }
    }
    fn on_retransmission(&self) -> Option<&[u8]> {
        match self {
            ServerMachine::Invite(m) => m.on_retransmission(),
            ServerMachine::NonInvite(m) => m.on_retransmission(),
        }
    }
    fn request(&self) -> Option<&Request> {
        match self {
            ServerMachine::Invite(m) => m.request(),
            ServerMachine::NonInvite(m) => m.request(),
        }
    }
    #[cfg(test)]
    fn held_bytes(&self) -> usize {
        match self {
            ServerMachine::Invite(m) => m.held_bytes(),
            ServerMachine::NonInvite(m) => m.held_bytes(),
        }
    }
}

/// The RFC 3261 §17 transaction layer: every client and server transaction of one SIP element,
/// sans-IO.
///
/// The shell feeds it received messages ([`on_request`](Self::on_request),
/// [`on_response`](Self::on_response)), transport failures and the clock
/// ([`on_timeout`](Self::on_timeout) at [`poll_timeout`](Self::poll_timeout)), and after each
/// call drains [`poll_transmit`](Self::poll_transmit) and [`poll_event`](Self::poll_event).
/// The TU (the proxy) starts client transactions with [`send`](Self::send) and answers server
/// transactions with [`respond`](Self::respond).
///
/// Both INVITE machines implement RFC 6026's Accepted state: after a 2xx, the transaction lives
/// 64*T1 more so that retransmitted 2xx pass through it (client side: each copy goes to the TU;
/// server side: the TU's copies are sent) and retransmitted INVITEs are absorbed. A response that
/// matches no transaction is for the TU to drop (RFC 6026 §7.3 replaces RFC 3261's stateless
/// forwarding of such stray responses).
///
/// Bounded: every transaction that has reached a final response dies by its own timers. Two
/// states wait on the TU alone and are the TU's to end: a server transaction whose request was
/// not answered yet, and an INVITE client transaction in Proceeding (RFC 3261 leaves its
/// lifetime to the proxy's Timer C, §16.8); see [`terminate_client`](Self::terminate_client)
/// and [`terminate_server`](Self::terminate_server).
#[derive(Debug)]
pub struct Transactions {
    cfg: TimerConfig,
    next_id: u64,
    /// Boxed: a map's slots are preallocated in powers of two, and a transaction is ~170 bytes
    /// against 8 for the box; tens of thousands of them linger for their absorb timers.
    clients: HashMap<ClientTxId, Box<ClientTx>>,
    client_keys: HashMap<Arc<ClientKey>, ClientTxId>,
    servers: HashMap<ServerTxId, Box<ServerTx>>,
    server_keys: HashMap<Arc<ServerKey>, ServerTxId>,
    /// One entry per transaction with a pending timer: its earliest deadline.
    timers: BTreeSet<(Time, TxRef)>,
    transmits: VecDeque<Queued>,
    events: VecDeque<TxEvent>,
}

impl Transactions {
    /// An empty table. T1 is raised to at least 1 ms and T2 to at least T1, so that
    /// retransmission timers always move forward.
    pub fn new(config: TimerConfig) -> Self {
        Transactions {
            cfg: config.sanitized(),
            next_id: 0,
            clients: HashMap::new(),
            client_keys: HashMap::new(),
            servers: HashMap::new(),
            server_keys: HashMap::new(),
            timers: BTreeSet::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// The timer values in use (after [`Transactions::new`] sanitised them).
    pub fn config(&self) -> TimerConfig {
        self.cfg
    }

    fn alloc(&mut self) -> u64 {
        self.next_id = self.next_id.wrapping_add(1);
        self.next_id
    }

    /// A request arrived on `flow`. Matching per RFC 3261 §17.2.3: with a `z9hG4bK` branch, by
    /// branch, sent-by and method (an ACK matches its INVITE); otherwise by the RFC 2543 fallback
    /// (Request-URI, To tag, From tag, Call-ID, CSeq, the whole top Via; an ACK's To tag may be
    /// the one our response added).
    ///
    /// A new INVITE server transaction sends `100 Trying` (RFC 3261 §16.2, §17.2.1) when the
    /// shell next polls, unless the TU has answered by then.
    pub fn on_request(&mut self, req: &Request, flow: Flow, now: Time) -> Incoming {
        let Ok(key) = ServerKey::of_request(req) else {
            return Incoming::Absorbed;
        };
        if req.method == Method::Ack {
            return self.on_ack(&key, now);
        }
        if let Some(&id) = self.server_keys.get(&key) {
            if let Some(tx) = self.servers.get(&id)
                && let Some(bytes) = tx.machine.on_retransmission()
            {
                let transmit = Transmit {
                    flow: tx.flow,
                    bytes: bytes.to_vec(),
                };
                self.transmits.push_back(Queued::Ready(transmit));
            }
            return Incoming::Absorbed;
        }

        let id = ServerTxId(self.alloc());
        let reliable = flow.is_reliable();
        let machine = if req.method == Method::Invite {
            self.transmits.push_back(Queued::Trying(id));
            ServerMachine::Invite(ServerInvite::new(req.clone(), reliable))
        } else {
            ServerMachine::NonInvite(ServerNonInvite::new(req.clone(), reliable))
        };
        let invite = (req.method == Method::Cancel)
            .then(|| {
                self.server_keys
                    .get(&key.with_method(Method::Invite))
                    .copied()
            })
            .flatten();
        let key = Arc::new(key);
        self.server_keys.insert(Arc::clone(&key), id);
        self.servers.insert(
            id,
            Box::new(ServerTx {
                flow,
                key,
                machine,
                scheduled: None,
            }),
        );
        if req.method == Method::Cancel {
            Incoming::Cancel { cancel: id, invite }
        } else {
            Incoming::New(id)
        }
    }

    fn on_ack(&mut self, key: &ServerKey, now: Time) -> Incoming {
        let invite_key = key.with_method(Method::Invite);
        let found = self.server_keys.get(&invite_key).or_else(|| {
            // RFC 2543 ACK: it carries our response's To tag, the INVITE had none.
            invite_key
                .without_to_tag()
                .and_then(|k| self.server_keys.get(&k))
        });
        let Some(&id) = found else {
            return Incoming::Ack;
        };
        let step = match self.servers.get_mut(&id).map(|tx| &mut tx.machine) {
            Some(ServerMachine::Invite(m)) => m.on_ack(now, &self.cfg),
            // Keys of non-INVITE transactions never carry the INVITE method.
            Some(ServerMachine::NonInvite(_)) | None => AckStep::ToTu,
        };
        self.settle_server(id);
        match step {
            AckStep::Absorbed => Incoming::Absorbed,
            AckStep::ToTu => Incoming::Ack,
        }
    }

    /// Sends a response on a server transaction, to the flow its request came from (RFC 3581
    /// rport makes that right for UDP; for TCP it is the connection the request used).
    /// Provisional and final; a final response moves the state machine on. After a 2xx to an
    /// INVITE, further 2xx (retransmissions the proxy forwards) may follow.
    ///
    /// Errors: [`TxError::Gone`] when the transaction has terminated, [`TxError::AlreadyCompleted`]
    /// after a final response (other than 2xx after 2xx to INVITE), [`TxError::InvalidStatus`]
    /// outside 100–699. Nothing is sent on error.
    pub fn respond(&mut self, id: ServerTxId, resp: Response, now: Time) -> Result<(), TxError> {
        if !(100..=699).contains(&resp.status) {
            return Err(TxError::InvalidStatus(resp.status));
        }
        let tx = self.servers.get_mut(&id).ok_or(TxError::Gone)?;
        let bytes = resp.to_bytes();
        match &mut tx.machine {
            ServerMachine::Invite(m) => m.respond(resp.status, &bytes, now, &self.cfg)?,
            ServerMachine::NonInvite(m) => m.respond(resp.status, &bytes, now, &self.cfg)?,
        }
        self.transmits.push_back(Queued::Ready(Transmit {
            flow: tx.flow,
            bytes,
        }));
        self.settle_server(id);
        Ok(())
    }

    /// Starts a client transaction sending `req` (already carrying our top Via with a fresh
    /// `z9hG4bK` branch; a reused branch takes matching away from the older transaction) to
    /// `flow`. INVITE: timers A (unreliable only) and B; others: E (unreliable only) and F.
    ///
    /// An ACK is not a transaction (RFC 3261 §17): it is sent once, and the returned id is
    /// already over (its `ClientTerminated` event is queued).
    pub fn send(&mut self, req: Request, flow: Flow, now: Time) -> ClientTxId {
        let id = ClientTxId(self.alloc());
        self.transmits.push_back(Queued::Ready(Transmit {
            flow,
            bytes: req.to_bytes(),
        }));
        if req.method == Method::Ack {
            self.events.push_back(TxEvent::ClientTerminated { id });
            return id;
        }
        let reliable = flow.is_reliable();
        let key = ClientKey::of_request(&req).map(Arc::new);
        if let Some(key) = &key {
            self.client_keys.insert(Arc::clone(key), id);
        }
        let machine = if req.method == Method::Invite {
            ClientMachine::Invite(ClientInvite::new(req, now, reliable, &self.cfg))
        } else {
            ClientMachine::NonInvite(ClientNonInvite::new(req, now, reliable, &self.cfg))
        };
        self.clients.insert(
            id,
            Box::new(ClientTx {
                flow,
                key,
                machine,
                scheduled: None,
            }),
        );
        self.settle_client(id);
        id
    }

    /// A response arrived. Matched by top Via branch and CSeq method (RFC 3261 §17.1.3).
    ///
    /// `Some(id)`: the TU must process it as a response of client transaction `id`. That is
    /// every provisional response (each one refreshes the proxy's Timer C), the first final
    /// response, and every copy of a 2xx to an INVITE (RFC 6026: the proxy forwards each).
    /// `None`: absorbed (a retransmitted non-2xx final response, for an INVITE re-ACKed by the
    /// transaction itself), or it matches no transaction (a stateful proxy drops it, RFC 6026 §7.3).
    ///
    /// For 300–699 to an INVITE the transaction builds and sends the ACK itself (§17.1.1.3).
    pub fn on_response(&mut self, resp: &Response, now: Time) -> Option<ClientTxId> {
        if !(100..=699).contains(&resp.status) {
            return None;
        }
        let key = ClientKey::of_response(resp)?;
        let id = *self.client_keys.get(&key)?;
        let tx = self.clients.get_mut(&id)?;
        let deliver = match &mut tx.machine {
            ClientMachine::Invite(m) => {
                let step = m.on_response(resp, now, &self.cfg);
                if let Some(bytes) = step.send {
                    self.transmits.push_back(Queued::Ready(Transmit {
                        flow: tx.flow,
                        bytes,
                    }));
                }
                step.deliver
            }
            ClientMachine::NonInvite(m) => m.on_response(resp.status, now, &self.cfg),
        };
        self.settle_client(id);
        deliver.then_some(id)
    }

    /// A transport failure on `flow` (TCP connection lost, ICMP unreachable): every client
    /// transaction on it that still awaits a final response fails with 503 (RFC 3261 §17.1.1.2,
    /// §17.1.2.2, §16.9); every transaction on it, client or server, terminates (a server
    /// transaction can no longer deliver its responses).
    pub fn on_transport_error(&mut self, flow: Flow, _now: Time) {
        let mut clients: Vec<ClientTxId> = self
            .clients
            .iter()
            .filter(|(_, tx)| tx.flow == flow)
            .map(|(&id, _)| id)
            .collect();
        clients.sort_unstable();
        for id in clients {
            if let Some(tx) = self.clients.get_mut(&id) {
                if tx.machine.awaiting_final() {
                    self.events
                        .push_back(TxEvent::ClientFailed { id, status: 503 });
                }
                tx.machine.terminate();
            }
            self.settle_client(id);
        }
        let mut servers: Vec<ServerTxId> = self
            .servers
            .iter()
            .filter(|(_, tx)| tx.flow == flow)
            .map(|(&id, _)| id)
            .collect();
        servers.sort_unstable();
        for id in servers {
            self.terminate_server(id);
        }
    }

    /// The TU ends a client transaction (an INVITE left in Proceeding when the proxy's Timer C,
    /// or the 64*T1 wait after its CANCEL, RFC 3261 §9.1, runs out). Unknown ids are ignored.
    /// No `ClientFailed` is reported; `ClientTerminated` is.
    pub fn terminate_client(&mut self, id: ClientTxId) {
        if let Some(tx) = self.clients.get_mut(&id) {
            tx.machine.terminate();
        }
        self.settle_client(id);
    }

    /// The TU ends a server transaction without answering it (for example when it gives up on
    /// a request it can never answer). Unknown ids are ignored; `ServerTerminated` is reported.
    pub fn terminate_server(&mut self, id: ServerTxId) {
        if let Some(tx) = self.servers.get_mut(&id) {
            tx.machine.terminate();
        }
        self.settle_server(id);
    }

    /// Fires every timer due at `now` (retransmissions, timeouts, terminations).
    pub fn on_timeout(&mut self, now: Time) {
        // Collect first and fire each transaction once: a timer that re-arms is always later
        // than `now`, and even if it were not it would wait for the next call, never loop.
        let mut due = Vec::new();
        while let Some(&(at, tx)) = self.timers.first() {
            if at > now {
                break;
            }
            self.timers.pop_first();
            due.push(tx);
        }
        for tx in due {
            match tx {
                TxRef::Client(id) => self.fire_client(id, now),
                TxRef::Server(id) => self.fire_server(id, now),
            }
        }
    }

    fn fire_client(&mut self, id: ClientTxId, now: Time) {
        let Some(tx) = self.clients.get_mut(&id) else {
            return;
        };
        tx.scheduled = None;
        let fired = match &mut tx.machine {
            ClientMachine::Invite(m) => m.on_timeout(now),
            ClientMachine::NonInvite(m) => m.on_timeout(now, &self.cfg),
        };
        match fired {
            Fired::Nothing => {}
            // Serialised again rather than kept as bytes next to the request: retransmissions
            // are the exception, and serialising is deterministic, so the copy is identical.
            Fired::Retransmit => {
                if let Some(request) = tx.machine.request() {
                    let transmit = Transmit {
                        flow: tx.flow,
                        bytes: request.to_bytes(),
                    };
                    self.transmits.push_back(Queued::Ready(transmit));
                }
            }
            Fired::TimedOut => self
                .events
                .push_back(TxEvent::ClientFailed { id, status: 408 }),
        }
        self.settle_client(id);
    }

    fn fire_server(&mut self, id: ServerTxId, now: Time) {
        let Some(tx) = self.servers.get_mut(&id) else {
            return;
        };
        tx.scheduled = None;
        match &mut tx.machine {
            ServerMachine::Invite(m) => match m.on_timeout(now, &self.cfg) {
                Fired::Nothing => {}
                Fired::Retransmit => {
                    if let Some(bytes) = m.final_response() {
                        let transmit = Transmit {
                            flow: tx.flow,
                            bytes: bytes.to_vec(),
                        };
                        self.transmits.push_back(Queued::Ready(transmit));
                    }
                }
                Fired::TimedOut => self.events.push_back(TxEvent::ServerAckTimeout { id }),
            },
            ServerMachine::NonInvite(m) => {
                m.on_timeout(now);
            }
        }
        self.settle_server(id);
    }

    /// After any change to a client transaction: re-file its timer, and remove it if it ended.
    fn settle_client(&mut self, id: ClientTxId) {
        let Some(tx) = self.clients.get_mut(&id) else {
            return;
        };
        let terminated = tx.machine.is_terminated();
        // An ended transaction leaves the timer queue.
        let deadline = tx.machine.deadline().filter(|_| !terminated);
        reschedule(
            &mut self.timers,
            &mut tx.scheduled,
            deadline,
            TxRef::Client(id),
        );
        if terminated {
            if let Some(key) = &tx.key
                && self.client_keys.get(&**key) == Some(&id)
            {
                self.client_keys.remove(&**key);
            }
            self.clients.remove(&id);
            self.events.push_back(TxEvent::ClientTerminated { id });
        }
    }

    /// After any change to a server transaction: re-file its timer, and remove it if it ended.
    fn settle_server(&mut self, id: ServerTxId) {
        let Some(tx) = self.servers.get_mut(&id) else {
            return;
        };
        let terminated = tx.machine.is_terminated();
        // An ended transaction leaves the timer queue.
        let deadline = tx.machine.deadline().filter(|_| !terminated);
        reschedule(
            &mut self.timers,
            &mut tx.scheduled,
            deadline,
            TxRef::Server(id),
        );
        if terminated {
            if self.server_keys.get(&*tx.key) == Some(&id) {
                self.server_keys.remove(&*tx.key);
            }
            self.servers.remove(&id);
            self.events.push_back(TxEvent::ServerTerminated { id });
        }
    }

    /// The earliest instant [`on_timeout`](Self::on_timeout) has work to do.
    pub fn poll_timeout(&self) -> Option<Time> {
        self.timers.first().map(|&(at, _)| at)
    }

    /// The next message to send, in order.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        while let Some(queued) = self.transmits.pop_front() {
            match queued {
                Queued::Ready(transmit) => return Some(transmit),
                Queued::Trying(id) => {
                    if let Some(tx) = self.servers.get_mut(&id)
                        && let ServerMachine::Invite(m) = &mut tx.machine
                        && let Some(invite) = m.nothing_sent()
                    {
                        let bytes = trying(invite).to_bytes();
                        m.sent_trying(&bytes);
                        return Some(Transmit {
                            flow: tx.flow,
                            bytes,
                        });
                    }
                }
            }
        }
        None
    }

    /// The next event for the TU, in order.
    pub fn poll_event(&mut self) -> Option<TxEvent> {
        self.events.pop_front()
    }

    /// The request a client transaction sent (to build its CANCEL with
    /// [`build_cancel`](super::build_cancel)).
    ///
    /// Only until a final response: then the transaction keeps just what absorbing
    /// retransmissions needs (the ACK bytes, or only its key) and this is `None`, as it is for
    /// an unknown or terminated id. A CANCEL is only for a request without a final response.
    pub fn client_request(&self, id: ClientTxId) -> Option<&Request> {
        self.clients.get(&id).and_then(|tx| tx.machine.request())
    }

    /// The flow a client transaction sends on (a CANCEL goes there too, RFC 3261 §9.1).
    pub fn client_flow(&self, id: ClientTxId) -> Option<Flow> {
        self.clients.get(&id).map(|tx| tx.flow)
    }

    /// The request that created a server transaction, until a final response is sent on it:
    /// then the transaction keeps just what absorbing retransmissions needs (the response bytes,
    /// or only its key) and this is `None`, as it is for an unknown or terminated id. A TU that
    /// needs the request longer keeps its own copy.
    pub fn server_request(&self, id: ServerTxId) -> Option<&Request> {
        self.servers.get(&id).and_then(|tx| tx.machine.request())
    }

    /// The flow a server transaction's request came from, where its responses go.
    pub fn server_flow(&self, id: ServerTxId) -> Option<Flow> {
        self.servers.get(&id).map(|tx| tx.flow)
    }

    /// Live transactions, client and server (for tests and metrics).
    pub fn len(&self) -> usize {
        self.clients.len() + self.servers.len()
    }

    /// No live transaction.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// What every live transaction's state retains, in serialised bytes (requests, responses,
    /// ACKs): proof that completed transactions keep only what absorbing needs.
    #[cfg(test)]
    pub(crate) fn held_bytes(&self) -> usize {
        let clients: usize = self
            .clients
            .values()
            .map(|tx| tx.machine.held_bytes())
            .sum();
        let servers: usize = self
            .servers
            .values()
            .map(|tx| tx.machine.held_bytes())
            .sum();
        clients + servers
    }
}

/// Moves a transaction's entry in the timer queue from `scheduled` to `deadline`.
fn reschedule(
    timers: &mut BTreeSet<(Time, TxRef)>,
    scheduled: &mut Option<Time>,
    deadline: Option<Time>,
    who: TxRef,
) {
    if *scheduled == deadline {
        return;
    }
    if let Some(old) = scheduled.take() {
        timers.remove(&(old, who));
    }
    if let Some(new) = deadline {
        timers.insert((new, who));
    }
    *scheduled = deadline;
}
