//! Scenario tests of the transaction layer on the virtual clock: every timer of every state
//! machine over UDP and TCP, matching, absorption, ACK/CANCEL construction, transport errors.

use std::net::SocketAddr;
use std::time::Duration;

use super::*;
use crate::core::flow::{Flow, Transport};
use crate::core::msg::{HeaderName, Message, Method, Request, Response, parse_message};
use crate::core::time::Time;

// --- helpers ---------------------------------------------------------------------------------

fn flow(transport: Transport) -> Flow {
    let local: SocketAddr = "192.0.2.1:5060".parse().unwrap();
    let remote: SocketAddr = "198.51.100.7:5060".parse().unwrap();
    Flow {
        transport,
        local,
        remote,
    }
}

fn udp() -> Flow {
    flow(Transport::Udp)
}

fn tcp() -> Flow {
    flow(Transport::Tcp)
}

fn ms(n: u64) -> Time {
    Time::ZERO + Duration::from_millis(n)
}

fn secs(n: u64) -> Time {
    Time::ZERO + Duration::from_secs(n)
}

fn request(method: &str, branch: &str, transport: Transport, extra: &str) -> Request {
    let text = format!(
        "{method} sip:bob@example.org SIP/2.0\r\n\
         Via: SIP/2.0/{} 198.51.100.7:5060;branch={branch}\r\n\
         Route: <sip:p1.example.org;lr>\r\n\
         Route: <sip:p2.example.org;lr>\r\n\
         Max-Forwards: 70\r\n\
         From: Alice <sip:alice@example.org>;tag=a1\r\n\
         To: Bob <sip:bob@example.org>\r\n\
         Call-ID: call-1@198.51.100.7\r\n\
         CSeq: 7 {method}\r\n\
         {extra}\
         Content-Length: 0\r\n\r\n",
        transport.as_via()
    );
    match parse_message(text.as_bytes()).unwrap() {
        Message::Request(r) => r,
        Message::Response(_) => panic!("not a request"),
    }
}

fn invite(branch: &str, transport: Transport) -> Request {
    request("INVITE", branch, transport, "")
}

/// A response to `req`, with a To tag for anything but 100.
fn response(req: &Request, status: u16) -> Response {
    let mut resp = Response::to_request(req, status);
    if status > 100 {
        let to = resp.headers.get(&HeaderName::To).unwrap().to_owned();
        resp.headers.set(HeaderName::To, format!("{to};tag=b2"));
    }
    resp
}

/// The ACK an RFC 3261 UAC sends for a non-2xx final response (same branch as the INVITE).
fn ack_for(req: &Request, resp: &Response) -> Request {
    build_ack(req, resp)
}

fn parse(bytes: &[u8]) -> Message {
    parse_message(bytes).unwrap()
}

fn parse_request(bytes: &[u8]) -> Request {
    match parse(bytes) {
        Message::Request(r) => r,
        Message::Response(r) => panic!("expected a request, got {}", r.status),
    }
}

fn parse_response(bytes: &[u8]) -> Response {
    match parse(bytes) {
        Message::Response(r) => r,
        Message::Request(r) => panic!("expected a response, got {}", r.method),
    }
}

fn transmits(txs: &mut Transactions) -> Vec<Transmit> {
    std::iter::from_fn(|| txs.poll_transmit()).collect()
}

fn events(txs: &mut Transactions) -> Vec<TxEvent> {
    std::iter::from_fn(|| txs.poll_event()).collect()
}

/// Runs the clock until `end` (inclusive), firing timers exactly when they are due, and returns
/// what was sent and what happened, stamped with the time.
type Sent = Vec<(Time, Transmit)>;
type Happened = Vec<(Time, TxEvent)>;

fn run_until(txs: &mut Transactions, end: Time) -> (Sent, Happened) {
    let (mut sent, mut happened) = (Vec::new(), Vec::new());
    while let Some(at) = txs.poll_timeout() {
        if at > end {
            break;
        }
        txs.on_timeout(at);
        sent.extend(transmits(txs).into_iter().map(|t| (at, t)));
        happened.extend(events(txs).into_iter().map(|e| (at, e)));
    }
    (sent, happened)
}

fn times(sent: &[(Time, Transmit)]) -> Vec<Time> {
    sent.iter().map(|(t, _)| *t).collect()
}

fn new_tx() -> Transactions {
    Transactions::new(TimerConfig::default())
}

fn new_server(txs: &mut Transactions, req: &Request, flow: Flow, now: Time) -> ServerTxId {
    match txs.on_request(req, flow, now) {
        Incoming::New(id) => id,
        other => panic!("expected a new server transaction, got {other:?}"),
    }
}

// --- configuration ---------------------------------------------------------------------------

#[test]
fn default_timer_values() {
    let cfg = TimerConfig::default();
    assert_eq!(cfg.t1, Duration::from_millis(500));
    assert_eq!(cfg.t2, Duration::from_secs(4));
    assert_eq!(cfg.t4, Duration::from_secs(5));
}

#[test]
fn degenerate_config_is_sanitised() {
    let txs = Transactions::new(TimerConfig {
        t1: Duration::ZERO,
        t2: Duration::ZERO,
        t4: Duration::ZERO,
    });
    assert!(txs.config().t1 > Duration::ZERO);
    assert!(txs.config().t2 >= txs.config().t1);
}

// --- INVITE client ---------------------------------------------------------------------------

#[test]
fn invite_client_udp_timer_a_doubles_and_timer_b_reports_408() {
    let mut txs = new_tx();
    let req = invite("z9hG4bK-c1", Transport::Udp);
    let id = txs.send(req.clone(), udp(), Time::ZERO);
    let first = transmits(&mut txs);
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].flow, udp());
    assert_eq!(parse_request(&first[0].bytes).method, Method::Invite);
    assert_eq!(txs.client_request(id), Some(&req));
    assert_eq!(txs.client_flow(id), Some(udp()));

    let (sent, happened) = run_until(&mut txs, secs(40));
    // Timer A: T1, 2T1, 4T1, … without cap, until Timer B (64*T1 = 32 s).
    assert_eq!(
        times(&sent),
        vec![
            ms(500),
            ms(1500),
            ms(3500),
            ms(7500),
            ms(15_500),
            ms(31_500)
        ]
    );
    assert!(
        sent.iter()
            .all(|(_, t)| t.bytes == first[0].bytes && t.flow == udp())
    );
    assert_eq!(
        happened,
        vec![
            (secs(32), TxEvent::ClientFailed { id, status: 408 }),
            (secs(32), TxEvent::ClientTerminated { id }),
        ]
    );
    assert_eq!(txs.len(), 0);
    assert_eq!(txs.poll_timeout(), None);
}

#[test]
fn invite_client_tcp_never_retransmits_and_times_out_at_32s() {
    let mut txs = new_tx();
    let id = txs.send(invite("z9hG4bK-c2", Transport::Tcp), tcp(), Time::ZERO);
    assert_eq!(transmits(&mut txs).len(), 1);
    assert_eq!(txs.poll_timeout(), Some(secs(32)));
    let (sent, happened) = run_until(&mut txs, secs(40));
    assert!(sent.is_empty());
    assert_eq!(
        happened,
        vec![
            (secs(32), TxEvent::ClientFailed { id, status: 408 }),
            (secs(32), TxEvent::ClientTerminated { id }),
        ]
    );
    assert!(txs.is_empty());
}

#[test]
fn invite_client_provisional_stops_timers_a_and_b() {
    let mut txs = new_tx();
    let req = invite("z9hG4bK-c3", Transport::Udp);
    let id = txs.send(req.clone(), udp(), Time::ZERO);
    transmits(&mut txs);
    assert_eq!(txs.on_response(&response(&req, 100), ms(200)), Some(id));
    // Every provisional goes to the TU, retransmitted or not (it refreshes Timer C).
    assert_eq!(txs.on_response(&response(&req, 180), ms(300)), Some(id));
    assert_eq!(txs.on_response(&response(&req, 180), ms(400)), Some(id));
    let (sent, happened) = run_until(&mut txs, secs(100));
    assert!(sent.is_empty() && happened.is_empty());
    assert_eq!(txs.len(), 1);
    // The proxy's Timer C ends it.
    txs.terminate_client(id);
    assert_eq!(events(&mut txs), vec![TxEvent::ClientTerminated { id }]);
    assert!(txs.is_empty());
}

#[test]
fn invite_client_udp_acks_486_and_reacks_retransmissions_until_timer_d() {
    let mut txs = new_tx();
    let req = invite("z9hG4bK-c4", Transport::Udp);
    let id = txs.send(req.clone(), udp(), Time::ZERO);
    transmits(&mut txs);
    let busy = response(&req, 486);
    assert_eq!(txs.on_response(&busy, ms(100)), Some(id));

    let sent = transmits(&mut txs);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].flow, udp());
    let ack = parse_request(&sent[0].bytes);
    assert_eq!(ack.method, Method::Ack);
    assert_eq!(ack.uri, req.uri);
    assert_eq!(ack.headers.cseq().unwrap().seq, 7);
    assert_eq!(ack.headers.cseq().unwrap().method, Method::Ack);
    assert_eq!(
        ack.headers.vias().unwrap(),
        vec![req.headers.top_via().unwrap()]
    );
    assert_eq!(ack.headers.to().unwrap().tag(), Some("b2"));
    assert_eq!(ack.headers.from().unwrap().tag(), Some("a1"));
    assert_eq!(ack.headers.call_id().unwrap(), "call-1@198.51.100.7");
    assert_eq!(ack.headers.routes(&HeaderName::Route).unwrap().len(), 2);
    assert_eq!(ack.headers.max_forwards().unwrap(), Some(70));
    assert!(ack.body.is_empty());

    // The 486 is retransmitted (our ACK was lost): absorbed, ACK re-sent, nothing retransmitted.
    assert_eq!(txs.on_response(&busy, secs(2)), None);
    assert_eq!(transmits(&mut txs), sent);
    // No Timer A in Completed; Timer D (32 s) ends it.
    assert_eq!(txs.poll_timeout(), Some(ms(32_100)));
    let (later, happened) = run_until(&mut txs, secs(60));
    assert!(later.is_empty());
    assert_eq!(
        happened,
        vec![(ms(32_100), TxEvent::ClientTerminated { id })]
    );
    assert!(txs.is_empty());
    // After termination the retransmission matches nothing.
    assert_eq!(txs.on_response(&busy, secs(61)), None);
    assert!(transmits(&mut txs).is_empty());
}

#[test]
fn invite_client_tcp_acks_final_response_and_terminates_at_once() {
    let mut txs = new_tx();
    let req = invite("z9hG4bK-c5", Transport::Tcp);
    let id = txs.send(req.clone(), tcp(), Time::ZERO);
    transmits(&mut txs);
    assert_eq!(txs.on_response(&response(&req, 603), ms(100)), Some(id));
    let sent = transmits(&mut txs);
    assert_eq!(sent.len(), 1);
    assert_eq!(parse_request(&sent[0].bytes).method, Method::Ack);
    assert_eq!(events(&mut txs), vec![TxEvent::ClientTerminated { id }]);
    assert!(txs.is_empty());
}

#[test]
fn invite_client_timer_d_covers_64_t1_with_a_large_t1() {
    let cfg = TimerConfig {
        t1: Duration::from_secs(1),
        ..TimerConfig::default()
    };
    let mut txs = Transactions::new(cfg);
    let req = invite("z9hG4bK-c6", Transport::Udp);
    txs.send(req.clone(), udp(), Time::ZERO);
    txs.on_response(&response(&req, 500), Time::ZERO);
    assert_eq!(txs.poll_timeout(), Some(secs(64)));
}

#[test]
fn invite_client_2xx_goes_to_tu_every_time_until_timer_m() {
    for (transport, f) in [(Transport::Udp, udp()), (Transport::Tcp, tcp())] {
        let mut txs = new_tx();
        let req = invite("z9hG4bK-c7", transport);
        let id = txs.send(req.clone(), f, Time::ZERO);
        transmits(&mut txs);
        let ok = response(&req, 200);
        assert_eq!(txs.on_response(&ok, secs(1)), Some(id));
        // No ACK from the transaction for a 2xx: that is the UAC's, end to end.
        assert!(transmits(&mut txs).is_empty());
        assert_eq!(txs.on_response(&ok, secs(2)), Some(id));
        assert_eq!(txs.on_response(&ok, secs(3)), Some(id));
        // Anything but a 2xx is absorbed in Accepted.
        assert_eq!(txs.on_response(&response(&req, 486), secs(4)), None);
        assert_eq!(txs.on_response(&response(&req, 180), secs(4)), None);
        assert!(transmits(&mut txs).is_empty());
        // Timer M = 64*T1 after the first 2xx.
        assert_eq!(txs.poll_timeout(), Some(secs(33)));
        let (sent, happened) = run_until(&mut txs, secs(60));
        assert!(sent.is_empty());
        assert_eq!(happened, vec![(secs(33), TxEvent::ClientTerminated { id })]);
        assert!(txs.is_empty());
    }
}

#[test]
fn invite_client_2xx_after_provisional() {
    let mut txs = new_tx();
    let req = invite("z9hG4bK-c8", Transport::Udp);
    let id = txs.send(req.clone(), udp(), Time::ZERO);
    assert_eq!(txs.on_response(&response(&req, 180), ms(100)), Some(id));
    assert_eq!(txs.on_response(&response(&req, 200), secs(10)), Some(id));
    let (_, happened) = run_until(&mut txs, secs(60));
    assert_eq!(happened, vec![(secs(42), TxEvent::ClientTerminated { id })]);
}

// --- non-INVITE client -----------------------------------------------------------------------

#[test]
fn non_invite_client_udp_timer_e_caps_at_t2_and_timer_f_reports_408() {
    let mut txs = new_tx();
    let id = txs.send(
        request("OPTIONS", "z9hG4bK-n1", Transport::Udp, ""),
        udp(),
        Time::ZERO,
    );
    assert_eq!(transmits(&mut txs).len(), 1);
    let (sent, happened) = run_until(&mut txs, secs(40));
    let mut expected = vec![ms(500), ms(1500), ms(3500), ms(7500)];
    expected.extend((0..6).map(|i| ms(11_500 + i * 4000)));
    assert_eq!(times(&sent), expected);
    assert_eq!(
        happened,
        vec![
            (secs(32), TxEvent::ClientFailed { id, status: 408 }),
            (secs(32), TxEvent::ClientTerminated { id }),
        ]
    );
    assert!(txs.is_empty());
}

#[test]
fn non_invite_client_tcp_never_retransmits_and_times_out_at_32s() {
    let mut txs = new_tx();
    let id = txs.send(
        request("REGISTER", "z9hG4bK-n2", Transport::Tcp, ""),
        tcp(),
        Time::ZERO,
    );
    transmits(&mut txs);
    let (sent, happened) = run_until(&mut txs, secs(40));
    assert!(sent.is_empty());
    assert_eq!(
        happened,
        vec![
            (secs(32), TxEvent::ClientFailed { id, status: 408 }),
            (secs(32), TxEvent::ClientTerminated { id }),
        ]
    );
}

#[test]
fn non_invite_client_proceeding_retransmits_every_t2_then_completes_with_timer_k() {
    let mut txs = new_tx();
    let req = request("BYE", "z9hG4bK-n3", Transport::Udp, "");
    let id = txs.send(req.clone(), udp(), Time::ZERO);
    transmits(&mut txs);
    let (sent, _) = run_until(&mut txs, ms(600));
    assert_eq!(times(&sent), vec![ms(500)]);
    // A provisional in Trying: Proceeding. E (armed for 1.5 s) then re-arms with T2 each time.
    assert_eq!(txs.on_response(&response(&req, 100), ms(700)), Some(id));
    let (sent, happened) = run_until(&mut txs, ms(10_000));
    assert_eq!(times(&sent), vec![ms(1500), ms(5500), ms(9500)]);
    assert!(happened.is_empty());
    // The final response: to the TU once, retransmissions absorbed, Timer K = T4.
    let ok = response(&req, 200);
    assert_eq!(txs.on_response(&ok, secs(10)), Some(id));
    assert_eq!(txs.on_response(&ok, secs(11)), None);
    assert_eq!(txs.on_response(&response(&req, 500), secs(11)), None);
    assert!(transmits(&mut txs).is_empty());
    let (sent, happened) = run_until(&mut txs, secs(60));
    assert!(sent.is_empty());
    assert_eq!(happened, vec![(secs(15), TxEvent::ClientTerminated { id })]);
    assert!(txs.is_empty());
}

#[test]
fn non_invite_client_tcp_final_response_terminates_at_once() {
    let mut txs = new_tx();
    let req = request("MESSAGE", "z9hG4bK-n4", Transport::Tcp, "");
    let id = txs.send(req.clone(), tcp(), Time::ZERO);
    assert_eq!(txs.on_response(&response(&req, 202), secs(1)), Some(id));
    transmits(&mut txs);
    assert_eq!(events(&mut txs), vec![TxEvent::ClientTerminated { id }]);
    assert!(txs.is_empty());
    assert_eq!(txs.poll_timeout(), None);
}

#[test]
fn response_matching_uses_branch_and_cseq_method() {
    let mut txs = new_tx();
    let inv = invite("z9hG4bK-m1", Transport::Udp);
    let inv_id = txs.send(inv.clone(), udp(), Time::ZERO);
    let cancel = build_cancel(&inv);
    let cancel_id = txs.send(cancel.clone(), udp(), ms(100));
    assert_ne!(inv_id, cancel_id);
    // The 200 to the CANCEL shares the INVITE's branch but not its CSeq method.
    assert_eq!(
        txs.on_response(&response(&cancel, 200), ms(200)),
        Some(cancel_id)
    );
    assert_eq!(txs.on_response(&response(&inv, 487), ms(300)), Some(inv_id));
    // Unknown branch: nothing matches.
    let stray = response(&invite("z9hG4bK-other", Transport::Udp), 200);
    assert_eq!(txs.on_response(&stray, ms(400)), None);
    // Out-of-range status codes are not for anyone.
    let mut weird = response(&inv, 200);
    weird.status = 700;
    assert_eq!(txs.on_response(&weird, ms(500)), None);
}

#[test]
fn sending_an_ack_is_not_a_transaction() {
    let mut txs = new_tx();
    let req = invite("z9hG4bK-a1", Transport::Udp);
    let ack = ack_for(&req, &response(&req, 200));
    let id = txs.send(ack, udp(), Time::ZERO);
    assert_eq!(transmits(&mut txs).len(), 1);
    assert_eq!(events(&mut txs), vec![TxEvent::ClientTerminated { id }]);
    assert!(txs.is_empty());
    assert_eq!(txs.poll_timeout(), None);
}

// --- INVITE server ---------------------------------------------------------------------------

#[test]
fn invite_server_sends_100_trying_and_repeats_it_for_retransmissions() {
    let mut txs = new_tx();
    let req = request("INVITE", "z9hG4bK-s1", Transport::Udp, "Timestamp: 54\r\n");
    let id = new_server(&mut txs, &req, udp(), Time::ZERO);
    assert_eq!(txs.server_request(id), Some(&req));
    assert_eq!(txs.server_flow(id), Some(udp()));
    let sent = transmits(&mut txs);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].flow, udp());
    let trying = parse_response(&sent[0].bytes);
    assert_eq!(trying.status, 100);
    assert_eq!(trying.headers.get(&HeaderName::Timestamp), Some("54"));
    assert_eq!(trying.headers.cseq().unwrap().method, Method::Invite);

    assert_eq!(txs.on_request(&req, udp(), ms(500)), Incoming::Absorbed);
    assert_eq!(transmits(&mut txs), sent);
    assert_eq!(txs.len(), 1);
    // No timers in Proceeding.
    assert_eq!(txs.poll_timeout(), None);
}

#[test]
fn invite_server_trying_is_skipped_when_the_tu_answers_first() {
    let mut txs = new_tx();
    let req = invite("z9hG4bK-s2", Transport::Udp);
    let id = new_server(&mut txs, &req, udp(), Time::ZERO);
    txs.respond(id, response(&req, 180), Time::ZERO).unwrap();
    let sent = transmits(&mut txs);
    assert_eq!(sent.len(), 1);
    assert_eq!(parse_response(&sent[0].bytes).status, 180);
    // The latest provisional is what a retransmitted INVITE gets.
    txs.on_request(&req, udp(), ms(500));
    assert_eq!(transmits(&mut txs), sent);
}

#[test]
fn invite_server_udp_timer_g_caps_at_t2_and_timer_h_reports_missing_ack() {
    let mut txs = new_tx();
    let req = invite("z9hG4bK-s3", Transport::Udp);
    let id = new_server(&mut txs, &req, udp(), Time::ZERO);
    transmits(&mut txs);
    txs.respond(id, response(&req, 486), secs(1)).unwrap();
    let first = transmits(&mut txs);
    assert_eq!(first.len(), 1);
    assert_eq!(parse_response(&first[0].bytes).status, 486);

    let (sent, happened) = run_until(&mut txs, secs(60));
    // G: 1 + 0.5, +1, +2, then every T2 = 4 s; H at 1 + 32 s.
    let mut expected = vec![ms(1500), ms(2500), ms(4500)];
    expected.extend((0..7).map(|i| ms(8500 + i * 4000)));
    assert_eq!(times(&sent), expected);
    assert!(sent.iter().all(|(_, t)| t == &first[0]));
    assert_eq!(
        happened,
        vec![
            (secs(33), TxEvent::ServerAckTimeout { id }),
            (secs(33), TxEvent::ServerTerminated { id }),
        ]
    );
    assert!(txs.is_empty());
    assert_eq!(
        txs.respond(id, response(&req, 486), secs(61)),
        Err(TxError::Gone)
    );
}

#[test]
fn invite_server_tcp_has_no_timer_g_but_timer_h() {
    let mut txs = new_tx();
    let req = invite("z9hG4bK-s4", Transport::Tcp);
    let id = new_server(&mut txs, &req, tcp(), Time::ZERO);
    txs.respond(id, response(&req, 404), Time::ZERO).unwrap();
    assert_eq!(transmits(&mut txs).len(), 1);
    let (sent, happened) = run_until(&mut txs, secs(60));
    assert!(sent.is_empty());
    assert_eq!(
        happened,
        vec![
            (secs(32), TxEvent::ServerAckTimeout { id }),
            (secs(32), TxEvent::ServerTerminated { id }),
        ]
    );
}

#[test]
fn invite_server_absorbs_ack_then_timer_i() {
    let mut txs = new_tx();
    let req = invite("z9hG4bK-s5", Transport::Udp);
    let id = new_server(&mut txs, &req, udp(), Time::ZERO);
    transmits(&mut txs);
    let busy = response(&req, 486);
    txs.respond(id, busy.clone(), Time::ZERO).unwrap();
    let final_sent = transmits(&mut txs);
    // The INVITE retransmitted in Completed: the final response again.
    assert_eq!(txs.on_request(&req, udp(), ms(100)), Incoming::Absorbed);
    assert_eq!(transmits(&mut txs), final_sent);
    assert_eq!(
        txs.respond(id, response(&req, 500), ms(100)),
        Err(TxError::AlreadyCompleted)
    );

    let ack = ack_for(&req, &busy);
    assert_eq!(txs.on_request(&ack, udp(), ms(200)), Incoming::Absorbed);
    // Confirmed: no more G, ACK and INVITE retransmissions absorbed silently, I = T4.
    assert_eq!(txs.on_request(&ack, udp(), ms(300)), Incoming::Absorbed);
    assert_eq!(txs.on_request(&req, udp(), ms(300)), Incoming::Absorbed);
    assert_eq!(txs.poll_timeout(), Some(ms(5200)));
    let (sent, happened) = run_until(&mut txs, secs(60));
    assert!(sent.is_empty());
    assert!(transmits(&mut txs).is_empty());
    assert_eq!(happened, vec![(ms(5200), TxEvent::ServerTerminated { id })]);
    assert!(txs.is_empty());
}

#[test]
fn invite_server_tcp_ack_terminates_at_once() {
    let mut txs = new_tx();
    let req = invite("z9hG4bK-s6", Transport::Tcp);
    let id = new_server(&mut txs, &req, tcp(), Time::ZERO);
    let busy = response(&req, 486);
    txs.respond(id, busy.clone(), Time::ZERO).unwrap();
    events(&mut txs);
    assert_eq!(
        txs.on_request(&ack_for(&req, &busy), tcp(), ms(50)),
        Incoming::Absorbed
    );
    assert_eq!(events(&mut txs), vec![TxEvent::ServerTerminated { id }]);
    assert!(txs.is_empty());
}

#[test]
fn invite_server_2xx_enters_accepted_until_timer_l() {
    let mut txs = new_tx();
    let req = invite("z9hG4bK-s7", Transport::Udp);
    let id = new_server(&mut txs, &req, udp(), Time::ZERO);
    transmits(&mut txs);
    let ok = response(&req, 200);
    txs.respond(id, ok.clone(), secs(1)).unwrap();
    assert_eq!(transmits(&mut txs).len(), 1);
    // Retransmitted INVITE: absorbed, and the 2xx is not the transaction's to repeat.
    assert_eq!(txs.on_request(&req, udp(), secs(2)), Incoming::Absorbed);
    assert!(transmits(&mut txs).is_empty());
    // The ACK for the 2xx has its own branch: it matches nothing and goes to the TU.
    let mut ack = ack_for(&req, &ok);
    ack.headers.set(
        HeaderName::Via,
        "SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bK-ack",
    );
    assert_eq!(txs.on_request(&ack, udp(), secs(2)), Incoming::Ack);
    // Even one reusing the INVITE's branch goes to the TU in Accepted.
    assert_eq!(
        txs.on_request(&ack_for(&req, &ok), udp(), secs(2)),
        Incoming::Ack
    );
    // The TU forwards a retransmitted 2xx: it passes through; anything else is refused.
    txs.respond(id, ok.clone(), secs(3)).unwrap();
    assert_eq!(transmits(&mut txs).len(), 1);
    assert_eq!(
        txs.respond(id, response(&req, 486), secs(3)),
        Err(TxError::AlreadyCompleted)
    );
    assert_eq!(
        txs.respond(id, response(&req, 180), secs(3)),
        Err(TxError::AlreadyCompleted)
    );
    assert!(transmits(&mut txs).is_empty());
    // Timer L = 64*T1 after the first 2xx.
    let (sent, happened) = run_until(&mut txs, secs(60));
    assert!(sent.is_empty());
    assert_eq!(happened, vec![(secs(33), TxEvent::ServerTerminated { id })]);
    assert_eq!(txs.respond(id, ok, secs(61)), Err(TxError::Gone));
    assert!(txs.is_empty());
}

#[test]
fn invite_server_rejects_invalid_status() {
    let mut txs = new_tx();
    let req = invite("z9hG4bK-s8", Transport::Udp);
    let id = new_server(&mut txs, &req, udp(), Time::ZERO);
    let mut resp = response(&req, 200);
    resp.status = 99;
    assert_eq!(
        txs.respond(id, resp, Time::ZERO),
        Err(TxError::InvalidStatus(99))
    );
}

#[test]
fn ack_matching_nothing_goes_to_the_tu() {
    let mut txs = new_tx();
    let req = invite("z9hG4bK-s9", Transport::Udp);
    let ack = ack_for(&req, &response(&req, 200));
    assert_eq!(txs.on_request(&ack, udp(), Time::ZERO), Incoming::Ack);
    assert!(txs.is_empty());
    assert!(transmits(&mut txs).is_empty());
}

// --- non-INVITE server -----------------------------------------------------------------------

#[test]
fn non_invite_server_udp_resends_last_response_and_timer_j() {
    let mut txs = new_tx();
    let req = request("OPTIONS", "z9hG4bK-t1", Transport::Udp, "");
    let id = new_server(&mut txs, &req, udp(), Time::ZERO);
    // No 100 Trying on its own, and retransmissions in Trying are absorbed silently.
    assert!(transmits(&mut txs).is_empty());
    assert_eq!(txs.on_request(&req, udp(), ms(500)), Incoming::Absorbed);
    assert!(transmits(&mut txs).is_empty());

    txs.respond(id, response(&req, 100), ms(600)).unwrap();
    let trying = transmits(&mut txs);
    assert_eq!(trying.len(), 1);
    assert_eq!(txs.on_request(&req, udp(), ms(1500)), Incoming::Absorbed);
    assert_eq!(transmits(&mut txs), trying);

    txs.respond(id, response(&req, 200), secs(2)).unwrap();
    let ok = transmits(&mut txs);
    assert_eq!(parse_response(&ok[0].bytes).status, 200);
    assert_eq!(txs.on_request(&req, udp(), ms(3500)), Incoming::Absorbed);
    assert_eq!(transmits(&mut txs), ok);
    assert_eq!(
        txs.respond(id, response(&req, 500), secs(4)),
        Err(TxError::AlreadyCompleted)
    );

    let (sent, happened) = run_until(&mut txs, secs(60));
    assert!(sent.is_empty());
    assert_eq!(happened, vec![(secs(34), TxEvent::ServerTerminated { id })]);
    assert!(txs.is_empty());
    // After Timer J the same request is new again.
    assert!(matches!(
        txs.on_request(&req, udp(), secs(61)),
        Incoming::New(_)
    ));
}

#[test]
fn non_invite_server_tcp_final_response_terminates_at_once() {
    let mut txs = new_tx();
    let req = request("REGISTER", "z9hG4bK-t2", Transport::Tcp, "");
    let id = new_server(&mut txs, &req, tcp(), Time::ZERO);
    txs.respond(id, response(&req, 200), Time::ZERO).unwrap();
    assert_eq!(transmits(&mut txs).len(), 1);
    assert_eq!(events(&mut txs), vec![TxEvent::ServerTerminated { id }]);
    assert!(txs.is_empty());
}

// --- CANCEL ----------------------------------------------------------------------------------

#[test]
fn cancel_matches_its_invite() {
    let mut txs = new_tx();
    let inv = invite("z9hG4bK-x1", Transport::Udp);
    let inv_id = new_server(&mut txs, &inv, udp(), Time::ZERO);
    let cancel = request("CANCEL", "z9hG4bK-x1", Transport::Udp, "");
    let Incoming::Cancel {
        cancel: cancel_id,
        invite,
    } = txs.on_request(&cancel, udp(), ms(100))
    else {
        panic!("not a CANCEL");
    };
    assert_eq!(invite, Some(inv_id));
    assert_ne!(cancel_id, inv_id);
    // The CANCEL is its own transaction: its retransmission is absorbed and gets its response.
    txs.respond(cancel_id, response(&cancel, 200), ms(100))
        .unwrap();
    transmits(&mut txs);
    assert_eq!(txs.on_request(&cancel, udp(), ms(600)), Incoming::Absorbed);
    let again = transmits(&mut txs);
    assert_eq!(again.len(), 1);
    assert_eq!(
        parse_response(&again[0].bytes)
            .headers
            .cseq()
            .unwrap()
            .method,
        Method::Cancel
    );
    // A CANCEL for another branch matches no INVITE (the TU answers 481).
    let other = request("CANCEL", "z9hG4bK-x2", Transport::Udp, "");
    assert!(matches!(
        txs.on_request(&other, udp(), ms(700)),
        Incoming::Cancel { invite: None, .. }
    ));
}

#[test]
fn build_cancel_follows_rfc3261_9_1() {
    let inv = request(
        "INVITE",
        "z9hG4bK-b1",
        Transport::Udp,
        "Contact: <sip:alice@192.0.2.9>\r\n",
    );
    let cancel = parse_request(&build_cancel(&inv).to_bytes());
    assert_eq!(cancel.method, Method::Cancel);
    assert_eq!(cancel.uri, inv.uri);
    assert_eq!(
        cancel.headers.vias().unwrap(),
        vec![inv.headers.top_via().unwrap()]
    );
    assert_eq!(
        cancel.headers.routes(&HeaderName::Route),
        inv.headers.routes(&HeaderName::Route)
    );
    assert_eq!(cancel.headers.from(), inv.headers.from());
    assert_eq!(cancel.headers.to(), inv.headers.to());
    assert_eq!(cancel.headers.call_id(), inv.headers.call_id());
    assert_eq!(cancel.headers.cseq().unwrap().seq, 7);
    assert_eq!(cancel.headers.cseq().unwrap().method, Method::Cancel);
    assert_eq!(cancel.headers.max_forwards().unwrap(), Some(70));
    assert!(!cancel.headers.contains(&HeaderName::Contact));
    assert!(cancel.body.is_empty());
}

// --- RFC 2543 fallback -----------------------------------------------------------------------

#[test]
fn rfc2543_requests_match_without_the_magic_cookie() {
    let mut txs = new_tx();
    let inv = invite("old-1", Transport::Udp);
    let id = new_server(&mut txs, &inv, udp(), Time::ZERO);
    transmits(&mut txs);
    assert_eq!(txs.on_request(&inv, udp(), ms(500)), Incoming::Absorbed);
    assert_eq!(transmits(&mut txs).len(), 1, "the 100 Trying again");
    // A different CSeq is a different request.
    let mut next = inv.clone();
    next.headers.set(HeaderName::CSeq, "8 INVITE");
    assert!(matches!(
        txs.on_request(&next, udp(), ms(500)),
        Incoming::New(_)
    ));
    // CANCEL finds its INVITE by the same fields.
    let cancel = request("CANCEL", "old-1", Transport::Udp, "");
    assert!(matches!(
        txs.on_request(&cancel, udp(), ms(600)),
        Incoming::Cancel { invite: Some(i), .. } if i == id
    ));
    // The ACK carries our response's To tag, which the INVITE lacked: it still matches.
    let busy = response(&inv, 486);
    txs.respond(id, busy.clone(), secs(1)).unwrap();
    let ack = ack_for(&inv, &busy);
    assert_eq!(txs.on_request(&ack, udp(), secs(2)), Incoming::Absorbed);
    assert_eq!(
        txs.poll_timeout(),
        Some(secs(7)),
        "Timer I runs: the ACK confirmed the 486"
    );
}

#[test]
fn rfc2543_request_without_branch() {
    let mut txs = new_tx();
    let mut req = request("OPTIONS", "x", Transport::Udp, "");
    req.headers
        .set(HeaderName::Via, "SIP/2.0/UDP 198.51.100.7:5060");
    let id = new_server(&mut txs, &req, udp(), Time::ZERO);
    txs.respond(id, response(&req, 200), Time::ZERO).unwrap();
    transmits(&mut txs);
    assert_eq!(txs.on_request(&req, udp(), ms(500)), Incoming::Absorbed);
    assert_eq!(transmits(&mut txs).len(), 1);
}

#[test]
fn same_branch_from_another_sent_by_is_another_transaction() {
    let mut txs = new_tx();
    let a = invite("z9hG4bK-y1", Transport::Udp);
    let mut b = a.clone();
    b.headers.set(
        HeaderName::Via,
        "SIP/2.0/UDP 203.0.113.5:5060;branch=z9hG4bK-y1",
    );
    let ia = new_server(&mut txs, &a, udp(), Time::ZERO);
    let ib = new_server(&mut txs, &b, udp(), Time::ZERO);
    assert_ne!(ia, ib);
}

#[test]
fn malformed_request_is_absorbed() {
    let mut txs = new_tx();
    let mut req = invite("z9hG4bK-z1", Transport::Udp);
    req.headers.remove_all(&HeaderName::Via);
    assert_eq!(txs.on_request(&req, udp(), Time::ZERO), Incoming::Absorbed);
    assert!(txs.is_empty());
}

// --- transport errors ------------------------------------------------------------------------

#[test]
fn transport_error_fails_pending_client_transactions_with_503_and_drops_server_ones() {
    let mut txs = new_tx();
    let other = Flow {
        remote: "203.0.113.9:5060".parse().unwrap(),
        ..tcp()
    };
    let inv = invite("z9hG4bK-e1", Transport::Tcp);
    let pending = txs.send(inv, tcp(), Time::ZERO);
    let reg = request("REGISTER", "z9hG4bK-e2", Transport::Tcp, "");
    let answered = txs.send(reg.clone(), tcp(), Time::ZERO);
    let inv2 = invite("z9hG4bK-e3", Transport::Tcp);
    let ok = txs.send(inv2.clone(), tcp(), Time::ZERO);
    assert_eq!(txs.on_response(&response(&inv2, 200), ms(10)), Some(ok));
    let elsewhere = txs.send(invite("z9hG4bK-e4", Transport::Tcp), other, Time::ZERO);
    let server = new_server(
        &mut txs,
        &invite("z9hG4bK-e5", Transport::Tcp),
        tcp(),
        Time::ZERO,
    );
    assert_eq!(
        txs.on_response(&response(&reg, 100), ms(10)),
        Some(answered)
    );
    events(&mut txs);

    txs.on_transport_error(tcp(), ms(20));
    assert_eq!(
        events(&mut txs),
        vec![
            TxEvent::ClientFailed {
                id: pending,
                status: 503
            },
            TxEvent::ClientTerminated { id: pending },
            TxEvent::ClientFailed {
                id: answered,
                status: 503
            },
            TxEvent::ClientTerminated { id: answered },
            TxEvent::ClientTerminated { id: ok },
            TxEvent::ServerTerminated { id: server },
        ]
    );
    assert_eq!(txs.len(), 1);
    assert_eq!(txs.client_flow(elsewhere), Some(other));
    txs.terminate_client(elsewhere);
    assert!(txs.is_empty());
    assert_eq!(txs.poll_timeout(), None);
}

// --- the table as a whole --------------------------------------------------------------------

#[test]
fn table_empties_after_all_timers() {
    let mut txs = new_tx();
    for i in 0..20u64 {
        let f = if i % 2 == 0 { udp() } else { tcp() };
        let transport = f.transport;
        let inv = invite(&format!("z9hG4bK-l{i}"), transport);
        let now = ms(i * 100);
        let c = txs.send(inv.clone(), f, now);
        match i % 4 {
            0 => {}
            1 => assert_eq!(txs.on_response(&response(&inv, 486), now), Some(c)),
            2 => assert_eq!(txs.on_response(&response(&inv, 200), now), Some(c)),
            _ => assert_eq!(txs.on_response(&response(&inv, 503), now), Some(c)),
        }
        let req = request("OPTIONS", &format!("z9hG4bK-r{i}"), transport, "");
        let s = new_server(&mut txs, &req, f, now);
        if i % 3 != 0 {
            txs.respond(s, response(&req, 200), now).unwrap();
        } else {
            txs.respond(s, response(&req, 100), now).unwrap();
            txs.respond(s, response(&req, 404), now).unwrap();
        }
        let sinv = invite(&format!("z9hG4bK-si{i}"), transport);
        let si = new_server(&mut txs, &sinv, f, now);
        txs.respond(si, response(&sinv, if i % 2 == 0 { 200 } else { 480 }), now)
            .unwrap();
    }
    assert!(!txs.is_empty());
    let mut next = txs.poll_timeout();
    let mut steps = 0;
    while let Some(at) = next {
        txs.on_timeout(at);
        transmits(&mut txs);
        events(&mut txs);
        next = txs.poll_timeout();
        steps += 1;
        assert!(steps < 10_000, "timers must run out");
    }
    assert!(txs.is_empty());
}

#[test]
fn late_on_timeout_fires_once_without_bursts() {
    let mut txs = new_tx();
    txs.send(invite("z9hG4bK-late", Transport::Udp), udp(), Time::ZERO);
    transmits(&mut txs);
    // The shell oversleeps to 10 s: one retransmission, re-armed from now.
    txs.on_timeout(secs(10));
    assert_eq!(transmits(&mut txs).len(), 1);
    assert_eq!(txs.poll_timeout(), Some(ms(11_000)));
}

/// A transaction lingering for an absorb timer (J, G/H, I, L, D, M, K) keeps only what that
/// state needs: the parsed request is dropped at the final response, and what is kept is the
/// bytes that will be re-sent, if any. It still absorbs and re-sends as before.
#[test]
fn completed_transactions_keep_only_what_absorbing_needs() {
    // Server non-INVITE, Completed (Timer J): the final response's bytes.
    let mut txs = new_tx();
    let bye = request("BYE", "z9hG4bK-m1", Transport::Udp, "");
    let s = new_server(&mut txs, &bye, udp(), Time::ZERO);
    assert_eq!(txs.held_bytes(), bye.to_bytes().len());
    txs.respond(s, response(&bye, 200), ms(10)).unwrap();
    let ok = transmits(&mut txs);
    assert_eq!(txs.held_bytes(), ok[0].bytes.len());
    assert_eq!(txs.server_request(s), None);
    assert_eq!(txs.on_request(&bye, udp(), secs(1)), Incoming::Absorbed);
    assert_eq!(transmits(&mut txs), ok);

    // Server INVITE, Completed (G/H): the response bytes; Confirmed (Timer I): nothing.
    let mut txs = new_tx();
    let inv = invite("z9hG4bK-m2", Transport::Udp);
    let s = new_server(&mut txs, &inv, udp(), Time::ZERO);
    let trying = transmits(&mut txs);
    assert_eq!(
        txs.held_bytes(),
        inv.to_bytes().len() + trying[0].bytes.len()
    );
    let busy = response(&inv, 486);
    txs.respond(s, busy.clone(), ms(10)).unwrap();
    let sent = transmits(&mut txs);
    assert_eq!(txs.held_bytes(), sent[0].bytes.len());
    assert_eq!(txs.server_request(s), None);
    let (g, _) = run_until(&mut txs, ms(600));
    assert_eq!(g.len(), 1);
    assert_eq!(g[0].1, sent[0]);
    let ack = ack_for(&inv, &busy);
    assert_eq!(txs.on_request(&ack, udp(), secs(1)), Incoming::Absorbed);
    assert_eq!(txs.held_bytes(), 0);
    assert_eq!(txs.len(), 1);
    assert_eq!(txs.on_request(&inv, udp(), secs(2)), Incoming::Absorbed);
    assert_eq!(txs.on_request(&ack, udp(), secs(2)), Incoming::Absorbed);
    assert!(transmits(&mut txs).is_empty());

    // Server INVITE, Accepted (Timer L): nothing, and the TU's further 2xx still go out.
    let mut txs = new_tx();
    let s = new_server(&mut txs, &inv, udp(), Time::ZERO);
    transmits(&mut txs);
    let ok = response(&inv, 200);
    txs.respond(s, ok.clone(), ms(10)).unwrap();
    transmits(&mut txs);
    assert_eq!(txs.held_bytes(), 0);
    assert_eq!(txs.on_request(&inv, udp(), secs(1)), Incoming::Absorbed);
    assert!(transmits(&mut txs).is_empty());
    txs.respond(s, ok.clone(), secs(2)).unwrap();
    assert_eq!(
        transmits(&mut txs),
        vec![Transmit {
            flow: udp(),
            bytes: ok.to_bytes()
        }]
    );

    // Client INVITE, Completed (Timer D): the ACK bytes, re-sent for each retransmitted final.
    let mut txs = new_tx();
    let c = txs.send(inv.clone(), udp(), Time::ZERO);
    transmits(&mut txs);
    assert_eq!(txs.held_bytes(), inv.to_bytes().len());
    assert_eq!(txs.on_response(&busy, ms(100)), Some(c));
    let ack = transmits(&mut txs);
    assert_eq!(txs.held_bytes(), ack[0].bytes.len());
    assert_eq!(txs.client_request(c), None);
    assert_eq!(txs.on_response(&busy, secs(1)), None);
    assert_eq!(transmits(&mut txs), ack);

    // Client INVITE, Accepted (Timer M), and client non-INVITE, Completed (Timer K): nothing.
    let mut txs = new_tx();
    let c = txs.send(inv.clone(), udp(), Time::ZERO);
    let b = txs.send(bye.clone(), udp(), Time::ZERO);
    transmits(&mut txs);
    assert_eq!(txs.on_response(&ok, ms(100)), Some(c));
    assert_eq!(txs.on_response(&response(&bye, 200), ms(100)), Some(b));
    assert_eq!(txs.held_bytes(), 0);
    assert_eq!(txs.len(), 2);
    assert_eq!(txs.on_response(&ok, secs(1)), Some(c));
    assert_eq!(txs.on_response(&response(&bye, 200), secs(1)), None);
}
