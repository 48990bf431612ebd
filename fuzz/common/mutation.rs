//! How the structured targets change a real encoding (a signed transaction, a sealed
//! envelope) before handing it to the decoder: the changed bytes must then never verify
//! or open. Shared by `tx_decode` and `envelope`.

use arbitrary::Arbitrary;

#[derive(Debug, Arbitrary)]
pub enum Mutation {
    None,
    Flip { at: usize, mask: u8 },
    Truncate { len: usize },
    Append(Vec<u8>),
    Splice { at: usize, bytes: Vec<u8> },
}

impl Mutation {
    pub fn apply(&self, mut bytes: Vec<u8>) -> Vec<u8> {
        match self {
            Mutation::None => {}
            Mutation::Flip { at, mask } => {
                if !bytes.is_empty() {
                    let i = at % bytes.len();
                    bytes[i] ^= mask;
                }
            }
            Mutation::Truncate { len } => bytes.truncate(*len),
            Mutation::Append(extra) => bytes.extend_from_slice(extra),
            Mutation::Splice { at, bytes: with } => {
                let at = at % (bytes.len() + 1);
                let end = (at + with.len()).min(bytes.len());
                bytes.splice(at..end, with.iter().copied());
            }
        }
        bytes
    }
}
