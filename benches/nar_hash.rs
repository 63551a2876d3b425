//! NAR-hashing throughput on 1 GiB of output, against raw sha256 of the same
//! bytes read the same way. Run: `cargo bench --bench nar_hash`.
//!
//! The tree is 64 files of 16 MiB in nested directories, written once; both
//! measurements read it from the page cache, so the figure compares the
//! hashing paths, not the disk.

use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::Path;
use std::time::Instant;

const FILES: usize = 64;
const FILE_SIZE: usize = 16 << 20;
const ROUNDS: usize = 5;

fn main() {
    let dir = tempfile::Builder::new().prefix("reprocheck-bench-").tempdir_in("/var/tmp").unwrap();
    let tree = dir.path().join("out");
    let mut block = vec![0u8; FILE_SIZE];
    let mut state = 0x9e3779b97f4a7c15u64;
    for i in 0..FILES {
        // Cheap pseudo-random contents, so nothing compresses or dedups.
        for chunk in block.chunks_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            chunk.copy_from_slice(&state.to_le_bytes()[..chunk.len()]);
        }
        let sub = tree.join(format!("d{}", i % 8));
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(sub.join(format!("f{i}")), &block).unwrap();
    }
    let total = (FILES * FILE_SIZE) as f64;
    let gib = total / (1u64 << 30) as f64;

    let raw = best_of(|| raw_sha256(&tree));
    let nar = best_of(|| {
        reprocheck::collect::nar_sha256(&tree).unwrap();
    });
    let raw_rate = gib / raw;
    let nar_rate = gib / nar;
    println!("data: {gib:.2} GiB in {FILES} files; best of {ROUNDS} rounds");
    println!("raw sha256:  {raw:.3} s  {raw_rate:.2} GiB/s");
    println!("NAR sha256:  {nar:.3} s  {nar_rate:.2} GiB/s");
    println!("ratio NAR / raw: {:.3} (target >= 0.9)", nar_rate / raw_rate);
}

fn best_of(mut f: impl FnMut()) -> f64 {
    f(); // warm the page cache
    (0..ROUNDS)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

/// sha256 over every file's bytes, in the order NAR visits them.
fn raw_sha256(tree: &Path) {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    for entry in walkdir::WalkDir::new(tree).sort_by_file_name() {
        let entry = entry.unwrap();
        if entry.file_type().is_file() {
            let mut file = std::fs::File::open(entry.path()).unwrap();
            loop {
                let n = file.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
            }
        }
    }
    std::hint::black_box(hasher.finalize());
}
