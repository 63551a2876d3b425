//! `rebuild debian:PACKAGE[=VERSION]`: the source package through the
//! machine's apt sources, its build dependencies as the image, every
//! binary package the archive has for that version as `[expect]`.

use super::{Inferred, RebuildOptions, SpecFiles};
use crate::errors::*;

/// Infers the rebuild of `package` (source or binary) into `files`.
pub async fn infer(
    package: &str,
    version: Option<&str>,
    files: &SpecFiles,
    options: &RebuildOptions,
) -> Result<Inferred> {
    let _ = (package, version, files, options);
    super::not_inferable("Debian rebuilds are not implemented yet")
}
