//! Percent-encoding, one way for every place that writes a URL or a purl:
//! the unreserved characters (`A-Z a-z 0-9 - . _ ~`) stay, plus what the
//! caller keeps; every other UTF-8 octet becomes `%XX`.

/// `text` percent-encoded, keeping the unreserved characters and `keep`.
pub fn encode(text: &str, keep: &[u8]) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) || keep.contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_unreserved_and_kept_bytes_stay() {
        assert_eq!(super::encode("a b/c:d+é", b""), "a%20b%2Fc%3Ad%2B%C3%A9");
        assert_eq!(super::encode("a b/c:d", b"/"), "a%20b/c%3Ad");
    }
}
