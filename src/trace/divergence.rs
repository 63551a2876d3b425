//! The first divergence between two traced runs of the same build: which
//! files both wrote with different contents, which of them were derived
//! from another such file and which were not (the step where a factor
//! entered the build), and the chain from there to an output.
//!
//! Files are matched by their place relative to each run's build
//! directory (its parent's other files as `../name`, anything else by its
//! absolute path), so a varied build path still matches. Contents are the
//! tracer's SHA-256 at the build's end; a file only the first run left
//! differs too (its name came from a hash or a random source); a file
//! removed before the end (a compiler's temporary) has none and is never a
//! differing file.
//!
//! A write is *derived* when its step read a differing file before it,
//! after that file had been written in this run. Its step is the writer
//! and everything it started; what each ancestor read before starting
//! the next one on the way down (make reading a Makefile), since that
//! reaches the writer through arguments; and, for its parent and
//! grandparent unless one ran many children, what their other children
//! read before then (a shell's `$(cat year)`; gcc's cc1, whose output
//! reaches the linker through temporaries deleted before the end). An
//! ancestor that ran many children (make on a real project, a configure
//! script) is a driver, and anything further up runs the build's stages:
//! their other children are other steps.

use super::parse::{FileEventKind, PathId, Process};
use super::Trace;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Children a parent may have and still be one step with them.
const STEP_CHILDREN_MAX: usize = 16;
/// Levels above a writer whose other children are one step with it: its
/// parent (a shell's `$(cat year)`) and grandparent (gcc, whose cc1 feeds
/// the linker collect2 runs). Further up are the build's own stages
/// (`./configure && make && make dist`), steps of their own.
const STEP_LEVELS: usize = 2;
/// Files of the build tree a writer's sibling that wrote none may read and
/// still count as feeding it.
const SCAN_READS: usize = 8;

/// Differing files analysed; a build that differs in more is cut there
/// (earliest written first).
const DIFFERING_MAX: usize = 4096;

/// One run's trace and the build directory it ran in.
#[derive(Clone, Copy)]
pub struct Side<'a> {
    /// The trace.
    pub trace: &'a Trace,
    /// The build directory in the container.
    pub build_dir: &'a str,
}

/// One file both runs wrote with different contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diverged {
    /// Where it is (see [`place`]).
    pub place: String,
    /// When the first run last wrote it (ns from its trace's start).
    pub ns: u64,
    /// The process that wrote it in the first run.
    pub writer: Option<u32>,
    /// The differing files (indices into [`Divergence::files`]) its step
    /// read before writing it; none for a root cause.
    pub sources: Vec<usize>,
    /// Its content's SHA-256 at the first run's end (hex), when hashed.
    pub sha256: Option<String>,
}

/// What two runs' traces say about where they diverged.
#[derive(Debug, Clone, Default)]
pub struct Divergence {
    /// Files written in both with different contents, in the order the
    /// first run wrote them.
    pub files: Vec<Diverged>,
    /// More differing files than [`DIFFERING_MAX`] were found.
    pub cut: bool,
}

/// Where `path` (absolute in a container) is, for matching across runs
/// whose build directories differ: relative to `build_dir`, `../name`
/// beside it, or else absolute.
pub fn place(path: &str, build_dir: &str) -> String {
    let dir = build_dir.trim_end_matches('/');
    if let Some(rest) = path.strip_prefix(dir).and_then(|r| r.strip_prefix('/')) {
        return rest.to_string();
    }
    if let Some(parent) = dir.rsplit_once('/').map(|(p, _)| p) {
        if let Some(rest) = path.strip_prefix(parent).and_then(|r| r.strip_prefix('/')) {
            return format!("../{rest}");
        }
    }
    path.to_string()
}

/// The last write of a file: when, by whom, in trace order.
#[derive(Clone, Copy)]
struct Write {
    event: usize,
    ns: u64,
    pid: u32,
    /// Held as standard output or error by a program it exec'd.
    held: bool,
}

/// Whether `ancestor` started `pid` (however far up) and exited after it.
fn outlives(trace: &Trace, ancestor: u32, pid: u32) -> bool {
    let exited = |p: u32| trace.processes.get(&p).map(|p| p.exited_ns.unwrap_or(u64::MAX));
    let mut up = trace.processes.get(&pid).and_then(|p| p.parent);
    for _ in 0..64 {
        match up {
            Some(p) if p == ancestor => return exited(ancestor) > exited(pid),
            Some(p) => up = trace.processes.get(&p).and_then(|p| p.parent),
            None => return false,
        }
    }
    false
}

/// Each written file's writes, in trace order, by place (one per process
/// in a row: a shell's `> f` and the program it execs are one write).
fn writes(side: Side<'_>) -> HashMap<String, Vec<Write>> {
    let mut written: HashMap<String, Vec<Write>> = HashMap::new();
    let trace = side.trace;
    for (i, event) in trace.events.iter().enumerate() {
        let (target, pid) = match event.kind {
            FileEventKind::Write { .. } | FileEventKind::Holds { fd: 1 | 2 } => (event.path, event.pid),
            // A renamed or linked file keeps the writer of the name it had.
            FileEventKind::Rename | FileEventKind::Link => {
                let Some(to) = event.to else { continue };
                let from = place(trace.path(event.path), side.build_dir);
                (to, written.get(&from).and_then(|w| w.last()).map_or(event.pid, |w| w.pid))
            }
            _ => continue,
        };
        let held = matches!(event.kind, FileEventKind::Holds { .. });
        let write = Write { event: i, ns: event.ns, pid, held };
        let writes = written.entry(place(trace.path(target), side.build_dir)).or_default();
        match writes.last_mut() {
            Some(last) if last.pid == pid => *last = Write { event: last.event, ..write },
            // m4 runs a snippet that inherits its output: m4 writes on after it.
            Some(last) if held && last.held && outlives(trace, last.pid, pid) => {}
            _ => writes.push(write),
        }
    }
    written
}

/// Each file's content digest at the end, by place.
fn contents(side: Side<'_>) -> HashMap<String, (u64, Option<&str>)> {
    side.trace
        .digests
        .iter()
        .map(|(&path, c)| (place(side.trace.path(path), side.build_dir), (c.size, c.sha256.as_deref())))
        .collect()
}

impl Divergence {
    /// Compares the traces of runs `a` and `b`.
    pub fn between(a: Side<'_>, b: Side<'_>) -> Divergence {
        let written_a = writes(a);
        let (content_a, content_b) = (contents(a), contents(b));
        let differs = |place: &String| match (content_a.get(place), content_b.get(place)) {
            (Some((size_a, Some(a))), Some((size_b, Some(b)))) => size_a != size_b || a != b,
            // Over the hashing limit: only a different size tells.
            (Some((size_a, _)), Some((size_b, _))) => size_a != size_b,
            // Only the first run left it (a name made from a hash, a
            // random name): it differs, and what it was made from is
            // followed as for any other. (A trace cut short has no
            // digests at all: nothing is known.)
            (Some(_), None) => b.trace.complete(),
            _ => false,
        };
        let mut differing: Vec<(&String, &Vec<Write>)> =
            written_a.iter().filter(|(place, _)| differs(place)).collect();
        let last = |writes: &Vec<Write>| {
            writes.last().copied().unwrap_or(Write { event: 0, ns: 0, pid: 0, held: false })
        };
        differing.sort_by_key(|(place, writes)| (last(writes).event, (*place).clone()));
        let cut = differing.len() > DIFFERING_MAX;
        differing.truncate(DIFFERING_MAX);
        let index: HashMap<&str, usize> =
            differing.iter().enumerate().map(|(i, (place, _))| (place.as_str(), i)).collect();
        let steps = Steps::new(a.trace, a.build_dir);
        // Reads of differing files, by process: (ns, which file), only those
        // after the file was first written in this run.
        let mut reads: HashMap<u32, Vec<(u64, usize)>> = HashMap::new();
        let mut place_of: HashMap<PathId, Option<usize>> = HashMap::new();
        for (i, event) in a.trace.events.iter().enumerate() {
            if event.kind != FileEventKind::Read {
                continue;
            }
            let file = *place_of
                .entry(event.path)
                .or_insert_with(|| index.get(place(a.trace.path(event.path), a.build_dir).as_str()).copied());
            if let Some(file) = file {
                if differing[file].1.first().is_some_and(|w| i > w.event) {
                    reads.entry(event.pid).or_default().push((event.ns, file));
                }
            }
        }
        let files = differing
            .iter()
            .enumerate()
            .map(|(i, (place, writes))| Diverged {
                place: (*place).clone(),
                ns: last(writes).ns,
                writer: Some(last(writes).pid),
                sources: sources(&steps, &reads, i, writes).into_iter().collect(),
                sha256: content_a.get(*place).and_then(|(_, sha)| sha.map(str::to_string)),
            })
            .collect();
        Divergence { files, cut }
    }

    /// The differing files no other one was derived into: where the
    /// factor entered, earliest first.
    pub fn roots(&self) -> impl Iterator<Item = (usize, &Diverged)> {
        self.files.iter().enumerate().filter(|(_, f)| f.sources.is_empty())
    }

    /// The differing file at `place`.
    pub fn find(&self, place: &str) -> Option<usize> {
        self.files.iter().position(|f| f.place == place)
    }

    /// The differing file a member `name` of an output (`./usr/bin/hello`
    /// in a .deb) was packed from. With the member's content digest in the
    /// first run (`digest`, a hex prefix will do), the file whose content
    /// it is, among those whose place ends with the longest tail of the
    /// member's path (`hello-2.10/po/hello.pot` from `po/hello.pot`: the
    /// directory a tarball was packed from is often gone), else any file
    /// with that content; without one, or when none has it, the last
    /// written with the longest tail.
    pub fn find_member(&self, name: &str, digest: Option<&str>) -> Option<usize> {
        let has = |i: &usize| {
            let sha = self.files[*i].sha256.as_deref();
            digest.is_some_and(|d| !d.is_empty() && sha.is_some_and(|s| s.starts_with(d)))
        };
        let by_path = self.by_tail(name);
        by_path
            .iter()
            .rev()
            .find(|i| has(i))
            .copied()
            .or_else(|| (0..self.files.len()).rev().find(has))
            .or_else(|| by_path.last().copied())
    }

    /// The files whose place ends with the longest tail of `name` that
    /// any place ends with, in write order.
    fn by_tail(&self, name: &str) -> Vec<usize> {
        let name = name.trim_start_matches("./").trim_start_matches('/');
        let mut tail = name;
        while !tail.is_empty() {
            let suffix = format!("/{tail}");
            let found: Vec<usize> = (0..self.files.len())
                .filter(|&i| self.files[i].place == tail || self.files[i].place.ends_with(&suffix))
                .collect();
            if !found.is_empty() {
                return found;
            }
            tail = match tail.split_once('/') {
                Some((_, rest)) => rest,
                None => "",
            };
        }
        Vec::new()
    }

    /// The chain from a root cause to file `to`, root first: a path back
    /// through the files each step read, taking the last written first
    /// (the nearest: a packer read both the year and the file made from
    /// it) and going round cycles (objcopy reads the binary to write its
    /// debug file, then rewrites the binary from it). Ends at a file that
    /// is no root only when no root can be reached.
    pub fn chain_to(&self, to: usize) -> Vec<usize> {
        let mut visited = vec![false; self.files.len()];
        let mut path = vec![to];
        let mut longest = path.clone();
        let mut options: Vec<Vec<usize>> = vec![self.sources_by_recency(to)];
        visited[to] = true;
        while let Some(next) = options.last_mut() {
            let Some(source) = next.pop() else {
                options.pop();
                path.pop();
                continue;
            };
            if visited[source] {
                continue;
            }
            visited[source] = true;
            path.push(source);
            if self.files[source].sources.is_empty() {
                path.reverse();
                return path;
            }
            if path.len() > longest.len() {
                longest = path.clone();
            }
            options.push(self.sources_by_recency(source));
        }
        longest.reverse();
        longest
    }

    /// The sources of file `i`, the last written at the end (popped first).
    fn sources_by_recency(&self, i: usize) -> Vec<usize> {
        let mut sources = self.files[i].sources.clone();
        sources.sort_by_key(|&s| (self.files[s].ns, s));
        sources
    }
}

/// Writes of one file followed back while each rewrote it in place.
const REWRITES_MAX: usize = 16;

/// The differing files the steps that wrote file `i` read: its last
/// writer's, and while a writer read the file itself (an in-place rewrite:
/// `strip`, `objcopy`, `sed -i`), the writer's before it too.
fn sources(
    steps: &Steps<'_>,
    reads: &HashMap<u32, Vec<(u64, usize)>>,
    i: usize,
    writes: &[Write],
) -> BTreeSet<usize> {
    let mut sources = BTreeSet::new();
    for write in writes.iter().rev().take(REWRITES_MAX) {
        let mut rewrote = false;
        for (pid, before) in steps.of(write.pid, write.ns) {
            for &(_, file) in reads.get(&pid).into_iter().flatten().filter(|(ns, _)| *ns <= before) {
                match file == i {
                    true => rewrote = true,
                    false => {
                        sources.insert(file);
                    }
                }
            }
        }
        if !rewrote {
            break;
        }
    }
    sources
}

/// How a writer's sibling fed it ([`Steps::feeds`]).
enum Feeds {
    /// It did not (a scan done before the writer started).
    No,
    /// It ran beside the writer (a pipeline): all of it counts.
    Beside,
    /// It was done before: what it and its descendants read, scans left out.
    Before,
}

/// The process tree of a trace, for finding a write's step.
struct Steps<'a> {
    processes: &'a BTreeMap<u32, Process>,
    children: HashMap<u32, Vec<u32>>,
    /// Files in the build directory each process opened for reading.
    tree_reads: HashMap<u32, usize>,
    /// Processes that wrote a file.
    writers: BTreeSet<u32>,
}

impl<'a> Steps<'a> {
    fn new(trace: &'a Trace, build_dir: &str) -> Steps<'a> {
        let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
        for process in trace.processes.values() {
            if let Some(parent) = process.parent.filter(|&p| p != process.pid) {
                children.entry(parent).or_default().push(process.pid);
            }
        }
        let mut tree_reads: HashMap<u32, usize> = HashMap::new();
        let mut writers = BTreeSet::new();
        let tree = format!("{}/", build_dir.trim_end_matches('/'));
        for event in &trace.events {
            match event.kind {
                FileEventKind::Read if trace.path(event.path).starts_with(&tree) => {
                    *tree_reads.entry(event.pid).or_default() += 1
                }
                // `2>/dev/null` is no file written.
                FileEventKind::Write { .. } if !trace.path(event.path).starts_with("/dev/") => {
                    writers.insert(event.pid);
                }
                _ => {}
            }
        }
        Steps { processes: &trace.processes, children, tree_reads, writers }
    }

    /// Whether `sibling` of `writer` fed it: it wrote a file (cc1's
    /// assembly, read by `as`); it ran beside the writer (`md5sum … | perl
    /// > md5sums`: a pipeline); or it read a few files of the tree
    /// (`$(cat year)`, whose output is the writer's argument). One that
    /// read many, wrote none and was done before the writer started
    /// (`if grep NAME ../*; then …`) tells nothing about any one of them.
    fn feeds(&self, sibling: u32, writer: u32) -> Feeds {
        let life = |pid: u32| {
            let p = self.processes.get(&pid);
            let start = p.and_then(|p| p.forked_ns.or(p.exec_ns)).unwrap_or(0);
            (start, p.and_then(|p| p.exited_ns).unwrap_or(u64::MAX))
        };
        let ((s_start, s_end), (w_start, w_end)) = (life(sibling), life(writer));
        match (s_start < w_end && w_start < s_end, self.scans(sibling)) {
            (true, _) => Feeds::Beside,
            (false, false) => Feeds::Before,
            (false, true) => Feeds::No,
        }
    }

    /// The processes of the step that wrote at `ns` as `writer`, each with
    /// the time up to which its reads count (the writer and what it
    /// started: until they exit).
    fn of(&self, writer: u32, ns: u64) -> Vec<(u32, u64)> {
        let mut step = Vec::new();
        let mut seen = BTreeSet::new();
        // A file held open at an exec (`gzip -c all.txt > out.gz`) is
        // written while the program runs, after it read its input: the
        // writer's own reads count until it exits.
        let until = self.processes.get(&writer).and_then(|p| p.exited_ns).unwrap_or(u64::MAX).max(ns);
        self.subtree(writer, until, false, &mut step, &mut seen);
        let mut below = writer;
        let mut parent = self.processes.get(&writer).and_then(|p| p.parent);
        let mut one_step = true;
        let mut level = 0;
        while let Some(pid) = parent {
            if !seen.insert(pid) {
                break;
            }
            // What an ancestor knew when it started the next one down.
            let started = self.processes.get(&below).and_then(|p| p.forked_ns).unwrap_or(ns).min(ns);
            step.push((pid, started));
            let children = self.children.get(&pid).map_or(&[][..], Vec::as_slice);
            // Up to the first driver: gcc's cc1 is one step with the
            // linker collect2 runs; make's other recipes are not.
            one_step = one_step && level < STEP_LEVELS && children.len() <= STEP_CHILDREN_MAX;
            level += 1;
            if one_step {
                // Until the writer is done: a pipeline's producer reads on,
                // and all of it feeds the writer (`xargs md5sum | perl`).
                for &child in children {
                    match self.feeds(child, below) {
                        Feeds::No => {}
                        Feeds::Beside => self.subtree(child, until, false, &mut step, &mut seen),
                        Feeds::Before => self.subtree(child, until, true, &mut step, &mut seen),
                    }
                }
            }
            below = pid;
            parent = self.processes.get(&pid).and_then(|p| p.parent);
        }
        step
    }

    /// `top` and its descendants, each up to `ns`; below a writer's
    /// sibling (`beside`), without the scans (see [`Steps::scans`]).
    fn subtree(&self, top: u32, ns: u64, beside: bool, step: &mut Vec<(u32, u64)>, seen: &mut BTreeSet<u32>) {
        let mut stack = vec![top];
        while let Some(pid) = stack.pop() {
            if !seen.insert(pid) {
                continue;
            }
            if !(beside && pid != top && self.scans(pid)) {
                step.push((pid, ns));
            }
            stack.extend(self.children.get(&pid).into_iter().flatten());
        }
    }

    /// Whether `pid` read many files of the tree and wrote none: a scan
    /// (`grep NAME ../*`), no evidence for any one file it read.
    fn scans(&self, pid: u32) -> bool {
        !self.writers.contains(&pid) && self.tree_reads.get(&pid).copied().unwrap_or(0) > SCAN_READS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST_A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const DIGEST_B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    const DIGEST_C: &str = "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc";

    /// make runs three recipes: `date > year` (the step where the time
    /// enters), `sed s/@Y@/$(cat year)/ in > hello.c` (cat is the shell's
    /// child, sed its exec), `cc hello.c -o hello` (cc1 reads, as writes
    /// from a temporary); `notes` is written alike in both runs.
    fn trace(build: &str, year: &str, source: &str, binary: &str) -> Trace {
        let text = format!(
            "reprocheck-trace\t1\tx86_64\n\
            exec\t1\t1\t{build}\t/usr/bin/make\t1\tmake\n\
            fork\t2\t1\t2\n\
            exec\t3\t2\t{build}\t/usr/bin/date\t2\tdate\t+%Y\n\
            open\t4\t2\tw\t1\t{build}/year\n\
            exit\t5\t2\t0\n\
            fork\t6\t1\t3\n\
            exec\t7\t3\t{build}\t/bin/sh\t3\tsh\t-c\tsed\n\
            fork\t8\t3\t4\n\
            exec\t9\t4\t{build}\t/bin/cat\t2\tcat\tyear\n\
            open\t10\t4\tr\t0\t{build}/year\n\
            exit\t11\t4\t0\n\
            open\t12\t3\tw\t1\t{build}/hello.c\n\
            exec\t13\t3\t{build}\t/bin/sed\t2\tsed\ts/@Y@/\n\
            exit\t14\t3\t0\n\
            fork\t15\t1\t5\n\
            exec\t16\t5\t{build}\t/usr/bin/cc\t2\tcc\thello.c\n\
            fork\t17\t5\t6\n\
            exec\t18\t6\t{build}\t/usr/lib/cc1\t1\tcc1\n\
            open\t19\t6\tr\t0\t{build}/hello.c\n\
            open\t20\t6\tw\t1\t/tmp/cc1.s\n\
            exit\t21\t6\t0\n\
            fork\t22\t5\t7\n\
            exec\t23\t7\t{build}\t/usr/bin/as\t1\tas\n\
            open\t24\t7\tr\t0\t/tmp/cc1.s\n\
            open\t25\t7\tw\t1\t{build}/hello\n\
            exit\t26\t7\t0\n\
            fork\t27\t1\t8\n\
            exec\t28\t8\t{build}\t/bin/cp\t1\tcp\n\
            open\t29\t8\tw\t1\t{build}/notes\n\
            exit\t30\t8\t0\n\
            digest\t31\t5\t{year}\t{build}/year\n\
            digest\t31\t9\t{source}\t{build}/hello.c\n\
            digest\t31\t9\t{binary}\t{build}/hello\n\
            digest\t31\t9\t{DIGEST_C}\t{build}/notes\n\
            end\t32\t0\n"
        );
        Trace::parse(text.as_bytes()).unwrap()
    }

    #[test]
    fn the_step_where_the_year_entered_is_the_root_and_the_chain_reaches_the_binary() {
        let a = trace("/build/p", DIGEST_A, DIGEST_A, DIGEST_A);
        let b = trace("/build/other/p", DIGEST_B, DIGEST_B, DIGEST_B);
        let d = Divergence::between(
            Side { trace: &a, build_dir: "/build/p" },
            Side { trace: &b, build_dir: "/build/other/p" },
        );
        let places: Vec<&str> = d.files.iter().map(|f| f.place.as_str()).collect();
        assert_eq!(places, ["year", "hello.c", "hello"], "notes is alike; the temporary has no digest");
        let roots: Vec<&str> = d.roots().map(|(_, f)| f.place.as_str()).collect();
        assert_eq!(roots, ["year"]);
        assert_eq!(d.files[0].writer, Some(2));
        assert_eq!(d.files[1].sources, [0], "cat, the shell's child, read the year");
        // cc1, the writer's sibling under cc, read hello.c; make ran few
        // recipes, so what they read before (cat: the year) counts too.
        assert_eq!(d.files[2].sources, [0, 1]);
        assert_eq!(d.chain_to(2), [0, 1, 2]);
        assert_eq!(d.find_member("./hello", None), Some(2));
        assert_eq!(d.find_member("p-1.0/hello", None), Some(2), "the packed directory's name dropped");
        assert_eq!(d.find_member("./usr/share/doc/p/notes", None), None, "notes is alike in both");
        assert_eq!(d.find_member("", None), None);
        // By content: the member named `hello.c` holds what `year` holds
        // (all three files have that digest here, so the path decides).
        assert_eq!(d.find_member("./hello.c", Some(&DIGEST_A[..12])), Some(1));
        assert_eq!(d.find_member("./elsewhere/copy", Some(&DIGEST_A[..12])), Some(2), "any file with it");
        assert_eq!(d.find_member("./elsewhere/copy", Some("0123456789ab")), None);
    }

    #[test]
    fn a_file_differing_from_the_start_is_a_root_of_its_own() {
        // Only the binary differs: its step read nothing that differs.
        let a = trace("/b/p", DIGEST_A, DIGEST_A, DIGEST_A);
        let b = trace("/b/p", DIGEST_A, DIGEST_A, DIGEST_B);
        let d =
            Divergence::between(Side { trace: &a, build_dir: "/b/p" }, Side { trace: &b, build_dir: "/b/p" });
        let roots: Vec<&str> = d.roots().map(|(_, f)| f.place.as_str()).collect();
        assert_eq!(roots, ["hello"]);
    }

    #[test]
    fn a_file_rewritten_in_place_keeps_what_its_earlier_writers_read() {
        // install copies the year into pkg/year; strip rewrites it in
        // place (reads it, writes it): it still came from the year.
        let text = |digest: &str| {
            format!(
                "reprocheck-trace\t1\tx86_64\nexec\t1\t1\t/b\t/bin/sh\t1\tsh\n{extra}\
                fork\t2\t1\t2\nopen\t3\t2\tw\t1\t/b/year\nexit\t4\t2\t0\n\
                fork\t5\t1\t3\nopen\t6\t3\tr\t0\t/b/year\nopen\t7\t3\tw\t1\t/b/pkg/year\nexit\t8\t3\t0\n\
                fork\t9\t1\t4\nopen\t10\t4\tr\t0\t/b/pkg/year\nopen\t11\t4\tw\t1\t/b/pkg/year\nexit\t12\t4\t0\n\
                digest\t13\t1\t{digest}\t/b/year\ndigest\t13\t1\t{digest}\t/b/pkg/year\nend\t14\t0\n",
                extra = (100..120).map(|p| format!("fork\t1\t1\t{p}\n")).collect::<String>()
            )
        };
        let (a, b) = (
            Trace::parse(text(DIGEST_A).as_bytes()).unwrap(),
            Trace::parse(text(DIGEST_B).as_bytes()).unwrap(),
        );
        let d = Divergence::between(Side { trace: &a, build_dir: "/b" }, Side { trace: &b, build_dir: "/b" });
        assert_eq!(d.files[1].place, "pkg/year");
        assert_eq!(d.files[1].writer, Some(4), "the last writer is named");
        assert_eq!(d.files[1].sources, [0], "through the earlier writer");
        let roots: Vec<&str> = d.roots().map(|(_, f)| f.place.as_str()).collect();
        assert_eq!(roots, ["year"]);
    }

    /// configure writes config.log; then a shell runs `grep NAME ../*`
    /// (reads every top file, config.log too) before xgettext writes
    /// hello.pot; then `xargs md5sum | perl > md5sums`, a pipeline whose
    /// md5sum reads many files, hello.pot among them.
    fn scan_and_pipeline(digest: &str) -> Trace {
        let scanned: String = (0..12).map(|i| format!("open\t11\t5\tr\t0\t/b/f{i}\n")).collect();
        let scanned_by_md5sum = scanned.replace("\t5\t", "\t10\t").replace("\t11\t", "\t23\t");
        let text = format!(
            "reprocheck-trace\t1\tx86_64\nexec\t1\t1\t/b\t/bin/sh\t1\tsh\n\
            fork\t2\t1\t2\nopen\t3\t2\tw\t1\t/b/config.log\nexit\t4\t2\t0\n\
            fork\t5\t1\t3\nexec\t6\t3\t/b\t/bin/sh\t2\tsh\t-c\n\
            fork\t10\t3\t5\nexec\t10\t5\t/b\t/bin/grep\t1\tgrep\n{scanned}\
            open\t11\t5\tr\t0\t/b/config.log\nopen\t11\t5\tw\t0\t/dev/null\nexit\t12\t5\t0\n\
            fork\t13\t3\t6\nexec\t13\t6\t/b\t/usr/bin/xgettext\t1\txgettext\n\
            open\t14\t6\tw\t1\t/b/hello.pot\nexit\t15\t6\t0\nexit\t16\t3\t0\n\
            fork\t20\t1\t7\nexec\t20\t7\t/b\t/bin/sh\t2\tsh\t-c\n\
            fork\t21\t7\t8\nexec\t21\t8\t/b\t/usr/bin/xargs\t1\txargs\nfork\t22\t8\t10\n\
            exec\t22\t10\t/b\t/usr/bin/md5sum\t1\tmd5sum\n{scanned_by_md5sum}\
            fork\t21\t7\t9\nopen\t21\t9\tw\t1\t/b/md5sums\nexec\t22\t9\t/b\t/usr/bin/perl\t1\tperl\n\
            open\t23\t10\tr\t0\t/b/hello.pot\nexit\t24\t10\t0\nexit\t24\t8\t0\nexit\t25\t9\t0\nexit\t26\t7\t0\n\
            digest\t30\t1\t{digest}\t/b/config.log\ndigest\t30\t1\t{digest}\t/b/hello.pot\n\
            digest\t30\t1\t{digest}\t/b/md5sums\nend\t31\t0\n"
        );
        Trace::parse(text.as_bytes()).unwrap()
    }

    #[test]
    fn a_scan_done_before_is_no_source_and_a_pipeline_is_one() {
        let (a, b) = (scan_and_pipeline(DIGEST_A), scan_and_pipeline(DIGEST_B));
        let d = Divergence::between(Side { trace: &a, build_dir: "/b" }, Side { trace: &b, build_dir: "/b" });
        let places: Vec<&str> = d.files.iter().map(|f| f.place.as_str()).collect();
        assert_eq!(places, ["config.log", "hello.pot", "md5sums"]);
        assert_eq!(
            d.files[1].sources,
            [] as [usize; 0],
            "grep read config.log among many, before xgettext ran"
        );
        assert_eq!(d.files[2].sources, [1], "xargs' md5sum fed perl through a pipe while it ran");
        assert_eq!(d.chain_to(2), [1, 2]);
    }

    #[test]
    fn a_file_only_one_run_left_differs_and_carries_what_it_was_made_from() {
        // objcopy names the debug file by a hash of the binary: each run's
        // has another name; md5sum then lists it.
        let text = |digest: &str, id: &str| {
            format!(
                "reprocheck-trace\t1\tx86_64\nexec\t1\t1\t/b\t/bin/sh\t1\tsh\n{extra}\
                fork\t2\t1\t2\nopen\t3\t2\tw\t1\t/b/hello\nexit\t4\t2\t0\n\
                fork\t5\t1\t3\nopen\t6\t3\tr\t0\t/b/hello\nopen\t7\t3\tw\t1\t/b/debug/{id}\nexit\t8\t3\t0\n\
                fork\t9\t1\t4\nopen\t10\t4\tr\t0\t/b/debug/{id}\nopen\t11\t4\tw\t1\t/b/md5sums\nexit\t12\t4\t0\n\
                digest\t13\t1\t{digest}\t/b/hello\ndigest\t13\t1\t{digest}\t/b/debug/{id}\n\
                digest\t13\t1\t{digest}\t/b/md5sums\nend\t14\t0\n",
                extra = (100..120).map(|p| format!("fork\t1\t1\t{p}\n")).collect::<String>()
            )
        };
        let a = Trace::parse(text(DIGEST_A, "53").as_bytes()).unwrap();
        let b = Trace::parse(text(DIGEST_B, "08").as_bytes()).unwrap();
        let d = Divergence::between(Side { trace: &a, build_dir: "/b" }, Side { trace: &b, build_dir: "/b" });
        let places: Vec<&str> = d.files.iter().map(|f| f.place.as_str()).collect();
        assert_eq!(places, ["hello", "debug/53", "md5sums"]);
        assert_eq!(d.chain_to(2), [0, 1, 2]);
        // Against a trace cut short (no digests), nothing is known to differ.
        let cut = Trace::parse(text(DIGEST_B, "08").split("digest").next().unwrap().as_bytes()).unwrap();
        let d =
            Divergence::between(Side { trace: &a, build_dir: "/b" }, Side { trace: &cut, build_dir: "/b" });
        assert!(d.files.is_empty());
    }

    #[test]
    fn the_chain_goes_round_a_cycle_to_a_root() {
        // objcopy read the binary to write the debug file, then rewrote the
        // binary from it: binary <-> debug; the binary also came from year.
        let file = |place: &str, ns: u64, sources: Vec<usize>| Diverged {
            place: place.into(),
            ns,
            writer: None,
            sources,
            sha256: None,
        };
        let d = Divergence {
            files: vec![file("year", 1, vec![]), file("debug", 5, vec![2]), file("binary", 6, vec![0, 1])],
            cut: false,
        };
        assert_eq!(d.chain_to(2), [0, 2], "not stopped at the debug file, which is no root");
        assert_eq!(d.chain_to(1), [0, 2, 1]);
    }

    #[test]
    fn a_member_is_matched_by_its_content_among_files_of_the_same_name() {
        let file = |place: &str, sha: &str| Diverged {
            place: place.into(),
            ns: 0,
            writer: None,
            sources: vec![],
            sha256: Some(sha.into()),
        };
        let d = Divergence {
            files: vec![
                file("debian/hello/DEBIAN/md5sums", DIGEST_A),
                file("dbgsym-root/DEBIAN/md5sums", DIGEST_B),
            ],
            cut: false,
        };
        assert_eq!(d.find_member("./md5sums", Some(&DIGEST_A[..12])), Some(0), "not the last written");
        assert_eq!(d.find_member("./md5sums", None), Some(1), "without a digest: the last written");
    }

    #[test]
    fn make_is_a_driver_not_one_step_with_its_recipes() {
        // The year and an unrelated file differ; make ran more recipes than
        // one step holds, so the second is a root too, not derived.
        let mut extra = String::new();
        for pid in 100..100 + STEP_CHILDREN_MAX as u32 {
            extra.push_str(&format!("fork\t40\t1\t{pid}\nexit\t41\t{pid}\t0\n"));
        }
        let make = |stamp: &str| {
            let text = format!(
                "reprocheck-trace\t1\tx86_64\nexec\t1\t1\t/b\t/usr/bin/make\t1\tmake\n{extra}\
                fork\t2\t1\t2\nopen\t3\t2\tw\t1\t/b/year\nexit\t4\t2\t0\n\
                fork\t5\t1\t3\nopen\t6\t3\tr\t0\t/b/year\nexit\t7\t3\t0\n\
                fork\t8\t1\t4\nopen\t9\t4\tw\t1\t/b/stamp\nexit\t10\t4\t0\n\
                digest\t11\t1\t{stamp}\t/b/year\ndigest\t11\t1\t{stamp}\t/b/stamp\nend\t12\t0\n"
            );
            Trace::parse(text.as_bytes()).unwrap()
        };
        let (a, b) = (make(DIGEST_A), make(DIGEST_B));
        let d = Divergence::between(Side { trace: &a, build_dir: "/b" }, Side { trace: &b, build_dir: "/b" });
        let roots: Vec<&str> = d.roots().map(|(_, f)| f.place.as_str()).collect();
        assert_eq!(roots, ["year", "stamp"]);
    }

    #[test]
    fn places_match_across_build_paths() {
        assert_eq!(place("/build/x/src/a.c", "/build/x"), "src/a.c");
        assert_eq!(place("/build/x/src/a.c", "/build/x/"), "src/a.c");
        assert_eq!(place("/build/x.deb", "/build/x"), "../x.deb");
        assert_eq!(place("/build/xy/a", "/build/x"), "../xy/a");
        assert_eq!(place("/tmp/a", "/build/x"), "/tmp/a");
        assert_eq!(place("/build/xy", "/build/x"), "../xy");
    }
}
