//! `rebuild pypi:NAME==VERSION`: the sdist and the pure-Python wheel from
//! the package index, the build inferred from their metadata.

pub mod backend;
pub mod pep440;
pub mod pyproject;
pub mod timestamps;
pub mod wheel;

#[cfg(test)]
mod fixtures;

use super::{Inferred, RebuildOptions, SpecFiles};
use crate::errors::*;

/// Infers the rebuild of `name==version` into `files`.
pub async fn infer(
    name: &str,
    version: &str,
    files: &SpecFiles,
    options: &RebuildOptions,
) -> Result<Inferred> {
    let _ = (name, version, files, options);
    super::not_inferable("PyPI rebuilds are not implemented yet")
}
