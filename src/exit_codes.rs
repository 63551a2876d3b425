//! The exit codes (README.md, "Exit codes"): 0 reproducible or verified,
//! 1 unreproducible, not verified, or an attestation that does not hold,
//! 2 any error.

use reprocheck::report::Verdict;
use std::process::ExitCode;

/// Outputs differ, the release does not verify, or an attestation fails.
pub fn different() -> ExitCode {
    ExitCode::from(1)
}

/// Something failed before a verdict (bad spec, engine, build, signal).
pub fn error() -> ExitCode {
    ExitCode::from(2)
}

/// The exit code of a finished report.
pub fn of_verdict(verdict: Verdict) -> ExitCode {
    match verdict {
        Verdict::Reproducible | Verdict::Verified => ExitCode::SUCCESS,
        Verdict::Unreproducible | Verdict::NotVerified => different(),
        Verdict::Error => error(),
    }
}
