//! How much heap a completed transaction keeps while it waits out its absorb timer (J, K, L, M).
//!
//! At 1000 calls/s a stateful proxy holds ~64 000 such transactions (32 s of Timer L/M/J after
//! each INVITE and BYE), so their retained size is most of the daemon's memory. This test plays
//! 10 000 proxied calls through one table (server and client INVITE answered 200, server and
//! client BYE answered 200, all over UDP) and measures, with a counting global allocator, the
//! live heap the table keeps. It prints the numbers with `--nocapture` and fails if a call keeps
//! more than a budget.
//!
//! Only one test lives in this file: the allocator counts the whole process, so another test
//! running in parallel would blur the measure.

#![allow(clippy::unwrap_used, clippy::expect_used)]
// A global allocator is an `unsafe impl`; it only forwards to the system allocator.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Duration;

use sipwitch::core::flow::{Flow, Transport};
use sipwitch::core::msg::{HeaderName, Message, Request, Response, parse_message};
use sipwitch::core::time::Time;
use sipwitch::core::transaction::{Incoming, TimerConfig, Transactions};

/// Live bytes and live allocations, process-wide.
static BYTES: AtomicIsize = AtomicIsize::new(0);
static BLOCKS: AtomicIsize = AtomicIsize::new(0);

struct Counting;

// SAFETY: every call is forwarded unchanged to `System`; only counters are updated.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
            BLOCKS.fetch_add(1, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        BLOCKS.fetch_sub(1, Ordering::Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            BYTES.fetch_add(
                new_size as isize - layout.size() as isize,
                Ordering::Relaxed,
            );
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn live() -> (isize, isize) {
    (
        BYTES.load(Ordering::Relaxed),
        BLOCKS.load(Ordering::Relaxed),
    )
}

fn flow(remote: &str) -> Flow {
    Flow {
        transport: Transport::Udp,
        local: "192.0.2.1:5060".parse::<SocketAddr>().unwrap(),
        remote: remote.parse::<SocketAddr>().unwrap(),
    }
}

/// A SIPp-like request; `vias` are the Via values, top first.
fn request(method: &str, call: usize, vias: &[String], body: bool) -> Request {
    let sdp = "v=0\r\no=user1 53655765 2353687637 IN IP4 198.51.100.7\r\ns=-\r\n\
               c=IN IP4 198.51.100.7\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\n\
               a=rtpmap:0 PCMU/8000\r\n";
    let body = if body { sdp } else { "" };
    let via: String = vias.iter().map(|v| format!("Via: {v}\r\n")).collect();
    let cseq = if method == "BYE" { 2 } else { 1 };
    let text = format!(
        "{method} sip:service@192.0.2.1:5060 SIP/2.0\r\n\
         {via}\
         From: sipp <sip:sipp@198.51.100.7:5060>;tag={call}SIPpTag001\r\n\
         To: service <sip:service@192.0.2.1:5060>\r\n\
         Call-ID: {call}-4242@198.51.100.7\r\n\
         CSeq: {cseq} {method}\r\n\
         Contact: sip:sipp@198.51.100.7:5060\r\n\
         Max-Forwards: 70\r\n\
         Subject: Performance Test\r\n\
         Content-Type: application/sdp\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    match parse_message(text.as_bytes()).unwrap() {
        Message::Request(r) => r,
        Message::Response(_) => unreachable!(),
    }
}

fn ok(req: &Request) -> Response {
    let mut resp = Response::to_request(req, 200);
    let to = resp.headers.get(&HeaderName::To).unwrap().to_owned();
    resp.headers.set(HeaderName::To, format!("{to};tag=uas1"));
    resp
}

/// One proxied call: the four transactions, each answered 200 and left in its absorb state.
fn call(txs: &mut Transactions, i: usize, now: Time) {
    let uac = flow("198.51.100.7:5060");
    let uas = flow("203.0.113.9:5060");
    for method in ["INVITE", "BYE"] {
        let up = vec![format!(
            "SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bK-{i}-{method}-uac"
        )];
        let req = request(method, i, &up, method == "INVITE");
        let Incoming::New(sid) = txs.on_request(&req, uac, now) else {
            panic!("not new");
        };
        let mut down = vec![format!(
            "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-{i}-{method}-proxy"
        )];
        down.extend(up);
        let fwd = request(method, i, &down, method == "INVITE");
        let resp = ok(&fwd);
        txs.send(fwd, uas, now);
        txs.on_response(&resp, now).unwrap();
        txs.respond(sid, ok(&req), now).unwrap();
        while txs.poll_transmit().is_some() {}
        while txs.poll_event().is_some() {}
    }
}

#[test]
fn completed_transactions_keep_little() {
    const CALLS: usize = 10_000;
    let mut txs = Transactions::new(TimerConfig::default());
    let now = Time::ZERO + Duration::from_secs(1);
    // Warm up whatever is allocated once (lazy statics, first map allocation).
    call(&mut txs, usize::MAX, now);
    let (bytes0, blocks0) = live();
    for i in 0..CALLS {
        call(&mut txs, i, now);
    }
    let (bytes1, blocks1) = live();
    assert_eq!(txs.len(), 4 * (CALLS + 1));
    let per_call = (bytes1 - bytes0) as f64 / CALLS as f64;
    let blocks_per_call = (blocks1 - blocks0) as f64 / CALLS as f64;
    println!(
        "{CALLS} calls (4 completed transactions each): {per_call:.0} B and \
         {blocks_per_call:.1} allocations retained per call, {:.0} B per transaction \
         (requested sizes; malloc adds ~16 B per allocation)",
        per_call / 4.0
    );
    // Keeping the parsed requests made it ~9 000 B per call (63 allocations); the absorb
    // states keep only keys, deadlines and the bytes they re-send.
    assert!(per_call < 3000.0, "{per_call:.0} B retained per call");
    // Everything must go once the absorb timers have run.
    while let Some(at) = txs.poll_timeout() {
        txs.on_timeout(at);
        while txs.poll_transmit().is_some() {}
        while txs.poll_event().is_some() {}
    }
    assert!(txs.is_empty());
}
