//! The engine stage: one connection per invocation, through the
//! [`Connector`] only, with the signal handling and the panic hook's record
//! of the run that must outlive every container it starts.

use crate::cleanup::{OpenRun, Shutdown};
use crate::engine::{self, Connector, Engine};
use crate::errors::*;
use crate::progress::Progress;
use std::sync::Arc;

/// The engine an invocation runs on, and what holds until its runs are
/// cleaned up: SIGINT/SIGTERM held for the runs, the panic hook's record.
pub struct EngineHandle {
    /// The connected engine.
    pub engine: Arc<dyn Engine>,
    /// Resolves when SIGINT or SIGTERM arrives.
    pub shutdown: Shutdown,
    /// Known to the panic hook until the handle is gone.
    _open: OpenRun,
}

/// Connects through `connector` for run `run_id`, and first removes what
/// killed reprocheck processes left behind (saying so on `progress`).
pub async fn connect(connector: &Connector, run_id: &str, progress: &Progress) -> Result<EngineHandle> {
    let shutdown = Shutdown::install()?;
    let engine = connector.connect().await?;
    let open = OpenRun::new(run_id, connector.reconnect_endpoint(engine.as_ref()).as_deref());
    sweep_orphans(engine.as_ref(), progress).await;
    let info = engine.info();
    tracing::info!("engine: {} {} at {} (API {})", info.kind, info.version, info.endpoint, info.api_version);
    Ok(EngineHandle { engine, shutdown, _open: open })
}

/// Removes what reprocheck processes that are gone left behind (killed with
/// SIGKILL, crashed), and says so. Never fails the run: a sweep that cannot
/// finish is a warning.
async fn sweep_orphans(engine: &dyn Engine, progress: &Progress) {
    let containers = match engine::sweep_orphans(engine).await {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!("could not sweep containers of earlier, killed runs: {e:#}");
            0
        }
    };
    let mounts = crate::mounts::sweep_orphaned();
    if containers > 0 || !mounts.is_empty() {
        progress.note(&format!(
            "reprocheck: removed {containers} container(s) and {} mount(s) left by reprocheck processes that are gone",
            mounts.len()
        ));
    }
}

/// The panic hook's sweep ([`crate::cleanup::install_panic_hook`]): the
/// mounts of `run_id`, then its containers at `endpoint` through a fresh
/// connection (the [`Connector`]'s) on a runtime of its own (an in-process
/// engine goes with the process).
pub fn sweep_after_panic(run_id: &str, endpoint: Option<&str>) {
    let unmounted = crate::mounts::sweep_run(run_id);
    let Some(endpoint) = endpoint else { return };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => return crate::errln!("reprocheck: cannot clean up after the panic: {e}"),
    };
    let removed = runtime.block_on(async {
        let engine = Connector::docker(Some(endpoint.to_string())).connect().await?;
        engine::sweep_until_clear(engine.as_ref(), run_id).await
    });
    match removed {
        Ok(removed) => crate::errln!(
            "reprocheck: after the panic, removed {removed} container(s) and {} mount(s) of run {run_id}",
            unmounted.len()
        ),
        Err(e) => {
            crate::errln!(
                "reprocheck: after the panic, could not remove the containers of run {run_id}: {e:#}"
            )
        }
    }
}
