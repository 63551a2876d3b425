//! Brings a traced run's trace out of its container and sums it up for the
//! report: how many processes and files, whether it is whole, and for each
//! output the process that wrote it with its ancestors.

use super::{
    parse::{command_line, normalize},
    Trace, TRACE_MAX_BYTES,
};
use crate::engine::Engine;
use crate::errors::*;
use futures_util::TryStreamExt;
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;

/// Characters of one command line in the report.
const COMMAND_CHARS: usize = 200;

/// What report.json says of a run's trace.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TraceSummary {
    /// The trace, relative to the results directory (`run-N/trace.tsv`).
    pub file: String,
    /// Its size in bytes as saved.
    pub bytes: u64,
    /// Whether it reached the build command's end (else cut: a kill, a
    /// timeout, or [`TRACE_MAX_BYTES`]).
    pub complete: bool,
    /// Whether the tracer traced at all (an unsupported architecture runs
    /// the build untraced).
    pub traced: bool,
    /// Processes seen.
    pub processes: usize,
    /// Distinct files written (created, written, renamed or linked to).
    pub files_written: usize,
    /// Lines of the trace that did not parse.
    pub bad_lines: usize,
    /// For each output (by its path in the outputs), the process that last
    /// wrote it, then its ancestors up to the build command, as command
    /// lines; outputs no traced process wrote are left out.
    pub writers: BTreeMap<String, Vec<String>>,
}

/// Saves the trace of container `id` (build directory `build_dir`) as
/// `dest`, at most [`TRACE_MAX_BYTES`]. `Ok(false)` when the container has
/// none (the build never started the tracer).
pub async fn save(engine: &dyn Engine, id: &str, build_dir: &str, dest: &Path) -> Result<bool> {
    let path = super::trace_path_in_container(build_dir);
    let Some(stream) = engine.download(id, &path).await? else { return Ok(false) };
    let handle = tokio::runtime::Handle::current();
    let dest = dest.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let reader = tokio_util::io::StreamReader::new(stream.map_err(std::io::Error::other));
        let reader = tokio_util::io::SyncIoBridge::new_with_handle(reader, handle);
        let mut archive = tar::Archive::new(reader);
        let mut entries = archive.entries().context("reading the trace's archive")?;
        let Some(entry) = entries.next() else { return Ok(false) };
        let mut entry = entry.context("reading the trace's archive")?;
        // The build could have put anything at that path: only a file is read.
        ensure!(
            entry.header().entry_type().is_file(),
            "the build replaced its trace file {path} with a non-file"
        );
        let mut file =
            std::fs::File::create(&dest).with_context(|| format!("creating {}", dest.display()))?;
        std::io::copy(&mut entry.by_ref().take(TRACE_MAX_BYTES), &mut file)
            .with_context(|| format!("saving the trace as {}", dest.display()))?;
        file.flush().with_context(|| format!("writing {}", dest.display()))?;
        Ok(true)
    })
    .await
    .context("the trace download task died")?
}

/// Reads the saved trace at `results/file` and sums it up; `outputs` are
/// the run's output paths, each at `build_dir/path` in the container.
pub fn summarize(results: &Path, file: &str, build_dir: &str, outputs: &[String]) -> Result<TraceSummary> {
    let path = results.join(file);
    let saved = std::fs::File::open(&path).with_context(|| format!("opening {}", path.display()))?;
    let bytes = saved.metadata().with_context(|| format!("reading {}", path.display()))?.len();
    let trace =
        Trace::read(std::io::BufReader::new(saved)).with_context(|| format!("reading {}", path.display()))?;
    let writers = outputs
        .iter()
        .filter_map(|output| {
            let pid =
                trace.writer_of(&normalize(&format!("{}/{output}", build_dir.trim_end_matches('/'))))?;
            let chain = trace.ancestry(pid).into_iter().map(|p| command_line(p, COMMAND_CHARS)).collect();
            Some((output.clone(), chain))
        })
        .collect();
    Ok(TraceSummary {
        file: file.to_string(),
        bytes,
        complete: trace.complete(),
        traced: trace.traced,
        processes: trace.processes.len(),
        files_written: trace.files_written(),
        bad_lines: trace.bad_lines,
        writers,
    })
}
