//! DSSE envelopes (<https://github.com/secure-systems-lab/dsse>) signed
//! with Ed25519, and the checks `attest verify` makes.

use super::keys;
use crate::errors::*;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

/// The payload type of an in-toto statement.
pub const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// A DSSE envelope.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Envelope {
    /// Base64 of the payload bytes.
    pub payload: String,
    /// What the payload is.
    pub payload_type: String,
    /// One or more signatures over the PAE of type and payload.
    pub signatures: Vec<EnvelopeSignature>,
}

/// One signature.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvelopeSignature {
    /// Hex sha256 of the signer's public key (SPKI DER); a hint, not trusted.
    #[serde(default)]
    pub keyid: String,
    /// Base64 of the Ed25519 signature.
    pub sig: String,
}

/// DSSE's pre-authentication encoding: what is actually signed.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!("DSSEv1 {} {payload_type} {} ", payload_type.len(), payload.len()).into_bytes();
    out.extend_from_slice(payload);
    out
}

/// Signs `payload` of `payload_type` with `key`.
pub fn sign(payload_type: &str, payload: &[u8], key: &SigningKey) -> Result<Envelope> {
    let signature = key.sign(&pae(payload_type, payload));
    Ok(Envelope {
        payload: BASE64.encode(payload),
        payload_type: payload_type.to_string(),
        signatures: vec![EnvelopeSignature {
            keyid: keys::key_id(&key.verifying_key())?,
            sig: BASE64.encode(signature.to_bytes()),
        }],
    })
}

/// Returns the payload when at least one signature verifies under `key`.
pub fn open(envelope: &Envelope, key: &VerifyingKey) -> Result<Vec<u8>> {
    let payload = BASE64.decode(&envelope.payload).context("the envelope's payload is not valid base64")?;
    ensure!(!envelope.signatures.is_empty(), "the envelope carries no signature");
    let message = pae(&envelope.payload_type, &payload);
    for signature in &envelope.signatures {
        let Ok(bytes) = BASE64.decode(&signature.sig) else { continue };
        let Ok(signature) = Signature::from_slice(&bytes) else { continue };
        // Strict: rejects small-order keys and non-canonical signatures.
        if key.verify_strict(&message, &signature).is_ok() {
            return Ok(payload);
        }
    }
    bail!(
        "no signature in the envelope verifies with key {}: the statement was altered or signed by another key",
        keys::key_id(key)?
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The identity point as a public key, and the identity as R with s = 0:
    /// a "signature" that the non-strict check accepts for every message.
    #[test]
    fn a_small_order_key_verifies_nothing() {
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let key = VerifyingKey::from_bytes(&identity).unwrap();
        let mut forged = [0u8; 64];
        forged[..32].copy_from_slice(&identity);
        let envelope = Envelope {
            payload: BASE64.encode(b"{}"),
            payload_type: IN_TOTO_PAYLOAD_TYPE.into(),
            signatures: vec![EnvelopeSignature { keyid: String::new(), sig: BASE64.encode(forged) }],
        };
        let message = pae(IN_TOTO_PAYLOAD_TYPE, b"{}");
        let signature = Signature::from_bytes(&forged);
        use ed25519_dalek::Verifier as _;
        assert!(key.verify(&message, &signature).is_ok(), "the weak check accepts it");
        assert!(open(&envelope, &key).is_err(), "the strict one does not");
    }

    #[test]
    fn pae_matches_the_spec_example() {
        // The example from the DSSE protocol document.
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
        );
    }

    #[test]
    fn signed_envelopes_open_and_any_flipped_byte_fails() {
        let key = SigningKey::from_bytes(&[7u8; 32]);
        let other = SigningKey::from_bytes(&[8u8; 32]);
        let envelope = sign(IN_TOTO_PAYLOAD_TYPE, b"{\"a\":1}", &key).unwrap();
        assert_eq!(open(&envelope, &key.verifying_key()).unwrap(), b"{\"a\":1}");
        assert!(open(&envelope, &other.verifying_key()).is_err());
        let mut payload = BASE64.decode(&envelope.payload).unwrap();
        payload[2] ^= 1;
        let tampered = Envelope { payload: BASE64.encode(&payload), ..envelope.clone() };
        assert!(open(&tampered, &key.verifying_key()).is_err());
        let retyped = Envelope { payload_type: "text/plain".into(), ..envelope };
        assert!(open(&retyped, &key.verifying_key()).is_err());
    }
}
