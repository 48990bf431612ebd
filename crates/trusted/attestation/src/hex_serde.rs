//! Byte fields as lowercase hex in JSON (the genesis file, RPC) and as raw bytes in
//! binary formats (postcard: transactions, chain state). Decoding checks lengths.

use std::fmt;

use serde::de::{Error, Visitor};
use serde::{Deserialize, Deserializer, Serializer};

struct BytesVisitor;

impl<'de> Visitor<'de> for BytesVisitor {
    type Value = Vec<u8>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("bytes")
    }

    fn visit_bytes<E: Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
        Ok(v.to_vec())
    }

    fn visit_byte_buf<E: Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
        Ok(v)
    }
}

fn decode<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    if d.is_human_readable() {
        let text = String::deserialize(d)?;
        hex::decode(&text).map_err(|e| D::Error::custom(format!("invalid hex: {e}")))
    } else {
        d.deserialize_byte_buf(BytesVisitor)
    }
}

fn encode<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    if s.is_human_readable() {
        s.serialize_str(&hex::encode(bytes))
    } else {
        s.serialize_bytes(bytes)
    }
}

/// `Vec<u8>` of any length.
pub mod vec {
    use super::*;

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        encode(bytes, s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        decode(d)
    }
}

/// `[u8; N]`: exactly N bytes (2N hex characters).
pub mod array {
    use super::*;

    pub fn serialize<S: Serializer, const N: usize>(
        bytes: &[u8; N],
        s: S,
    ) -> Result<S::Ok, S::Error> {
        encode(bytes, s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>, const N: usize>(
        d: D,
    ) -> Result<[u8; N], D::Error> {
        let bytes = decode(d)?;
        <[u8; N]>::try_from(bytes.as_slice()).map_err(|_| {
            D::Error::custom(format!(
                "expected {N} bytes ({} hex characters), got {} bytes",
                2 * N,
                bytes.len()
            ))
        })
    }
}
