//! What is compared of one archive member, whatever the archive's format:
//! its header fields, its content's digest (and the content when held),
//! and what makes it ambiguous.

use super::scope::Field;
use sha2::{Digest as _, Sha256};
use std::collections::BTreeMap;

/// An archive's members in archive order, with their names.
pub(crate) type Members = Vec<(String, Member)>;

/// What is compared of one archive member.
#[derive(Default, Clone, PartialEq, Eq)]
pub(crate) struct Member {
    /// Header fields: `type`, `mode`, `uid`, `mtime`, `link`, `pax KEY`, ...
    pub fields: BTreeMap<Field, String>,
    /// The content; `None` when it could not be read within the caps.
    pub(crate) content: Option<Vec<u8>>,
    /// Hex sha256 of the content (empty when unreadable).
    pub content_hash: String,
    /// Constructs extractors read differently (a repeated pax key, a GNU
    /// long name that disagrees with a pax path, a zip local header that
    /// disagrees with its central record, …): readers may write different
    /// files from it, so nothing about it can be trusted.
    pub problems: Vec<String>,
}

impl Member {
    pub(crate) fn with_content(mut self, content: Option<Vec<u8>>) -> Member {
        self.content_hash = content.as_ref().map(|c| hex::encode(Sha256::digest(c))).unwrap_or_default();
        self.content = content;
        self
    }

    /// A member whose content was hashed as it streamed past, not kept.
    pub(crate) fn with_hash(mut self, content_hash: Option<String>) -> Member {
        self.content_hash = content_hash.unwrap_or_default();
        self.content = None;
        self
    }

    /// Whether two members agree in fields, content digest and problems
    /// (whether their content happens to be held does not matter).
    pub(crate) fn same_as(&self, other: &Member) -> bool {
        self.fields == other.fields
            && self.content_hash == other.content_hash
            && self.problems == other.problems
    }

    /// Whether the content could be read (and so its hash is known).
    pub fn readable(&self) -> bool {
        !self.content_hash.is_empty()
    }
}

/// Every copy of each name, in archive order.
pub(crate) fn copies(members: &[(String, Member)]) -> BTreeMap<&str, Vec<&Member>> {
    let mut map: BTreeMap<&str, Vec<&Member>> = BTreeMap::new();
    for (name, m) in members {
        map.entry(name.as_str()).or_default().push(m);
    }
    map
}
