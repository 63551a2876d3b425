//! [`FactorId`]: a factor named by the table, never by a string literal.

use super::{Factor, FACTORS};
use std::cmp::Ordering;
use std::fmt;

/// One entry of [`FACTORS`]. Only the table makes them ([`FactorId::parse`],
/// [`FactorId::all`]), so every id names a real factor; ids order by name,
/// as factor sets are shown and compared.
#[derive(Clone, Copy)]
pub struct FactorId(&'static Factor);

impl FactorId {
    /// Every factor, in the table's (reprotest's) order.
    pub fn all() -> impl Iterator<Item = FactorId> {
        FACTORS.iter().map(FactorId)
    }

    /// The factor called `name`, if there is one.
    pub fn parse(name: &str) -> Option<FactorId> {
        FACTORS.iter().find(|f| f.name == name).map(FactorId)
    }

    /// reprotest's name for it.
    pub fn name(self) -> &'static str {
        self.0.name
    }

    /// Its table entry: values, mechanism and hooks.
    pub fn factor(self) -> &'static Factor {
        self.0
    }
}

impl PartialEq for FactorId {
    fn eq(&self, other: &FactorId) -> bool {
        self.name() == other.name()
    }
}

impl Eq for FactorId {}

impl PartialOrd for FactorId {
    fn partial_cmp(&self, other: &FactorId) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for FactorId {
    fn cmp(&self, other: &FactorId) -> Ordering {
        self.name().cmp(other.name())
    }
}

impl std::hash::Hash for FactorId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name().hash(state)
    }
}

impl fmt::Display for FactorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Debug for FactorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl serde::Serialize for FactorId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

/// The names of `ids`, for messages.
pub fn names(ids: &[FactorId]) -> Vec<&'static str> {
    ids.iter().map(|id| id.name()).collect()
}
