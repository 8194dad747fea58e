/// The reason phrase RFC 3261 §21 (and the RFCs that added codes) gives a status code;
/// a class-generic phrase for unknown codes.
pub fn reason_phrase(status: u16) -> &'static str {
    todo!("{status}")
}
