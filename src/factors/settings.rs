//! What the factors set: the part of a run's environment that varies.

use std::collections::BTreeMap;

/// The settings of one run that factors control. Each factor in
/// [`super::FACTORS`] sets its part: its control value in every run, its
/// experiment value in the runs that vary it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    /// Directory the source is placed in and the build runs in.
    pub build_dir: String,
    /// Numeric user id (the group id is the same).
    pub uid: u32,
    /// umask set before the command.
    pub umask: String,
    /// UTS hostname.
    pub hostname: String,
    /// UTS domain name.
    pub domainname: String,
    /// The complete environment of the build.
    pub env: BTreeMap<String, String>,
    /// CPUs the build may use; `None` for all.
    pub cpuset: Option<String>,
    /// Report a 2.6 kernel release (setarch --uname-2.6).
    pub uname26: bool,
    /// Disable ASLR (setarch -R).
    pub no_randomize: bool,
    /// libfaketime offset, e.g. `+398d`, when the clock is shifted.
    pub faketime: Option<String>,
    /// The time factor's experiment (whether or not libfaketime could shift
    /// the clock); explain and verify start it [`super::STAGGER`] apart from
    /// runs with the control's clock.
    pub shifted_clock: bool,
    /// Build in a host directory bind-mounted as the build dir (the
    /// fileordering factor's control and experiment both do).
    pub host_build_dir: bool,
    /// Build in a disorderfs view of that host directory.
    pub disorderfs: bool,
    /// Preload reprocheck's readdir reverser (the fileordering experiment
    /// where disorderfs cannot be used).
    pub reverse_readdir: bool,
}

impl Settings {
    /// Every factor at its control value, for a build named `build_name`
    /// on a host and image that can do what `facts` says. The build
    /// directory is `/build/<name>` (the build_path factor's control).
    pub fn control(build_name: &str, facts: &super::HostFacts) -> Settings {
        let mut settings = Settings { build_dir: format!("/build/{build_name}"), ..Settings::default() };
        for factor in super::FACTORS {
            (factor.set_control)(&mut settings, facts);
        }
        settings
    }

    /// Sets an environment variable.
    pub fn set_env(&mut self, key: &str, value: &str) {
        self.env.insert(key.to_string(), value.to_string());
    }

    /// An environment variable's value, or `(unset)`.
    pub fn env_value(&self, key: &str) -> String {
        self.env.get(key).cloned().unwrap_or_else(|| "(unset)".to_string())
    }

    /// The value this run gives each factor, by factor name: what the report
    /// shows per run, so the runs can be read side by side.
    pub fn factor_values(&self) -> BTreeMap<&'static str, String> {
        super::FACTORS.iter().map(|f| (f.name, (f.value)(self))).collect()
    }
}
