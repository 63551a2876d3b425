//! Waiting for a build's container to exit, and reading when it ran.
//!
//! Podman 4.3's Docker-compatible `/containers/{id}/wait` polls the
//! container's state without pause: while a build runs, the Podman service
//! burns a whole core (measured: 6.3 s of CPU in 5 s of one wait), and on 2
//! cores the build itself then runs at half speed. On Podman the state is
//! therefore polled with `inspect` (about 2 ms of the service's CPU each)
//! until the container no longer runs, and only then is the wait asked for
//! the exit code, which it gives at once.
//!
//! Polling over ssh as well (where each HTTP connection is a remote login,
//! and a wait holds one for a build's life) was tried: a 2-run check opened
//! 7–9 connections instead of 6–7, as polls arrive while the pooled
//! connections are busy, so ssh keeps the wait.

use crate::errors::*;
use bollard::models::ContainerStateStatusEnum;
use bollard::query_parameters::InspectContainerOptions;
use bollard::Docker;
use futures_util::StreamExt;
use std::time::Duration;

/// The first pause between two looks at a running Podman container; each
/// pause is half again as long as the one before, up to [`POLL_MAX`].
const POLL_FIRST: Duration = Duration::from_millis(20);
/// The longest pause: a build's end is noticed at most this late.
const POLL_MAX: Duration = Duration::from_millis(250);

/// The exit code of container `id`, once it has exited; `poll` (Podman)
/// says to poll its state first rather than hold a wait open (see above).
pub(super) async fn exit_code(docker: &Docker, id: &str, poll: bool) -> Result<i64> {
    if poll {
        until_not_running(docker, id).await;
    }
    let mut stream = docker.wait_container(id, None);
    match stream.next().await {
        Some(Ok(response)) => Ok(response.status_code),
        // bollard turns a non-zero exit into an error.
        Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => Ok(code),
        Some(Err(e)) => Err(e).with_context(|| format!("waiting for container {id}")),
        None => bail!("the engine closed the wait on container {id} without an exit code"),
    }
}

/// Returns once `inspect` no longer says container `id` is running, or
/// cannot say (gone, unreachable, or in Podman's `stopped` state, which the
/// Docker API lacks and bollard refuses to read): the wait that follows
/// then answers at once, or reports what went wrong.
async fn until_not_running(docker: &Docker, id: &str) {
    let mut pause = POLL_FIRST;
    loop {
        match docker.inspect_container(id, None::<InspectContainerOptions>).await {
            Ok(inspected) => {
                let status = inspected.state.and_then(|s| s.status);
                let running = matches!(
                    status,
                    Some(ContainerStateStatusEnum::RUNNING)
                        | Some(ContainerStateStatusEnum::CREATED)
                        | Some(ContainerStateStatusEnum::PAUSED)
                        | Some(ContainerStateStatusEnum::RESTARTING)
                );
                if !running {
                    return;
                }
            }
            Err(e) => {
                tracing::debug!("inspecting container {id} while it runs: {e}");
                return;
            }
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 3 / 2).min(POLL_MAX);
    }
}

/// When container `id` ran, by the engine's clock (see
/// [`crate::clock::RunWindow::from_engine`]).
pub(super) async fn run_window(
    docker: &Docker,
    id: &str,
    ran_for: Duration,
) -> Result<Option<crate::clock::RunWindow>> {
    let inspected = docker
        .inspect_container(id, None::<InspectContainerOptions>)
        .await
        .with_context(|| format!("inspecting container {id}"))?;
    let state = inspected.state.unwrap_or_default();
    Ok(state.started_at.and_then(|started| {
        crate::clock::RunWindow::from_engine(&started, state.finished_at.as_deref(), ran_for)
    }))
}
