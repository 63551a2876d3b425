//! Any byte stream given to the collector as a container's download is
//! stored or refused, never a panic, and nothing appears outside its root.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reprocheck::collect::{Collector, Limits, OutputSelector};

fuzz_target!(|data: &[u8]| {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("out");
    let selector = OutputSelector::new(&["out/**".to_string(), "dist".to_string()]).unwrap();
    let limits = Limits { max_total_bytes: 1 << 20, max_entries: 1000 };
    let mut collector = Collector::new(&root, &selector, limits).unwrap();
    let _ = collector.add_archive(data, "out").and_then(|_| collector.finish());
    // The temporary directory holds the root and nothing else.
    let names: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, vec![std::ffi::OsString::from("out")], "something was written beside the root");
});
