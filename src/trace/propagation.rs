//! From a differing output back to the step of the build where the
//! difference entered, as the report shows it: for the output, and for
//! each differing member inside it, the chain of written files that
//! carried the difference, each with the command that wrote it, starting
//! at a root cause of the [`Divergence`] of the two runs' traces.

use super::divergence::{place, Divergence, Side};
use super::parse::{command_line, normalize};
use super::Trace;
use serde::Serialize;

/// Characters of one command line in a chain.
const COMMAND_CHARS: usize = 160;
/// Root causes followed per output.
const ROOTS_MAX: usize = 4;
/// Programs listed under where a difference entered.
const RAN_MAX: usize = 4;
/// Processes looked at below it.
const RAN_SCANNED: usize = 4096;
/// Members of one output looked up in the build tree.
const MEMBERS_MAX: usize = 256;

/// How a difference got into an output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Propagation {
    /// The step where it entered: the process that wrote the first file
    /// of the chain, then its ancestors up to the build command.
    pub entered: Vec<String>,
    /// What that process ran below it, first ones first (`date +%Y` under
    /// a shell snippet): where the difference may have come from.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ran: Vec<String>,
    /// The files that carried it, in the order they were written: the
    /// first is where it entered, the last the output's own file (or the
    /// build-tree file of the member).
    pub chain: Vec<CarriedBy>,
    /// The member of the output the chain ends in (`./usr/bin/hello`),
    /// when it ends inside an archive.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
    /// What to change in the step where it entered, when the factor that
    /// caused it is known (set by explain).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// One file of a chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CarriedBy {
    /// Where it is: relative to the build directory (`../x` beside it),
    /// or absolute.
    pub file: String,
    /// The command line that wrote it.
    pub written_by: String,
}

/// A differing member of an archive output: its name, and its content's
/// digest in the first run (hex, a prefix will do) when known.
pub type Member = (String, Option<String>);

/// The chains into `output` (its path relative to the build directory),
/// via its differing `members` when it is an archive, from the
/// `divergence` of the traced run `a` (whose trace names the commands)
/// from another.
pub fn into_output(
    a: Side<'_>,
    divergence: &Divergence,
    output: &str,
    members: &[Member],
) -> Vec<Propagation> {
    let mut ends: Vec<(usize, Option<String>)> = members
        .iter()
        .take(MEMBERS_MAX)
        .filter_map(|(m, digest)| Some((divergence.find_member(m, digest.as_deref())?, Some(m.clone()))))
        .collect();
    let output_place =
        place(&normalize(&format!("{}/{output}", a.build_dir.trim_end_matches('/'))), a.build_dir);
    if ends.is_empty() {
        ends.extend(divergence.find(&output_place).map(|i| (i, None)));
    }
    // Earliest written first: a package's payload (usr/bin/hello) before
    // the checksums and control files computed from it.
    ends.sort_by_key(|(i, _)| *i);
    let mut seen_roots = Vec::new();
    let mut propagations = Vec::new();
    for (end, member) in ends {
        let chain = divergence.chain_to(end);
        let root = chain[0];
        if seen_roots.contains(&root) || seen_roots.len() == ROOTS_MAX {
            continue;
        }
        seen_roots.push(root);
        propagations.push(propagation(a.trace, divergence, &chain, member));
    }
    propagations
}

fn propagation(
    trace: &Trace,
    divergence: &Divergence,
    chain: &[usize],
    member: Option<String>,
) -> Propagation {
    let command = |pid: Option<u32>| -> Vec<String> {
        let chain = pid.map(|pid| trace.ancestry(pid)).unwrap_or_default();
        chain.into_iter().map(|p| command_line(p, COMMAND_CHARS)).collect()
    };
    let root = &divergence.files[chain[0]];
    Propagation {
        entered: command(root.writer),
        ran: root.writer.map(|pid| descendants(trace, pid)).unwrap_or_default(),
        chain: chain
            .iter()
            .map(|&i| {
                let file = &divergence.files[i];
                CarriedBy {
                    file: file.place.clone(),
                    written_by: command(file.writer).into_iter().next().unwrap_or_default(),
                }
            })
            .collect(),
        member,
        hint: None,
    }
}

/// Programs `pid` ran below it, in the order they started, each once:
/// the first [`RAN_MAX`].
fn descendants(trace: &Trace, pid: u32) -> Vec<String> {
    let mut below: Vec<&super::Process> = Vec::new();
    let mut frontier = vec![pid];
    let mut seen = std::collections::BTreeSet::from([pid]);
    while let Some(parent) = frontier.pop() {
        for process in trace.processes.values().filter(|p| p.parent == Some(parent)) {
            if seen.insert(process.pid) && below.len() < RAN_SCANNED {
                below.push(process);
                frontier.push(process.pid);
            }
        }
    }
    below.sort_by_key(|p| (p.exec_ns.or(p.forked_ns), p.pid));
    let mut ran: Vec<String> = Vec::new();
    for process in below.into_iter().filter(|p| p.exec_ns.is_some()) {
        let line = command_line(process, COMMAND_CHARS);
        if !ran.contains(&line) && ran.len() < RAN_MAX {
            ran.push(line);
        }
    }
    ran
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_member_of_an_archive_output_is_followed_to_the_year_it_carries() {
        let trace = |year: &str| {
            let text = format!(
                "reprocheck-trace\t1\tx86_64\n\
                exec\t1\t1\t/b/p\t/bin/sh\t3\tsh\t-c\tbuild\n\
                fork\t2\t1\t2\nexec\t3\t2\t/b/p\t/bin/date\t2\tdate\t+%Y\n\
                open\t4\t2\tw\t1\t/b/p/year\nexit\t5\t2\t0\n\
                fork\t6\t1\t3\nexec\t7\t3\t/b/p\t/bin/cp\t3\tcp\tyear\tpkg/usr/share/year\n\
                open\t8\t3\tr\t0\t/b/p/year\nopen\t9\t3\tw\t1\t/b/p/pkg/usr/share/year\nexit\t10\t3\t0\n\
                fork\t11\t1\t4\nexec\t12\t4\t/b/p\t/bin/tar\t2\ttar\tcf\n\
                open\t13\t4\tr\t0\t/b/p/pkg/usr/share/year\nopen\t14\t4\tw\t1\t/b/out.tar\nexit\t15\t4\t0\n\
                digest\t16\t4\t{year}\t/b/p/year\ndigest\t16\t4\t{year}\t/b/p/pkg/usr/share/year\n\
                digest\t16\t9\t{year}\t/b/out.tar\nend\t17\t0\n"
            );
            Trace::parse(text.as_bytes()).unwrap()
        };
        let (a, b) = (trace(&"a".repeat(64)), trace(&"b".repeat(64)));
        let side = |t| Side { trace: t, build_dir: "/b/p" };
        let members = vec![("./usr/share/year".to_string(), None)];
        let divergence = Divergence::between(side(&a), side(&b));
        let found = into_output(side(&a), &divergence, "../out.tar", &members);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].entered, ["date +%Y", "sh -c build"]);
        assert!(found[0].ran.is_empty(), "date ran nothing below it");
        let files: Vec<&str> = found[0].chain.iter().map(|c| c.file.as_str()).collect();
        assert_eq!(files, ["year", "pkg/usr/share/year"]);
        assert_eq!(found[0].member.as_deref(), Some("./usr/share/year"));
        // Without members, the archive itself ends the chain.
        let found = into_output(side(&a), &divergence, "../out.tar", &[]);
        let files: Vec<&str> = found[0].chain.iter().map(|c| c.file.as_str()).collect();
        assert_eq!(files, ["year", "pkg/usr/share/year", "../out.tar"]);
        assert_eq!(found[0].chain[2].written_by, "tar cf");
    }
}
