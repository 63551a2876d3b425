//! Listing containers by label, on every transport the client speaks (unix,
//! TLS, ssh), whatever state a container is in.

use crate::errors::*;
use bollard::query_parameters::ListContainersOptionsBuilder;
use bollard::Docker;
use std::collections::HashMap;
use std::time::Duration;

/// How long one container listing may take.
const LIST_TIMEOUT: Duration = Duration::from_secs(30);

/// One container in a listing.
#[derive(serde::Deserialize)]
pub(super) struct Listed {
    #[serde(rename = "Id")]
    pub id: String,
    #[serde(rename = "Labels")]
    pub labels: Option<HashMap<String, String>>,
}

/// The containers matching one label filter (`key` or `key=value`) at
/// `endpoint`, within [`LIST_TIMEOUT`]. Where bollard's typed list fails,
/// only each container's id and labels are read from the same response:
/// Podman lists a container being torn down as `stopped`, a state the
/// Docker API lacks (podman#28359; seen in tests/engine/kill.rs), and the sweep
/// after Ctrl-C must not fail on that.
pub(super) async fn labelled(docker: &Docker, endpoint: &str, label_filter: &str) -> Result<Vec<Listed>> {
    let filters = HashMap::from([("label", vec![label_filter])]);
    let options = ListContainersOptionsBuilder::default().all(true).filters(&filters).build();
    let listed =
        tokio::time::timeout(LIST_TIMEOUT, docker.list_containers(Some(options))).await.map_err(|_| {
            anyhow!("listing containers at {endpoint}: no answer within {} s", LIST_TIMEOUT.as_secs())
        })?;
    let listed = match listed {
        Ok(listed) => {
            listed.into_iter().map(|c| Listed { id: c.id.unwrap_or_default(), labels: c.labels }).collect()
        }
        Err(bollard::errors::Error::JsonDataError { message, contents, .. }) => {
            serde_json::from_str::<Vec<Listed>>(&contents).with_context(|| {
                format!("decoding the container list of {endpoint} (the typed list failed too: {message})")
            })?
        }
        Err(e) => return Err(e).with_context(|| format!("listing containers at {endpoint}")),
    };
    Ok(listed.into_iter().filter(|c| !c.id.is_empty()).collect())
}
