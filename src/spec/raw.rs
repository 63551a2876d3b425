//! The spec as serde reads it: every key that is validated later keeps its span.

use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSpec {
    pub name: Option<Spanned<String>>,
    pub image: Option<Spanned<RawImage>>,
    pub source: Option<Spanned<RawSource>>,
    pub build: Option<Spanned<RawBuild>>,
    pub check: Option<RawCheck>,
    pub expect: Option<Spanned<BTreeMap<Spanned<String>, Spanned<toml::Value>>>>,
    pub limits: Option<super::limits::RawLimits>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawImage {
    pub digest: Option<Spanned<String>>,
    pub name: Option<Spanned<String>>,
    pub reference: Option<Spanned<String>>,
    pub archive: Option<Spanned<String>>,
    pub archive_sha256: Option<Spanned<String>>,
    pub recipe: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSource {
    pub path: Option<Spanned<String>>,
    pub git: Option<Spanned<String>>,
    pub rev: Option<Spanned<String>>,
    pub tag: Option<Spanned<String>>,
    pub tarball: Option<Spanned<String>>,
    pub dsc: Option<Spanned<String>>,
    pub sha256: Option<Spanned<String>>,
    pub strip_components: Option<Spanned<i64>>,
    pub directory: Option<Spanned<String>>,
    pub nar_hash: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBuild {
    pub command: Option<Spanned<String>>,
    pub outputs: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    pub env: BTreeMap<Spanned<String>, Spanned<String>>,
    pub timeout: Option<Spanned<String>>,
    pub source_date_epoch: Option<Spanned<toml::Value>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCheck {
    pub runs: Option<Spanned<i64>>,
    pub vary: Option<Spanned<Vec<Spanned<String>>>>,
}
