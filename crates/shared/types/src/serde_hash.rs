//! 32-byte hashes: lowercase hex in JSON, raw bytes in postcard.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Hash;

pub fn serialize<S: Serializer>(value: &Hash, s: S) -> Result<S::Ok, S::Error> {
    if s.is_human_readable() {
        s.serialize_str(&hex::encode(value))
    } else {
        value.serialize(s)
    }
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Hash, D::Error> {
    if d.is_human_readable() {
        let text = String::deserialize(d)?;
        parse_hex(&text).map_err(serde::de::Error::custom)
    } else {
        Hash::deserialize(d)
    }
}

/// Parses 64 hex digits.
pub fn parse_hex(text: &str) -> Result<Hash, String> {
    let bytes = hex::decode(text).map_err(|e| format!("{text:?} is not hex: {e}"))?;
    bytes
        .try_into()
        .map_err(|b: Vec<u8>| format!("expected 32 bytes of hex, got {}", b.len()))
}

#[derive(Serialize, Deserialize)]
struct Wrapped(#[serde(with = "self")] Hash);

pub mod option {
    use super::*;

    pub fn serialize<S: Serializer>(value: &Option<Hash>, s: S) -> Result<S::Ok, S::Error> {
        value.map(Wrapped).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Hash>, D::Error> {
        Ok(Option::<Wrapped>::deserialize(d)?.map(|w| w.0))
    }
}

pub mod list {
    use super::*;

    pub fn serialize<S: Serializer>(value: &[Hash], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(value.iter().map(|h| Wrapped(*h)))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Hash>, D::Error> {
        Ok(Vec::<Wrapped>::deserialize(d)?
            .into_iter()
            .map(|w| w.0)
            .collect())
    }
}
