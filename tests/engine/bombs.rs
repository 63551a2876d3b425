//! Decompression bombs as published references: `verify --expect-file`
//! must compare them within one bounded budget, say so in the report, and
//! keep its peak memory (measured with wait4) under 512 MiB.

use crate::common;

use common::*;
use std::io::Write;
use std::path::Path;

/// Peak RSS allowed for one verify against a bomb.
const MAX_PEAK_KIB: u64 = 512 * 1024;
/// What each bomb expands to per layer or member.
const EXPANDED: usize = 256 << 20;

/// Runs reprocheck with ARGS, stdout and stderr to files in `dir`; returns
/// the exit code, the output, and the child's peak RSS in KiB.
fn run_measured(dir: &Path, args: &[&str]) -> (Option<i32>, String, u64) {
    let (out, err) = (dir.join("stdout"), dir.join("stderr"));
    // Reaped below with wait4, which also reports its peak RSS.
    #[allow(clippy::zombie_processes)]
    let child = reprocheck_cmd(args)
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child and fills a zeroed rusage.
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as i32);
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    let text = format!(
        "--- stdout\n{}\n--- stderr\n{}",
        std::fs::read_to_string(out).unwrap_or_default(),
        std::fs::read_to_string(err).unwrap_or_default()
    );
    (code, text, usage.ru_maxrss as u64)
}

/// A zip with one deflated 256 MiB member of zeros whose central record is
/// repeated `records` times under other names, all pointing at the one
/// local entry.
fn zip_bomb(records: usize) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().large_file(false);
    w.start_file("pkg/big", options).unwrap();
    let chunk = vec![0u8; 1 << 20];
    for _ in 0..EXPANDED / chunk.len() {
        w.write_all(&chunk).unwrap();
    }
    let mut data = w.finish().unwrap().into_inner();
    let end = data.windows(4).rposition(|x| x == b"PK\x05\x06").unwrap();
    let dir_size = u32::from_le_bytes(data[end + 12..end + 16].try_into().unwrap()) as usize;
    let dir_offset = u32::from_le_bytes(data[end + 16..end + 20].try_into().unwrap()) as usize;
    let record = data[dir_offset..dir_offset + dir_size].to_vec();
    let mut eocd = data[end..].to_vec();
    data.truncate(end);
    for i in 1..records {
        let mut renamed = record.clone();
        let name_len = u16::from_le_bytes(renamed[28..30].try_into().unwrap()) as usize;
        renamed[46 + name_len - 1] = b'0' + i as u8;
        data.extend_from_slice(&renamed);
    }
    let count = records as u16;
    eocd[8..10].copy_from_slice(&count.to_le_bytes());
    eocd[10..12].copy_from_slice(&count.to_le_bytes());
    eocd[12..16].copy_from_slice(&((dir_size * records) as u32).to_le_bytes());
    data.extend_from_slice(&eocd);
    data
}

/// 256 MiB of zeros under `layers` layers of gzip.
fn gzip_bomb(layers: usize) -> Vec<u8> {
    let mut data = vec![0u8; EXPANDED];
    for _ in 0..layers {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&data).unwrap();
        data = gz.finish().unwrap();
    }
    data
}

/// Verifies a small rebuilt archive (made by `command`) against `bomb`.
fn verify_against(name: &str, bomb: &[u8], output: &str, command: &str) -> (String, u64, serde_json::Value) {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir(&src).unwrap();
    std::fs::write(src.join("build.sh"), command).unwrap();
    let reference = tmp.path().join(name);
    std::fs::write(&reference, bomb).unwrap();
    let spec = write_spec(tmp.path(), "bomb", &src, SH_BUILD);
    let out = tmp.path().join("out");
    let expect = format!("{output}={}", reference.display());
    let args = ["verify", spec.to_str().unwrap(), "--expect-file", &expect, "--out", out.to_str().unwrap()];
    let (code, text, peak) = run_measured(tmp.path(), &args);
    assert_eq!(code, Some(1), "a bomb is not the rebuild: {text}");
    eprintln!("{name}: {} KiB reference, peak RSS {} MiB", bomb.len() / 1024, peak / 1024);
    (text, peak, report(&out))
}

#[test]
fn a_zip_whose_records_share_one_huge_member_stays_bounded() {
    let Some(_engine) = ready_engine() else { return };
    let bomb = zip_bomb(6);
    let build = "mkdir -p out && echo small > small \
                 && perl -MIO::Compress::Zip=zip -e 'zip \"small\" => \"out/pkg.zip\", Name => \"pkg/big\" or die'";
    let (text, peak, report) = verify_against("bomb.zip", &bomb, "out/pkg.zip", build);
    assert!(peak < MAX_PEAK_KIB, "peak RSS {} MiB: {text}", peak / 1024);
    let output = &report["verification"]["outputs"][0];
    assert_eq!(output["verdict"], "mismatch", "{output}");
    let reasons = output["content_differences"].to_string();
    assert!(reasons.contains("shares its local entry"), "the overlapping records are named: {reasons}");
    let details = output["diff"]["details"].to_string();
    assert!(details.contains("zip entry pkg/big"), "the zip diff is there, not dropped: {details}");
}

#[test]
fn eight_layers_of_gzip_stay_bounded_and_say_where_they_stopped() {
    let Some(_engine) = ready_engine() else { return };
    let bomb = gzip_bomb(8);
    // The rebuild is eight layers too, so that both sides are peeled together.
    let build = "mkdir -p out && echo small > f && for i in 1 2 3 4 5 6 7 8; do gzip -n -c f > f.gz && mv f.gz f; done \
                 && mv f out/data.gz";
    let (text, peak, report) = verify_against("bomb.gz", &bomb, "out/data.gz", build);
    assert!(peak < MAX_PEAK_KIB, "peak RSS {} MiB: {text}", peak / 1024);
    let output = &report["verification"]["outputs"][0];
    assert_eq!(output["verdict"], "mismatch", "{output}");
    let details = output["diff"]["details"].to_string();
    assert!(
        details.contains("nested too deep") || details.contains("decompression budget"),
        "the report says where the comparison stopped: {details}"
    );
}

/// An .xz source tarball that expands to 2 GiB: one stream holding a tar
/// header for a 2 GiB member, then 32 concatenated streams of 64 MiB of
/// zeros (`xz -d` reads concatenated streams as one).
fn xz_tar_bomb() -> Vec<u8> {
    let xz = |data: &[u8]| {
        let options = lzma_rust2::XzOptions::with_preset(6);
        let mut writer = lzma_rust2::XzWriter::new(Vec::new(), options).unwrap();
        writer.write_all(data).unwrap();
        writer.finish().unwrap()
    };
    let mut header = tar::Header::new_gnu();
    header.set_path("pkg-1.0/big").unwrap();
    header.set_size(2 << 30);
    header.set_mode(0o644);
    header.set_cksum();
    let mut bomb = xz(header.as_bytes());
    let zeros = xz(&vec![0u8; 64 << 20]);
    for _ in 0..32 {
        bomb.extend_from_slice(&zeros);
    }
    bomb
}

/// A source tarball bomb stops at `limits.source_size`, naming it, with the
/// decompression streamed (lzma-rs held all of an xz stream in memory: the
/// red team's 468 KB tarball took 6.3 GB).
#[test]
fn an_xz_source_tarball_bomb_stops_at_the_source_cap_in_bounded_memory() {
    let Some(_engine) = ready_engine() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let bomb = xz_tar_bomb();
    std::fs::write(tmp.path().join("bomb.tar.xz"), &bomb).unwrap();
    let sha256 = reprocheck::spec::Digest::of_reader(&bomb[..]).unwrap();
    let spec = tmp.path().join("bomb.toml");
    let text = format!(
        "[image]\ndigest = \"{}\"\n[source]\ntarball = \"bomb.tar.xz\"\nsha256 = \"{sha256}\"\nstrip_components = 1\n\
         [build]\n{SH_BUILD}\n[limits]\nsource_size = \"256MiB\"\n",
        pinned_digest()
    );
    std::fs::write(&spec, text).unwrap();
    let out = tmp.path().join("out");
    let (code, text, peak) =
        run_measured(tmp.path(), &["check", spec.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    eprintln!("bomb.tar.xz: {} KiB, expands to 2 GiB; peak RSS {} MiB", bomb.len() / 1024, peak / 1024);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("limits.source_size"), "the cap is named: {text}");
    assert!(peak < MAX_PEAK_KIB, "peak RSS {} MiB: {text}", peak / 1024);
}

/// `limits.diff_size` is the budget the comparison draws from: 8 MiB of
/// gzipped zeros fit the default, not a 1 MiB budget, and the report says
/// where the comparison stopped.
#[test]
fn limits_diff_size_is_the_decompression_budget() {
    let Some(_engine) = ready_engine() else { return };
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&vec![0u8; 8 << 20]).unwrap();
    let reference = gz.finish().unwrap();
    let build = "mkdir -p out && echo small | gzip -n > out/data.gz";
    let stopped = |extra: &str| {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src");
        std::fs::create_dir(&src).unwrap();
        std::fs::write(src.join("build.sh"), build).unwrap();
        std::fs::write(tmp.path().join("ref.gz"), &reference).unwrap();
        let spec = write_spec(tmp.path(), "budget", &src, &format!("{SH_BUILD}\n{extra}"));
        let out = tmp.path().join("out");
        let expect = format!("out/data.gz={}", tmp.path().join("ref.gz").display());
        let run = reprocheck(&[
            "verify",
            spec.to_str().unwrap(),
            "--expect-file",
            &expect,
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(run.status.code(), Some(1), "{}", show(&run));
        report(&out)["verification"]["outputs"][0]["diff"]["details"]
            .to_string()
            .contains("decompression budget")
    };
    assert!(!stopped(""), "8 MiB fit the default budget");
    assert!(stopped("[limits]\ndiff_size = \"1MiB\""), "a 1 MiB budget stops the comparison");
}

/// A reference file of 4 GiB (sparse: it costs no disk) is never read into
/// memory: the content comparison streams and the structured diff skips
/// files over its size cap. Before, `verify` read both files whole.
#[test]
fn a_huge_reference_file_is_compared_without_reading_it_into_memory() {
    let Some(_engine) = ready_engine() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir(&src).unwrap();
    std::fs::write(src.join("build.sh"), "mkdir -p out && echo small > out/x.tar").unwrap();
    let reference = tmp.path().join("huge.tar");
    std::fs::File::create(&reference).unwrap().set_len(4 << 30).unwrap();
    let spec = write_spec(tmp.path(), "huge", &src, SH_BUILD);
    let out = tmp.path().join("out");
    let expect = format!("out/x.tar={}", reference.display());
    let args = ["verify", spec.to_str().unwrap(), "--expect-file", &expect, "--out", out.to_str().unwrap()];
    let (code, text, peak) = run_measured(tmp.path(), &args);
    eprintln!("4 GiB reference: peak RSS {} MiB", peak / 1024);
    assert_eq!(code, Some(1), "{text}");
    assert!(peak < MAX_PEAK_KIB, "peak RSS {} MiB: {text}", peak / 1024);
    assert_eq!(report(&out)["verification"]["outputs"][0]["verdict"], "mismatch");
}
