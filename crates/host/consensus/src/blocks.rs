//! Blocks of undecided heights, on disk beside the WAL.
//!
//! Malachite's WAL keeps this node's votes and the value ids it saw, not the blocks. After
//! a crash the engine can decide (or ask this node to propose again at) a height whose
//! block was only in memory, so the driver writes every block it proposes or accepts here
//! before replying to the engine, and remembers which block it proposed in each round, so
//! that a restarted proposer never proposes a second block in a round it already signed.
//! Files of committed heights are deleted.
//!
//! Layout (one file each, written to a temporary name, fsynced, then renamed):
//! - `<height>-<block hash hex>.block`: the block bytes;
//! - `<height>-<round>.proposed`: the 32-byte hash of the block this node proposed.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use bytes::Bytes;
use veil_types::Hash;

pub struct BlockCache {
    dir: PathBuf,
}

/// What a cache holds for heights above the last committed one.
#[derive(Default)]
pub struct Loaded {
    pub blocks: Vec<(u64, Hash, Bytes)>,
    pub proposed: Vec<(u64, u32, Hash)>,
}

impl BlockCache {
    pub fn open(dir: &Path) -> anyhow::Result<Self> {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(BlockCache {
            dir: dir.to_path_buf(),
        })
    }

    fn write(&self, name: &str, bytes: &[u8]) -> anyhow::Result<()> {
        let path = self.dir.join(name);
        let tmp = self.dir.join(format!("{name}.tmp"));
        let mut file =
            fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, &path).with_context(|| format!("renaming to {}", path.display()))?;
        Ok(())
    }

    pub fn put_block(&self, height: u64, hash: &Hash, block: &[u8]) -> anyhow::Result<()> {
        let name = format!("{height}-{}.block", hex::encode(hash));
        if self.dir.join(&name).exists() {
            return Ok(());
        }
        self.write(&name, block)
    }

    pub fn put_proposed(&self, height: u64, round: u32, hash: &Hash) -> anyhow::Result<()> {
        self.write(&format!("{height}-{round}.proposed"), hash)
    }

    /// Deletes the files of heights up to `committed`; returns the others.
    pub fn load(&self, committed: u64) -> anyhow::Result<Loaded> {
        let mut loaded = Loaded::default();
        for entry in fs::read_dir(&self.dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some((height, rest)) = name.split_once('-') else {
                continue;
            };
            let Ok(height) = height.parse::<u64>() else {
                continue;
            };
            if height <= committed || name.ends_with(".tmp") {
                let _ = fs::remove_file(entry.path());
                continue;
            }
            if let Some(hash_hex) = rest.strip_suffix(".block") {
                let Some(hash) = parse_hash(hash_hex) else {
                    continue;
                };
                let bytes = fs::read(entry.path())?;
                loaded.blocks.push((height, hash, Bytes::from(bytes)));
            } else if let Some(round) = rest.strip_suffix(".proposed") {
                let (Ok(round), Ok(bytes)) = (round.parse::<u32>(), fs::read(entry.path())) else {
                    continue;
                };
                if let Ok(hash) = <Hash>::try_from(bytes.as_slice()) {
                    loaded.proposed.push((height, round, hash));
                }
            }
        }
        Ok(loaded)
    }

    /// Deletes the files of heights up to `committed`.
    pub fn prune(&self, committed: u64) {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let height = name
                .split_once('-')
                .and_then(|(h, _)| h.parse::<u64>().ok());
            if height.is_some_and(|h| h <= committed) {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
}

fn parse_hash(text: &str) -> Option<Hash> {
    hex::decode(text).ok()?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_and_proposals_survive_until_committed() {
        let dir = tempfile::tempdir().unwrap();
        let cache = BlockCache::open(dir.path()).unwrap();
        cache.put_block(5, &[1; 32], b"five").unwrap();
        cache.put_block(6, &[2; 32], b"six").unwrap();
        cache.put_proposed(6, 1, &[2; 32]).unwrap();
        fs::write(dir.path().join("junk"), b"x").unwrap();

        let reopened = BlockCache::open(dir.path()).unwrap();
        let loaded = reopened.load(5).unwrap();
        assert_eq!(
            loaded.blocks,
            vec![(6, [2; 32], Bytes::from_static(b"six"))]
        );
        assert_eq!(loaded.proposed, vec![(6, 1, [2; 32])]);
        assert!(!dir
            .path()
            .join(format!("5-{}.block", hex::encode([1u8; 32])))
            .exists());

        reopened.prune(6);
        let loaded = reopened.load(0).unwrap();
        assert!(loaded.blocks.is_empty() && loaded.proposed.is_empty());
    }
}
