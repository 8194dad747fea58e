use super::*;
use crate::core::flow::Transport;
use crate::core::zone::records;

const SECRET: &str = "c2lwd2l0Y2gtdGVzdC1zZWNyZXQtMzItYnl0ZXMhIQ==";

fn key() -> TsigKey {
    TsigKey::new("sipwitch-key.", SECRET).unwrap()
}

fn recs() -> Vec<Record> {
    records(
        "pub.test",
        &[(Transport::Udp, 5060), (Transport::Tcp, 5061)],
        &["192.0.2.7".parse().unwrap(), "2001:db8::7".parse().unwrap()],
    )
}

#[test]
fn base64_round_trips_known_values() {
    assert_eq!(base64_decode("").unwrap(), b"");
    assert_eq!(base64_decode("Zg==").unwrap(), b"f");
    assert_eq!(base64_decode("Zm8=").unwrap(), b"fo");
    assert_eq!(base64_decode("Zm9v").unwrap(), b"foo");
    assert_eq!(base64_decode("Zm9vYg").unwrap(), b"foob");
    assert_eq!(base64_decode("+/8=").unwrap(), [0xfb, 0xff]);
    assert!(base64_decode("Zm9v!").is_none());
    assert!(base64_decode("Z").is_none());
    assert!(base64_decode("Zh==").is_none(), "non-zero padding bits");
    assert!(valid_secret(SECRET));
    assert!(!valid_secret(""));
    assert!(TsigKey::new("k.", "not base64!").is_err());
}

#[test]
fn names_are_lowercase_wire_form_and_checked() {
    assert_eq!(wire_name("Pub.Test.").unwrap(), b"\x03pub\x04test\x00");
    assert_eq!(wire_name("pub.test").unwrap(), b"\x03pub\x04test\x00");
    assert_eq!(wire_name(".").unwrap(), b"\x00");
    assert!(wire_name("a..b").is_err());
    assert!(wire_name(&"a".repeat(64)).is_err());
    assert!(wire_name(&format!("{}.", ["abcdefghi"; 30].join("."))).is_err());
}

#[test]
fn update_has_zone_deletes_then_adds() {
    let m = update_message(0x1234, "Pub.Test.", &recs()).unwrap();
    assert_eq!(&m[..4], &[0x12, 0x34, 0x28, 0x00], "id, opcode UPDATE");
    assert_eq!(read16(&m, 4), Some(1), "one zone");
    assert_eq!(read16(&m, 6), Some(0), "no prerequisites");
    assert_eq!(
        read16(&m, 8),
        Some(5 + 6),
        "5 deletes, 2 NAPTR + 2 SRV + A + AAAA"
    );
    assert_eq!(read16(&m, 10), Some(0));
    assert_eq!(&m[12..22], b"\x03pub\x04test\x00");
    assert_eq!(read16(&m, 22), Some(TYPE_SOA));
    // The first update RR deletes the NAPTR RRset at the apex.
    let first = &m[26..];
    assert_eq!(&first[..10], b"\x03pub\x04test\x00");
    assert_eq!(
        &first[10..20],
        &[0, 35, 0, 255, 0, 0, 0, 0, 0, 0],
        "NAPTR, ANY, TTL 0, no rdata"
    );
    // The whole message parses as 1 question-like entry plus 11 RRs, nothing left over.
    assert!(find_tsig(&m).unwrap().is_none());
    // The SRV for UDP: 10 10 5060 sip.pub.test.
    let srv = [0, 10, 0, 10, 0x13, 0xc4, 3, b's', b'i', b'p'];
    assert!(m.windows(srv.len()).any(|w| w == srv));
    // The A record's rdata.
    assert!(m.windows(6).any(|w| w == [0, 4, 192, 0, 2, 7]));
}

#[test]
fn signed_update_carries_a_tsig_that_verifies() {
    let k = key();
    let s = signed_update(7, "pub.test", &recs(), &k, 1_700_000_000).unwrap();
    assert_eq!(read16(&s.wire, 10), Some(1), "ARCOUNT counts the TSIG");
    let t = find_tsig(&s.wire).unwrap().unwrap();
    assert_eq!(t.key_name, b"\x0csipwitch-key\x00");
    assert_eq!(t.algorithm, b"\x0bhmac-sha256\x00");
    assert_eq!(t.time, 1_700_000_000);
    assert_eq!(t.fudge, FUDGE);
    assert_eq!(t.original_id, 7);
    assert_eq!(t.mac.len(), 32);
    assert_eq!(t.mac, s.request_mac);
    // Recomputing over the unsigned message gives the same MAC; another secret does not.
    let unsigned = update_message(7, "pub.test", &recs()).unwrap();
    assert_eq!(
        compute_mac(&k, &[], &unsigned, t.time, t.fudge, 0).unwrap(),
        t.mac
    );
    let other = TsigKey::new("sipwitch-key.", "b3RoZXI=").unwrap();
    assert_ne!(
        compute_mac(&other, &[], &unsigned, t.time, t.fudge, 0).unwrap(),
        t.mac
    );
}

/// A NOERROR response to `sent`, signed by `key` the way a server does (chained to the
/// request MAC).
fn response(sent: &SignedUpdate, key: &TsigKey, rcode: u16) -> Vec<u8> {
    let mut r = update_message(sent.id, "pub.test", &[]).unwrap();
    r.truncate(12 + 14); // header + zone section
    r[2..4].copy_from_slice(&(0x8000 | (OPCODE_UPDATE << 11) | rcode).to_be_bytes());
    r[8..10].copy_from_slice(&[0, 0]);
    sign(r, key, 1_700_000_001, &sent.request_mac).unwrap().0
}

#[test]
fn a_signed_noerror_response_is_accepted() {
    let k = key();
    let s = signed_update(7, "pub.test", &recs(), &k, 1_700_000_000).unwrap();
    check_response(&response(&s, &k, 0), &s, &k).unwrap();
}

#[test]
fn responses_that_do_not_verify_are_refused() {
    let k = key();
    let s = signed_update(7, "pub.test", &recs(), &k, 1_700_000_000).unwrap();
    let other = TsigKey::new("sipwitch-key.", "b3RoZXI=").unwrap();
    assert_eq!(
        check_response(&response(&s, &other, 0), &s, &k),
        Err(UpdateError::BadResponseMac)
    );
    let mut tampered = response(&s, &k, 0);
    tampered[3] ^= 0x80; // a header flag bit outside the RCODE
    assert_eq!(
        check_response(&tampered, &s, &k),
        Err(UpdateError::BadResponseMac)
    );
    let mut unsigned = response(&s, &k, 0);
    unsigned.truncate(12 + 14);
    unsigned[10..12].copy_from_slice(&[0, 0]);
    assert_eq!(
        check_response(&unsigned, &s, &k),
        Err(UpdateError::Unsigned)
    );
    let mut wrong_id = response(&s, &k, 0);
    wrong_id[1] = 8;
    assert!(matches!(
        check_response(&wrong_id, &s, &k),
        Err(UpdateError::WrongId { got: 8, .. })
    ));
}

#[test]
fn refusals_report_rcode_and_tsig_error() {
    let k = key();
    let s = signed_update(7, "pub.test", &recs(), &k, 1_700_000_000).unwrap();
    let e = check_response(&response(&s, &k, 5), &s, &k).unwrap_err();
    assert_eq!(
        e,
        UpdateError::Refused(Rcode {
            rcode: 5,
            tsig_error: 0
        })
    );
    assert!(e.to_string().contains("REFUSED"), "{e}");
    let text = Rcode {
        rcode: 9,
        tsig_error: 16,
    }
    .to_string();
    assert!(
        text.contains("NOTAUTH") && text.contains("BADSIG"),
        "{text}"
    );
}

#[test]
fn garbage_responses_are_errors_not_panics() {
    let k = key();
    let s = signed_update(7, "pub.test", &recs(), &k, 1_700_000_000).unwrap();
    let good = response(&s, &k, 0);
    for cut in 0..good.len() {
        assert!(check_response(&good[..cut], &s, &k).is_err(), "cut {cut}");
    }
    let mut x: u32 = 1;
    for _ in 0..2000 {
        let mut m = good.clone();
        for _ in 0..3 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let i = (x as usize >> 8) % m.len();
            m[i] = (x >> 20) as u8;
        }
        let _ = check_response(&m, &s, &k);
    }
    assert!(find_tsig(&[0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0, 0, 0]).is_err());
}
