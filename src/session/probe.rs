//! The probe stage: what this host, engine and image can do, for the plan.

use crate::engine::Engine;
use crate::errors::*;
use crate::factors::{FactorId, HostFacts};
use crate::mounts;
use std::path::Path;

/// Probes the image `image_id` (a container of run `run_id`) and the host;
/// when a `requested` factor may build in a host directory, also whether
/// this engine can use one, trying a disorderfs mount under `scratch`.
pub async fn probe(
    engine: &dyn Engine,
    image_id: &str,
    run_id: &str,
    requested: &[FactorId],
    scratch: &Path,
) -> Result<HostFacts> {
    let mut facts = HostFacts::gather(engine, image_id, run_id).await?;
    if !requested.iter().any(|f| f.factor().may_use_host_build_dir) {
        return Ok(facts);
    }
    match host_build_dir_problem(engine, scratch).await? {
        None => {
            facts.disorderfs_works = true;
            facts.tools.insert("disorderfs".into(), mounts::disorderfs_version());
        }
        Some(problem) => facts.disorderfs_problem = problem,
    }
    Ok(facts)
}

/// Why a host build directory (seen through disorderfs) cannot be given to
/// this engine's containers, or `None` when it can.
async fn host_build_dir_problem(engine: &dyn Engine, scratch: &Path) -> Result<Option<String>> {
    if !engine.archive_sees_bind_mounts() {
        return Ok(Some(format!(
            "{} copies files into and out of a container without its bind mounts, \
             so the disorderfs build directory cannot be used",
            engine.info().kind
        )));
    }
    if engine.remaps_user_ids().await? {
        return Ok(Some(
            "the engine remaps user ids (userns-remap or rootless), so a host build directory \
             given to the build user would not be the build user's in the container"
                .to_string(),
        ));
    }
    Ok(mounts::disorderfs_problem(scratch, engine.info().is_local()))
}
