//! Live progress on stderr while builds run: one line per running build with
//! its factor set, phase, elapsed time and last log line (indicatif), and,
//! with `-v`, every build log line prefixed with its run number.
//!
//! Where stderr is not a terminal (CI logs, `2> file`), bars would print
//! nothing until the end: each phase change of each run is one plain line
//! instead, and a long build says it is still building every
//! [`HEARTBEAT`].
//!
//! Build logs are build output, and build output is hostile: control
//! characters are replaced before anything reaches the terminal.

use crate::factors::FactorId;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::io::{IsTerminal, Write as _};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Longest log line shown or streamed; the saved log keeps everything.
const MAX_LINE_CHARS: usize = 400;

/// How often a plain progress line says a build is still running.
pub const HEARTBEAT: Duration = Duration::from_secs(60);

/// What the terminal shows while builds run. Cloning shares the display.
#[derive(Debug, Clone, Default)]
pub struct Progress {
    /// The bars; `None` when they are off (`--quiet`, or stderr is not a TTY).
    bars: Option<MultiProgress>,
    /// `-v`: stream every log line to stderr.
    stream_logs: bool,
    /// `--quiet`: no notes either.
    quiet: bool,
    /// Colour the spinner and run labels.
    color: bool,
    /// No terminal: where the plain lines go (one per phase change), and
    /// how often one repeats for a build still running.
    plain: Option<(LineSink, Duration)>,
}

/// Where plain progress lines are written: stderr, or a test's buffer.
#[derive(Clone)]
pub struct LineSink(Arc<dyn Fn(&str) + Send + Sync>);

impl LineSink {
    /// Each line to stderr.
    pub fn stderr() -> LineSink {
        LineSink(Arc::new(|line| crate::errln!("{line}")))
    }

    /// Each line to `f`.
    pub fn to(f: impl Fn(&str) + Send + Sync + 'static) -> LineSink {
        LineSink(Arc::new(f))
    }

    fn write(&self, line: &str) {
        (self.0)(line)
    }
}

impl std::fmt::Debug for LineSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LineSink")
    }
}

/// Where a build is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Waiting for a job slot (`--jobs`).
    Queued,
    /// Creating the container.
    Create,
    /// Copying the source in.
    Upload,
    /// Waiting out the staggered start (time factor fallback).
    Delay,
    /// The build command runs.
    Building,
    /// Copying the outputs out and hashing them.
    Collecting,
    /// Removing the container.
    Removing,
}

impl Phase {
    fn label(self) -> &'static str {
        match self {
            Phase::Queued => "queued",
            Phase::Create => "create",
            Phase::Upload => "upload",
            Phase::Delay => "delayed start",
            Phase::Building => "building",
            Phase::Collecting => "collecting",
            Phase::Removing => "removing",
        }
    }
}

impl Progress {
    /// Bars when stderr is a terminal and not `quiet`; log streaming with `stream_logs`.
    pub fn for_terminal(quiet: bool, stream_logs: bool, color: bool) -> Progress {
        let terminal = std::io::stderr().is_terminal();
        let bars = (!quiet && terminal).then(MultiProgress::new);
        let plain = (!quiet && !terminal).then(|| (LineSink::stderr(), HEARTBEAT));
        Progress { bars, stream_logs: stream_logs && !quiet, quiet, color, plain }
    }

    /// Plain lines to `sink`, repeated every `heartbeat` while a build runs.
    pub fn plain(sink: LineSink, heartbeat: Duration) -> Progress {
        Progress { plain: Some((sink, heartbeat)), ..Default::default() }
    }

    /// Adds one line per run, `(index, factor label)`, in the order given,
    /// each waiting in [`Phase::Queued`] until [`RunProgress::begin`]. The
    /// labels are padded alike so that the columns line up.
    pub fn queue_runs(&self, runs: &[(u32, String)]) -> Vec<RunProgress> {
        let prefixes: Vec<String> = runs
            .iter()
            .map(|(index, factors)| format!("run {index:<2} [{}]", crate::style::clip(factors, 40)))
            .collect();
        let width = prefixes.iter().map(|p| p.chars().count()).max().unwrap_or(0);
        runs.iter()
            .zip(prefixes)
            .map(|((index, _), prefix)| self.add_run(*index, format!("{prefix:<width$}")))
            .collect()
    }

    fn add_run(&self, index: u32, prefix: String) -> RunProgress {
        let bar = self.bars.as_ref().map(|multi| {
            let template = match self.color {
                true => "{spinner:.cyan} {prefix:.bold} {elapsed:>4} {wide_msg}",
                false => "{spinner} {prefix} {elapsed:>4} {wide_msg}",
            };
            let style =
                ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_spinner());
            let bar = multi.add(ProgressBar::new_spinner().with_style(style));
            bar.set_prefix(prefix.clone());
            bar
        });
        let run = RunProgress {
            index,
            bar,
            multi: self.bars.clone(),
            stream_logs: self.stream_logs,
            plain: self.plain.as_ref().map(|(sink, heartbeat)| PlainLines {
                prefix: prefix.clone(),
                sink: sink.clone(),
                heartbeat: *heartbeat,
            }),
            state: Arc::new(Mutex::new(RunState {
                phase: Phase::Queued,
                last_line: String::new(),
                partial: Vec::new(),
                began: None,
                finished: false,
            })),
        };
        run.redraw();
        run
    }

    /// Prints a note on stderr (unless `--quiet`) without tearing the bars.
    /// Whether `--quiet` asked for the result only.
    pub fn is_quiet(&self) -> bool {
        self.quiet
    }

    /// Prints a note above the bars (nothing with `--quiet`).
    pub fn note(&self, line: &str) {
        if self.quiet {
            return;
        }
        print_above(self.bars.as_ref(), line);
    }
}

#[derive(Debug)]
struct RunState {
    phase: Phase,
    last_line: String,
    /// The start of a line whose end has not arrived yet.
    partial: Vec<u8>,
    /// When the run got its job slot (for the plain lines' times).
    began: Option<std::time::Instant>,
    /// Set by [`RunProgress::finish`]: the heartbeat stops.
    finished: bool,
}

/// How a run prints its plain lines.
#[derive(Debug, Clone)]
struct PlainLines {
    /// `run N [factors]`.
    prefix: String,
    sink: LineSink,
    heartbeat: Duration,
}

/// Log lines written while the bars are drawn: each event is printed with
/// the bars hidden, so the two never tear each other.
pub struct LogWriter {
    bars: Option<MultiProgress>,
    buffer: Vec<u8>,
}

impl std::io::Write for LogWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LogWriter {
    fn drop(&mut self) {
        let write = || {
            let _ = std::io::stderr().lock().write_all(&self.buffer);
        };
        match &self.bars {
            Some(multi) if !self.buffer.is_empty() => multi.suspend(write),
            _ => write(),
        }
    }
}

impl Progress {
    /// A `tracing` writer that prints around the bars.
    pub fn log_writer(&self) -> impl Fn() -> LogWriter + Send + Sync + 'static {
        let bars = self.bars.clone();
        move || LogWriter { bars: bars.clone(), buffer: Vec::new() }
    }
}

/// One build's line.
#[derive(Debug, Clone)]
pub struct RunProgress {
    index: u32,
    bar: Option<ProgressBar>,
    multi: Option<MultiProgress>,
    stream_logs: bool,
    plain: Option<PlainLines>,
    state: Arc<Mutex<RunState>>,
}

impl RunProgress {
    /// The run got its job slot: the clock restarts and the spinner turns
    /// (or, without a terminal, the heartbeat starts).
    pub fn begin(&self) {
        if let Some(bar) = &self.bar {
            bar.reset_elapsed();
            bar.enable_steady_tick(Duration::from_millis(200));
        }
        if let Ok(mut state) = self.state.lock() {
            state.began = Some(std::time::Instant::now());
        }
        let plain = self.plain.as_ref().filter(|plain| !plain.heartbeat.is_zero());
        if let (Some(plain), Ok(runtime)) = (plain, tokio::runtime::Handle::try_current()) {
            runtime.spawn(heartbeat(Arc::downgrade(&self.state), plain.clone()));
        }
    }

    /// Moves the build to `phase`.
    pub fn phase(&self, phase: Phase) {
        let mut changed = None;
        if let Ok(mut state) = self.state.lock() {
            if state.phase != phase {
                changed = Some(elapsed(&state));
            }
            state.phase = phase;
        }
        if let (Some(plain), Some(elapsed)) = (&self.plain, changed) {
            plain.sink.write(&format!("{} {elapsed:>6.1}s {}", plain.prefix, phase.label()));
        }
        self.redraw();
    }

    /// Takes a chunk of the build log: remembers the last complete line and,
    /// with `-v`, prints each complete line.
    pub fn log(&self, chunk: &[u8]) {
        if self.bar.is_none() && !self.stream_logs && self.plain.is_none() {
            return;
        }
        let mut lines = Vec::new();
        if let Ok(mut state) = self.state.lock() {
            state.partial.extend_from_slice(chunk);
            while let Some(end) = state.partial.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = state.partial.drain(..=end).collect();
                lines.push(printable(&line[..end]));
            }
            if state.partial.len() > 64 * 1024 {
                // A "line" this long is not one: show it and move on.
                let line = std::mem::take(&mut state.partial);
                lines.push(printable(&line));
            }
            if let Some(last) = lines.iter().rev().find(|l| !l.trim().is_empty()) {
                state.last_line = last.clone();
            }
        }
        if self.stream_logs {
            for line in &lines {
                self.print(&format!("[run {}] {line}", self.index));
            }
        }
        self.redraw();
    }

    /// Ends the line with how the build ended: the bar goes, and a plain
    /// line saying so stays above the others.
    pub fn finish(&self, outcome: &str) {
        if let Some(bar) = &self.bar {
            let line = format!("  {} {:>5.1}s {outcome}", bar.prefix(), bar.elapsed().as_secs_f64());
            bar.finish_and_clear();
            self.print(&line);
        }
        let Ok(mut state) = self.state.lock() else { return };
        state.finished = true;
        if let Some(plain) = &self.plain {
            plain.sink.write(&format!("{} {:>6.1}s {outcome}", plain.prefix, elapsed(&state)));
        }
    }

    fn print(&self, line: &str) {
        print_above(self.multi.as_ref(), line);
    }

    fn redraw(&self) {
        let (Some(bar), Ok(state)) = (&self.bar, self.state.lock()) else { return };
        bar.set_message(match state.last_line.is_empty() {
            true => state.phase.label().to_string(),
            false => format!("{:<10} │ {}", state.phase.label(), state.last_line),
        });
    }
}

impl Drop for RunProgress {
    fn drop(&mut self) {
        // The last clone of an unfinished line (cancelled run): leave it, stopped.
        if let Some(bar) = &self.bar {
            if Arc::strong_count(&self.state) == 1 && !bar.is_finished() {
                bar.abandon();
            }
        }
    }
}

/// Seconds since the run got its job slot (0 before).
fn elapsed(state: &RunState) -> f64 {
    state.began.map_or(0.0, |began| began.elapsed().as_secs_f64())
}

/// Every `plain.heartbeat`, while the run is neither finished nor dropped:
/// a line saying it is still at its phase, with the last log line.
async fn heartbeat(state: std::sync::Weak<Mutex<RunState>>, plain: PlainLines) {
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + plain.heartbeat, plain.heartbeat);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let Some(state) = state.upgrade() else { return };
        let Ok(state) = state.lock() else { return };
        if state.finished {
            return;
        }
        let last = match state.last_line.is_empty() {
            true => String::new(),
            false => format!(" │ {}", state.last_line),
        };
        plain.sink.write(&format!(
            "{} {:>6.1}s still {}{last}",
            plain.prefix,
            elapsed(&state),
            state.phase.label()
        ));
    }
}

/// Prints `line` on stderr with the bars out of the way. (`MultiProgress::println`
/// leaves the cursor at the end of its last line once no bar is left, and the
/// summary would start there.)
fn print_above(bars: Option<&MultiProgress>, line: &str) {
    match bars {
        Some(multi) => multi.suspend(|| crate::errln!("{line}")),
        None => crate::errln!("{line}"),
    }
}

/// A log line made safe for a terminal: lossy UTF-8, control characters
/// (escape sequences, carriage returns) replaced, length capped.
pub fn printable(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(line);
    let text = text.strip_suffix('\r').unwrap_or(&text);
    crate::style::clip(&crate::style::without_controls(text), MAX_LINE_CHARS)
}

/// The label of a run's factor set on its progress line.
pub fn factor_label(varied: &[FactorId], all_varied: &[FactorId]) -> String {
    match varied.len() {
        0 => "control".to_string(),
        n if n == all_varied.len() && n > 3 => format!("all {n} factors"),
        _ => crate::factors::names(varied).join(","),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_replaces_escape_sequences_and_caps_length() {
        assert_eq!(printable(b"\x1b[2Jgone\r"), "\u{fffd}[2Jgone");
        assert_eq!(printable(b"a\tb"), "a\tb");
        assert_eq!(printable(b"\xff"), "\u{fffd}");
        assert_eq!(printable(&[b'x'; 500]).chars().count(), MAX_LINE_CHARS + 1);
    }

    #[test]
    fn log_keeps_the_last_complete_non_blank_line() {
        let run = Progress { stream_logs: true, ..Default::default() }
            .queue_runs(&[(1, "control".into())])
            .remove(0);
        run.log(b"first\nsec");
        assert_eq!(run.state.lock().unwrap().last_line, "first");
        run.log(b"ond\n\n");
        assert_eq!(run.state.lock().unwrap().last_line, "second");
        assert!(run.state.lock().unwrap().partial.is_empty());
    }

    #[test]
    fn a_hidden_line_does_no_work() {
        let run = Progress::default().queue_runs(&[(1, "control".into())]).remove(0);
        run.log(b"first\n");
        assert_eq!(run.state.lock().unwrap().last_line, "");
    }

    /// The lines a plain progress wrote, and the progress.
    fn plain_progress(heartbeat: Duration) -> (Progress, Arc<Mutex<Vec<String>>>) {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = {
            let lines = lines.clone();
            LineSink::to(move |line| lines.lock().unwrap().push(line.to_string()))
        };
        (Progress::plain(sink, heartbeat), lines)
    }

    #[tokio::test]
    async fn without_a_terminal_each_phase_change_is_a_line_and_a_long_build_beats() {
        let (progress, lines) = plain_progress(Duration::from_millis(100));
        let run = progress.queue_runs(&[(1, "control".into()), (2, "all 13 factors".into())]).remove(0);
        run.begin();
        run.phase(Phase::Create);
        run.phase(Phase::Create);
        run.phase(Phase::Building);
        run.log(b"compiling \x1b[31mhello.c\n");
        tokio::time::sleep(Duration::from_millis(350)).await;
        run.phase(Phase::Collecting);
        run.finish("done");
        tokio::time::sleep(Duration::from_millis(250)).await;
        let lines = lines.lock().unwrap().clone();
        let shown: Vec<String> = lines
            .iter()
            .map(|l| {
                l.split_whitespace()
                    .filter(|w| !w.ends_with('s') || *w == "still")
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        assert_eq!(shown[0], "run 1 [control] create", "{lines:?}");
        assert_eq!(shown[1], "run 1 [control] building", "{lines:?}");
        let beats =
            lines.iter().filter(|l| l.contains("still building │ compiling \u{fffd}[31mhello.c")).count();
        assert!((2..=4).contains(&beats), "a heartbeat every 100 ms of 350: {lines:?}");
        assert!(lines[lines.len() - 2].ends_with(" collecting"), "{lines:?}");
        assert!(lines[lines.len() - 1].ends_with(" done"), "{lines:?}");
        assert!(lines.iter().all(|l| !l.contains('\x1b')), "{lines:?}");
    }

    #[test]
    fn factor_labels() {
        let all: Vec<FactorId> = FactorId::all().take(4).collect();
        assert_eq!(factor_label(&[], &all), "control");
        assert_eq!(factor_label(&all, &all), "all 4 factors");
        assert_eq!(factor_label(&all[..2], &all), "environment,build_path");
    }
}
