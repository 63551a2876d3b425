//! Toolchain images from a registry, pinned by digest: references that name
//! their registry, the user's credentials for it, and the manifests that
//! say which image a digest stands for on this platform. The engine pulls;
//! this module decides what it must pull and checks what it got.

pub mod client;
pub mod credentials;
pub mod manifest;
pub mod reference;

pub use credentials::Credentials;
pub use manifest::{Platform, Resolved};
pub use reference::Reference;

use crate::errors::*;

/// Resolves `reference` for `platform` with the user's credentials for its
/// registry: by its digest when it has one (checked against the bytes
/// served), else by its tag.
pub async fn resolve(reference: &Reference, platform: &Platform) -> Result<Resolved> {
    let credentials = credentials::for_registry(&reference.registry, &crate::engine::endpoint::ProcessEnv)?;
    let client = client::RegistryClient::new(credentials.clone())?;
    let resolved = manifest::resolve(&client, reference, platform)
        .await
        .with_context(|| format!("resolving {reference} in the registry {}", reference.registry))?;
    Ok(Resolved { credentials, ..resolved })
}
