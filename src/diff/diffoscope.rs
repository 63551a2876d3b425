//! Optional deep comparison with diffoscope, when it is installed.

use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long diffoscope may take per output.
pub const TIMEOUT: Duration = Duration::from_secs(300);

/// What running diffoscope on one output gave.
#[derive(Debug, Clone, Serialize)]
pub struct Diffoscope {
    /// `differences`, `identical`, `not installed`, `timed out`, `failed: ...`, `skipped: ...`.
    pub status: String,
    /// The text report, relative to the results directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<PathBuf>,
    /// The HTML report, relative to the results directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub html: Option<PathBuf>,
}

/// Runs diffoscope on `a` and `b` (regular files only), writing
/// `results/diffoscope/<path>.txt` and `.html`.
pub async fn run(results: &Path, path: &str, a: &Path, b: &Path) -> Diffoscope {
    let result = |status: &str| Diffoscope { status: status.to_string(), text: None, html: None };
    let regular = |p: &Path| std::fs::symlink_metadata(p).map(|m| m.is_file()).unwrap_or(false);
    if !regular(a) || !regular(b) {
        return result("skipped: not a regular file in both runs");
    }
    let stem = path.replace('/', "__");
    let dir = PathBuf::from("diffoscope");
    if let Err(e) = std::fs::create_dir_all(results.join(&dir)) {
        return result(&format!("failed: cannot create {}: {e}", dir.display()));
    }
    let (text, html) = (dir.join(format!("{stem}.txt")), dir.join(format!("{stem}.html")));
    let mut command = tokio::process::Command::new("diffoscope");
    command
        .arg("--text")
        .arg(results.join(&text))
        .arg("--html")
        .arg(results.join(&html))
        .arg("--no-progress")
        .arg(a)
        .arg(b)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let child = match command.spawn() {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return result("not installed (apt-get install diffoscope-minimal, or diffoscope)")
        }
        Err(e) => return result(&format!("failed: {e}")),
    };
    match tokio::time::timeout(TIMEOUT, child.wait_with_output()).await {
        Err(_) => result(&format!("timed out after {}s", TIMEOUT.as_secs())),
        Ok(Err(e)) => result(&format!("failed: {e}")),
        Ok(Ok(output)) => match output.status.code() {
            Some(0) => result("identical"),
            Some(1) => Diffoscope { status: "differences".into(), text: Some(text), html: Some(html) },
            _ => result(&format!(
                "failed: {}",
                String::from_utf8_lossy(&output.stderr).lines().last().unwrap_or("")
            )),
        },
    }
}
