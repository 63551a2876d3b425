//! Reads the tracer's output (format 1, described in src/trace/tracer.c):
//! the processes of a build with their argv, cwd and parent, and the file
//! events in the order they happened, each path stored once (a build opens
//! the same libraries thousands of times). The trace comes from inside the
//! container, so it is hostile input: every line is checked, a line that
//! does not parse (or is longer than [`LINE_MAX`]) is counted and skipped,
//! and a trace cut at [`super::TRACE_MAX_BYTES`] or by a build killed
//! mid-write reads as incomplete rather than failing.

use crate::errors::*;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;

/// The longest line read; the tracer clips argv to 4 KiB and paths to
/// PATH_MAX, so only a forged line is longer.
pub const LINE_MAX: usize = 64 << 10;

/// A path of the trace, by its index in [`Trace::paths`].
pub type PathId = u32;

/// One process of the build.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Process {
    /// Its pid in the container.
    pub pid: u32,
    /// The process that forked it (none for the build command itself).
    pub parent: Option<u32>,
    /// The program it ran last (`exec`), absolute.
    pub exe: Option<String>,
    /// Its arguments at that exec, clipped by the tracer.
    pub argv: Vec<String>,
    /// Its working directory at that exec.
    pub cwd: Option<String>,
    /// Nanoseconds from the trace's start: forked, last exec, exited.
    pub forked_ns: Option<u64>,
    /// When it last exec'd.
    pub exec_ns: Option<u64>,
    /// When it exited.
    pub exited_ns: Option<u64>,
    /// Exit code (128 + signal when killed).
    pub exit_code: Option<i32>,
}

/// What a process did to a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileEventKind {
    /// Opened it for reading.
    Read,
    /// Opened it for writing (created or truncated when `created`).
    Write {
        /// O_CREAT or O_TRUNC was given.
        created: bool,
    },
    /// Got it open for writing at an exec, as descriptor `fd` (a shell's
    /// `> file` is 1; a higher one is usually a leaked descriptor the
    /// program never writes).
    Holds {
        /// The descriptor.
        fd: u32,
    },
    /// Renamed `path` to `to`.
    Rename,
    /// Linked `to` to `path` (hard or symbolic; for a symlink `path` is the target as written).
    Link,
    /// Removed it.
    Unlink,
}

/// One file event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileEvent {
    /// Nanoseconds from the trace's start.
    pub ns: u64,
    /// The process (thread group) that did it.
    pub pid: u32,
    /// What it did.
    pub kind: FileEventKind,
    /// The file, absolute in the container ([`Trace::path`]).
    pub path: PathId,
    /// For a rename or link: the new name.
    pub to: Option<PathId>,
}

/// A written file's content at the build's end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Content {
    /// Its size in bytes.
    pub size: u64,
    /// Its SHA-256 in hex; `None` when the file was over the tracer's
    /// hashing limits (src/trace/digests.c).
    pub sha256: Option<String>,
}

/// A parsed trace.
#[derive(Debug, Clone, Default)]
pub struct Trace {
    /// The tracer's architecture line, or why it did not trace.
    pub arch: String,
    /// Whether the tracer traced at all (`untraced` otherwise).
    pub traced: bool,
    /// Every process by pid (a pid reused in one build keeps its last use).
    pub processes: BTreeMap<u32, Process>,
    /// File events in trace order.
    pub events: Vec<FileEvent>,
    /// Every path the events name, once each.
    pub paths: Vec<String>,
    path_ids: HashMap<String, PathId>,
    /// The content at the build's end of each file written that was still
    /// a regular file then.
    pub digests: HashMap<PathId, Content>,
    /// The build command's exit code, when the trace reached its end.
    pub end: Option<i32>,
    /// Lines that did not parse (skipped).
    pub bad_lines: usize,
}

impl Trace {
    /// Whether the trace reached the build command's end (not cut by a
    /// size limit, a kill or a timeout).
    pub fn complete(&self) -> bool {
        self.end.is_some()
    }

    /// Parses a trace in memory; see [`Trace::read`].
    pub fn parse(bytes: &[u8]) -> Result<Trace> {
        Trace::read(bytes)
    }

    /// Reads a trace line by line; fails only when it is not a reprocheck
    /// trace at all (or cannot be read).
    pub fn read(mut input: impl BufRead) -> Result<Trace> {
        let mut line = Vec::new();
        let header_len = read_line(&mut input, &mut line).context("reading the trace")?;
        let fields: Vec<String> = line.trim_ascii_end().split(|&b| b == b'\t').map(unescape).collect();
        ensure!(
            header_len > 0
                && fields.first().map(String::as_str) == Some("reprocheck-trace")
                && fields.get(1).map(String::as_str) == Some("1"),
            "not a reprocheck trace (format 1): it starts {:?}",
            String::from_utf8_lossy(&line[..line.len().min(40)])
        );
        let traced = fields.get(2).is_some_and(|a| a != "untraced");
        let mut trace = Trace { arch: fields[2..].join(" "), traced, ..Trace::default() };
        loop {
            let read = read_line(&mut input, &mut line).context("reading the trace")?;
            if read == 0 {
                break;
            }
            // A line over LINE_MAX (forged), or a last one cut mid-line
            // (a size limit, a kill): skipped.
            if read > LINE_MAX || line.last() != Some(&b'\n') {
                trace.bad_lines += 1;
                continue;
            }
            line.pop();
            if !line.is_empty() && trace.line(&line).is_none() {
                trace.bad_lines += 1;
            }
        }
        Ok(trace)
    }

    /// The path of `id`.
    pub fn path(&self, id: PathId) -> &str {
        self.paths.get(id as usize).map_or("", String::as_str)
    }

    /// The id of `path`, when the trace names it.
    pub fn path_id(&self, path: &str) -> Option<PathId> {
        self.path_ids.get(path).copied()
    }

    fn intern(&mut self, path: String) -> Option<PathId> {
        // Absolute paths the same way, however the tracer got them; a
        // symlink's target (relative, as written) stays as it is.
        let tidy = !path.contains("/.") && !path.contains("//");
        let path = match path.starts_with('/') && !tidy {
            true => normalize(&path),
            false => path,
        };
        if let Some(&id) = self.path_ids.get(&path) {
            return Some(id);
        }
        let id = PathId::try_from(self.paths.len()).ok()?;
        self.paths.push(path.clone());
        self.path_ids.insert(path, id);
        Some(id)
    }

    /// Takes one line; `None` when it does not parse.
    fn line(&mut self, line: &[u8]) -> Option<()> {
        let fields: Vec<&[u8]> = line.split(|&b| b == b'\t').collect();
        let text = |i: usize| fields.get(i).map(|f| unescape(f));
        let number = |i: usize| -> Option<u64> { std::str::from_utf8(fields.get(i)?).ok()?.parse().ok() };
        let ns = number(1);
        match fields[0] {
            b"fork" => {
                let (parent, child) = (u32::try_from(number(2)?).ok()?, u32::try_from(number(3)?).ok()?);
                // A fork runs its parent's program until it execs one of its own.
                let running =
                    self.processes.get(&parent).map(|p| (p.exe.clone(), p.argv.clone(), p.cwd.clone()));
                let (exe, argv, cwd) = running.unwrap_or_default();
                let process = Process {
                    pid: child,
                    parent: Some(parent),
                    forked_ns: ns,
                    exe,
                    argv,
                    cwd,
                    ..Process::default()
                };
                self.processes.insert(child, process);
            }
            b"exec" => {
                let pid = u32::try_from(number(2)?).ok()?;
                let argc = usize::try_from(number(5)?).ok()?;
                let argv: Vec<String> =
                    (6..6 + argc.min(fields.len().saturating_sub(6))).filter_map(text).collect();
                let process = self.process(pid);
                process.cwd = text(3);
                process.exe = text(4);
                process.argv = argv;
                process.exec_ns = ns;
            }
            b"exit" => {
                let pid = u32::try_from(number(2)?).ok()?;
                let code = i32::try_from(number(3)?).ok()?;
                let process = self.process(pid);
                process.exited_ns = ns;
                process.exit_code = Some(code);
            }
            b"end" => self.end = Some(i32::try_from(number(2)?).ok()?),
            b"digest" => {
                let size = number(2)?;
                let sha256 = match *fields.get(3)? {
                    b"-" => None,
                    hex if hex.len() == 64 && hex.iter().all(u8::is_ascii_hexdigit) => {
                        Some(String::from_utf8_lossy(hex).to_ascii_lowercase())
                    }
                    _ => return None,
                };
                let path = self.intern(text(4)?)?;
                self.digests.insert(path, Content { size, sha256 });
            }
            b"open" => {
                let kind = match (*fields.get(3)?, *fields.get(4)?) {
                    (b"r", _) => FileEventKind::Read,
                    (b"w", created) => FileEventKind::Write { created: created == b"1" },
                    _ => return None,
                };
                self.event(ns?, number(2)?, kind, text(5)?, None)?;
            }
            b"holds" => {
                let fd = u32::try_from(number(3)?).ok()?;
                self.event(ns?, number(2)?, FileEventKind::Holds { fd }, text(4)?, None)?
            }
            b"rename" => self.event(ns?, number(2)?, FileEventKind::Rename, text(3)?, Some(text(4)?))?,
            b"link" => self.event(ns?, number(2)?, FileEventKind::Link, text(3)?, Some(text(4)?))?,
            b"unlink" => self.event(ns?, number(2)?, FileEventKind::Unlink, text(3)?, None)?,
            _ => return None,
        }
        Some(())
    }

    fn process(&mut self, pid: u32) -> &mut Process {
        self.processes.entry(pid).or_insert_with(|| Process { pid, ..Process::default() })
    }

    fn event(
        &mut self,
        ns: u64,
        pid: u64,
        kind: FileEventKind,
        path: String,
        to: Option<String>,
    ) -> Option<()> {
        let pid = u32::try_from(pid).ok()?;
        let path = self.intern(path)?;
        let to = match to {
            Some(to) => Some(self.intern(to)?),
            None => None,
        };
        self.events.push(FileEvent { ns, pid, kind, path, to });
        Some(())
    }

    /// The process that last wrote the file at `path` (absolute in the
    /// container) before it got there: its last writer under that name,
    /// or, when it was renamed or linked there, the last writer of the
    /// name it came from.
    /// A descriptor held at an exec counts when it is standard output or
    /// error (a redirection); higher ones are mostly leaked, never written.
    pub fn writer_of(&self, path: &str) -> Option<u32> {
        let mut wanted = self.path_id(path)?;
        for event in self.events.iter().rev() {
            match event.kind {
                FileEventKind::Write { .. } | FileEventKind::Holds { fd: 1 | 2 } if event.path == wanted => {
                    return Some(event.pid)
                }
                FileEventKind::Rename | FileEventKind::Link if event.to == Some(wanted) => {
                    wanted = event.path
                }
                _ => {}
            }
        }
        None
    }

    /// `pid` and its ancestors up to the build command, nearest first.
    pub fn ancestry(&self, pid: u32) -> Vec<&Process> {
        let mut chain = Vec::new();
        let mut next = Some(pid);
        while let Some(pid) = next {
            // A cycle cannot come from a real trace; a hostile one stops here.
            if chain.len() > self.processes.len() {
                break;
            }
            let Some(process) = self.processes.get(&pid) else { break };
            chain.push(process);
            next = process.parent;
        }
        chain
    }

    /// How many distinct files the build wrote (created, wrote, or got by
    /// rename or link).
    pub fn files_written(&self) -> usize {
        let mut written = std::collections::BTreeSet::new();
        for event in &self.events {
            match event.kind {
                FileEventKind::Write { .. } | FileEventKind::Holds { fd: 1 | 2 } => {
                    written.insert(event.path);
                }
                FileEventKind::Rename | FileEventKind::Link => written.extend(event.to),
                _ => {}
            }
        }
        written.len()
    }
}

/// `path` with `.` and `..` taken out lexically (`/build/x/../a.deb` is
/// `/build/a.deb`), as the paths the tracer reads back from the kernel
/// are; those it resolves itself (a rename's, `cwd/./x`) are not.
pub fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            _ => parts.push(part),
        }
    }
    format!("/{}", parts.join("/"))
}

/// Reads one line into `line` (its newline kept), keeping at most
/// [`LINE_MAX`] + 1 bytes of it; returns the line's whole length.
fn read_line(input: &mut impl BufRead, line: &mut Vec<u8>) -> std::io::Result<usize> {
    line.clear();
    let mut total = 0;
    loop {
        let buf = input.fill_buf()?;
        if buf.is_empty() {
            return Ok(total);
        }
        let (n, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(end) => (end + 1, true),
            None => (buf.len(), false),
        };
        let room = (LINE_MAX + 1).saturating_sub(line.len());
        line.extend_from_slice(&buf[..n.min(room)]);
        total += n;
        input.consume(n);
        if done {
            return Ok(total);
        }
    }
}

/// A field with the tracer's `\xHH` escapes undone (bytes that are not
/// UTF-8 shown as U+FFFD).
fn unescape(field: &[u8]) -> String {
    let mut bytes = Vec::with_capacity(field.len());
    let mut i = 0;
    while i < field.len() {
        if field[i] == b'\\' && field.len() >= i + 4 && field[i + 1] == b'x' {
            if let Some(byte) =
                std::str::from_utf8(&field[i + 2..i + 4]).ok().and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                bytes.push(byte);
                i += 4;
                continue;
            }
        }
        bytes.push(field[i]);
        i += 1;
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The process as one short line: `make -C src` (argv clipped to `max`
/// characters). The build chose its argv: control characters (a newline
/// that would start a forged line in the summary, a terminal escape) are
/// replaced.
pub fn command_line(process: &Process, max: usize) -> String {
    let line = match process.argv.is_empty() {
        true => process.exe.clone().unwrap_or_else(|| format!("pid {}", process.pid)),
        false => process.argv.join(" "),
    };
    // A shell snippet's newlines and tabs read as spaces; other controls go.
    let line = line.replace(['\n', '\t', '\r'], " ");
    crate::style::clip(&crate::style::without_controls(&line), max)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRACE: &str = "reprocheck-trace\t1\tx86_64\n\
        exec\t10\t7\t/b\t/usr/bin/sh\t3\tsh\t-c\tdate\\x20>\\x20stamp;\\x20make\n\
        fork\t20\t7\t8\n\
        exec\t30\t8\t/b\t/usr/bin/date\t1\tdate\n\
        holds\t30\t8\t1\t/b/stamp\n\
        holds\t30\t8\t5\t/b/leaked\n\
        exit\t40\t8\t0\n\
        fork\t50\t7\t9\n\
        exec\t60\t9\t/b\t/usr/bin/make\t1\tmake\n\
        open\t65\t9\tr\t0\t/b/stamp\n\
        open\t70\t9\tw\t1\t/b/out.tmp\n\
        rename\t80\t9\t/b/out.tmp\t/b/out\n\
        exit\t90\t9\t0\n\
        unlink\t91\t9\t/b/./sub/../gone\n\
        digest\t92\t3\tABCDEF0123456789abcdef0123456789abcdef0123456789abcdef0123456789\t/b/out\n\
        digest\t92\t999999999\t-\t/b/stamp\n\
        end\t95\t0\n";

    #[test]
    fn reads_processes_events_and_the_end() {
        let trace = Trace::parse(TRACE.as_bytes()).unwrap();
        assert!(trace.traced && trace.complete() && trace.bad_lines == 0);
        assert_eq!(trace.processes[&7].argv, ["sh", "-c", "date > stamp; make"]);
        assert_eq!(trace.processes[&9].parent, Some(7));
        assert_eq!(trace.writer_of("/b/stamp"), Some(8));
        assert_eq!(trace.writer_of("/b/out"), Some(9), "through the rename");
        assert_eq!(trace.writer_of("/b/nothing"), None);
        let chain: Vec<String> = trace.ancestry(9).iter().map(|p| command_line(p, 10)).collect();
        assert_eq!(chain, ["make", "sh -c date…"]);
        assert_eq!(trace.files_written(), 3, "a leaked descriptor is no write");
        assert_eq!(trace.writer_of("/b/leaked"), None);
        assert!(trace.path_id("/b/gone").is_some(), "paths the tracer resolved itself are normalized");
        let out = &trace.digests[&trace.path_id("/b/out").unwrap()];
        assert_eq!((out.size, out.sha256.as_deref()), (3, Some(&*"abcdef0123456789".repeat(4))));
        assert_eq!(trace.digests[&trace.path_id("/b/stamp").unwrap()].sha256, None, "over the limits");
    }

    #[test]
    fn a_cut_or_hostile_trace_reads_as_incomplete_and_skips_bad_lines() {
        let cut = &TRACE.as_bytes()[..TRACE.find("exit\t90").unwrap() + 4];
        let trace = Trace::parse(cut).unwrap();
        assert!(!trace.complete());
        assert_eq!(trace.writer_of("/b/out"), Some(9));
        let hostile = "reprocheck-trace\t1\tx86_64\nfork\t1\t2\nexec\t1\t99999999999\t/\t/x\t1\tx\n\
            fork\t1\t3\t4\nfork\t1\t4\t3\nopen\t1\t4\tq\t0\t/x\nbogus\n\
            digest\t1\t1\tzz\t/x\ndigest\t1\t1\t-\n";
        let trace = Trace::parse(hostile.as_bytes()).unwrap();
        assert_eq!(trace.bad_lines, 6);
        // A parent cycle ends the chain instead of looping.
        assert!(trace.ancestry(3).len() <= 3);
        assert!(Trace::parse(b"#!/bin/sh\n").is_err());
        // A forged line longer than LINE_MAX is skipped, not kept.
        let long =
            format!("reprocheck-trace\t1\tx86_64\nunlink\t1\t2\t/{}\nend\t2\t0\n", "a".repeat(LINE_MAX));
        let trace = Trace::parse(long.as_bytes()).unwrap();
        assert_eq!((trace.bad_lines, trace.events.len(), trace.complete()), (1, 0, true));
    }

    #[test]
    fn a_command_line_never_carries_a_newline_or_an_escape() {
        let forged = Process {
            argv: vec!["sh".into(), "-c".into(), "x\nREPRODUCIBLE: 2 runs\x1b[2J".into()],
            ..Process::default()
        };
        let line = command_line(&forged, 200);
        assert!(!line.chars().any(char::is_control), "{line:?}");
        assert_eq!(command_line(&forged, 4), "sh -…");
    }

    #[test]
    fn outputs_above_the_build_dir_are_found_by_their_real_path() {
        assert_eq!(normalize("/build/hello/../hello_2.10-3_amd64.deb"), "/build/hello_2.10-3_amd64.deb");
        assert_eq!(normalize("/build/./x//y"), "/build/x/y");
        assert_eq!(normalize("/../../etc"), "/etc");
    }

    #[test]
    fn escapes_are_undone_and_bad_escapes_kept() {
        assert_eq!(unescape(b"a\\x20b\\x09c\\x5c"), "a b\tc\\");
        assert_eq!(unescape(b"\\xZZ\\x4"), "\\xZZ\\x4");
    }
}
