//! Any text given as a spec yields a spec or a located error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Err(e) = reprocheck::spec::parse(Path::new("fuzz/fuzz.toml"), text.to_string(), reprocheck::spec::HostPaths::Confined) {
            // Rendering the error must not panic either (it slices the text).
            let _ = e.to_string();
        }
    }
});
