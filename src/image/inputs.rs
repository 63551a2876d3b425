//! What decides an image, as its recipe says it: recorded in `packages.lock`
//! so that a lock made for another recipe is noticed, and what changed is
//! named, before anything is built or run on the old image.

use crate::image::Recipe;
use crate::spec::Digest;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Everything in a recipe (and its bases) that decides the image built from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecipeInputs {
    /// Debian suite.
    pub suite: String,
    /// mmdebstrap variant.
    pub variant: String,
    /// Fixes every timestamp in the rootfs and the image config.
    pub source_date_epoch: u64,
    /// The names of the recipes this one stands on, its own base first.
    pub bases: Vec<String>,
    /// The packages asked for: the bases', the recipe's, then the build
    /// dependencies of its `build_depends` files.
    pub packages: Vec<String>,
    /// The `build_depends` files of the base chain, base first, with their sha256.
    pub build_depends: Vec<InputFile>,
    /// The `python_requirements` file in effect (the recipe's, else a base's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub python_requirements: Option<InputFile>,
}

/// A file a recipe names, as written there, and its sha256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputFile {
    /// The path as the recipe gives it (relative to that recipe's directory).
    pub file: String,
    /// The file's sha256 when the recipe was read.
    pub sha256: Digest,
}

impl RecipeInputs {
    /// The digest a lock records as `recipe`: equal inputs, equal digest.
    pub fn fingerprint(&self) -> Digest {
        let json = serde_json::to_string(self).expect("recipe inputs serialize to JSON");
        Digest::of_bytes(json.as_bytes())
    }

    /// What changed from `locked` (the recipe the lock was made for) to
    /// `now`, one line per input; empty when nothing did.
    pub fn changes_since(&self, locked: &RecipeInputs) -> Vec<String> {
        let now = self;
        let mut changes = Vec::new();
        for (what, then, is) in
            [("suite", &locked.suite, &now.suite), ("variant", &locked.variant, &now.variant)]
        {
            if then != is {
                changes.push(format!("{what} was {then:?}; the recipe now says {is:?}"));
            }
        }
        if locked.source_date_epoch != now.source_date_epoch {
            changes.push(format!(
                "source_date_epoch was {}; the recipe now says {}",
                locked.source_date_epoch, now.source_date_epoch
            ));
        }
        if locked.bases != now.bases {
            changes.push(format!(
                "the base chain was {}; the recipe now stands on {}",
                list(&locked.bases),
                list(&now.bases)
            ));
        }
        if locked.packages != now.packages {
            changes.push(format!(
                "packages were {}; the recipe now lists {}{}",
                list(&locked.packages),
                list(&now.packages),
                added_and_removed(&locked.packages, &now.packages)
            ));
        }
        changes.extend(file_changes("build_depends", &locked.build_depends, &now.build_depends));
        let option = |f: &Option<InputFile>| f.iter().cloned().collect::<Vec<_>>();
        changes.extend(file_changes(
            "python_requirements",
            &option(&locked.python_requirements),
            &option(&now.python_requirements),
        ));
        if changes.is_empty() && locked != now {
            changes.push("the recipe's inputs differ from the lock's".to_string());
        }
        changes
    }
}

/// `[a, b, c]`.
fn list(items: &[String]) -> String {
    format!("[{}]", items.join(", "))
}

/// ` (added: x; removed: y)`, or `` when only the order changed.
fn added_and_removed(old: &[String], new: &[String]) -> String {
    let (old_set, new_set): (BTreeSet<_>, BTreeSet<_>) = (old.iter().collect(), new.iter().collect());
    let added: Vec<String> = new_set.difference(&old_set).map(|s| s.to_string()).collect();
    let removed: Vec<String> = old_set.difference(&new_set).map(|s| s.to_string()).collect();
    let mut parts = Vec::new();
    if !added.is_empty() {
        parts.push(format!("added: {}", added.join(", ")));
    }
    if !removed.is_empty() {
        parts.push(format!("removed: {}", removed.join(", ")));
    }
    if parts.is_empty() {
        " (the same packages in another order)".to_string()
    } else {
        format!(" ({})", parts.join("; "))
    }
}

/// How the files named by `key` changed: one named, dropped, or edited.
fn file_changes(key: &str, old: &[InputFile], new: &[InputFile]) -> Vec<String> {
    if old == new {
        return Vec::new();
    }
    let names = |files: &[InputFile]| files.iter().map(|f| f.file.clone()).collect::<Vec<_>>();
    if names(old) != names(new) {
        let shown = |files: &[InputFile]| match files {
            [] => "none".to_string(),
            files => list(&names(files)),
        };
        return vec![format!("{key} was {}; the recipe now names {}", shown(old), shown(new))];
    }
    old.iter()
        .zip(new)
        .filter(|(o, n)| o.sha256 != n.sha256)
        .map(|(o, n)| {
            format!("{key} {} changed (then {}, now {})", o.file, o.sha256.short(), n.sha256.short())
        })
        .collect()
}

/// The digest a format-1 lock records as `recipe`: suite, variant, packages,
/// source_date_epoch and the parsed Python requirements. Such a lock is
/// still honoured when this digest matches.
pub fn legacy_fingerprint(recipe: &Recipe) -> Digest {
    let mut inputs = serde_json::json!({
        "suite": recipe.suite,
        "variant": recipe.variant,
        "packages": recipe.packages,
        "source_date_epoch": recipe.source_date_epoch,
    });
    // Added only when present, as format 1 did.
    if !recipe.python.is_empty() {
        inputs["python"] = serde_json::json!(recipe.python);
    }
    Digest::of_bytes(inputs.to_string().as_bytes())
}

/// Whether a lock was made for the recipe as it is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Freshness {
    /// Made for this recipe.
    Current,
    /// A format-1 lock (it records only a digest of the recipe) whose digest
    /// matches: honoured; `image build` rewrites it in the current format.
    CurrentLegacy,
    /// Made for another recipe: what changed, one line each.
    Stale(Vec<String>),
}

/// The lines of a stale lock's explanation: `what` was made for a recipe
/// whose ...; each change indented under it.
pub fn describe_changes(lock: &std::path::Path, changes: &[String]) -> String {
    match changes {
        [one] => format!("{} was made for a recipe whose {one}", lock.display()),
        many => {
            let mut text = format!("{} was made for another recipe:", lock.display());
            for change in many {
                text.push_str(&format!("\n  - {change}"));
            }
            text
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, byte: char) -> InputFile {
        InputFile {
            file: name.into(),
            sha256: Digest::parse(&format!("sha256:{}", byte.to_string().repeat(64))).unwrap(),
        }
    }

    fn sample() -> RecipeInputs {
        RecipeInputs {
            suite: "bookworm".into(),
            variant: "apt".into(),
            source_date_epoch: 1747699200,
            bases: vec!["base".into()],
            packages: vec!["build-essential".into(), "tzdata".into()],
            build_depends: vec![file("debian/control", 'a')],
            python_requirements: Some(file("req.txt", 'b')),
        }
    }

    /// Issue 32, item 4: every input that decides the image is noticed when
    /// it changes, and named with its old and new value.
    #[test]
    fn each_changed_input_is_detected_and_named() {
        let locked = sample();
        assert!(locked.changes_since(&locked).is_empty());
        assert_eq!(locked.fingerprint(), sample().fingerprint());
        type Edit = fn(&mut RecipeInputs);
        let cases: Vec<(Edit, &str)> = vec![
            (|r| r.suite = "trixie".into(), "suite was \"bookworm\"; the recipe now says \"trixie\""),
            (|r| r.variant = "minbase".into(), "variant was \"apt\""),
            (|r| r.source_date_epoch = 1, "source_date_epoch was 1747699200; the recipe now says 1"),
            (|r| r.bases.push("other".into()), "the base chain was [base]; the recipe now stands on [base, other]"),
            (
                |r| r.packages.push("hello".into()),
                "packages were [build-essential, tzdata]; the recipe now lists [build-essential, tzdata, hello] (added: hello)",
            ),
            (|r| r.packages.reverse(), "(the same packages in another order)"),
            (|r| r.packages.pop().map(drop).unwrap_or(()), "(removed: tzdata)"),
            (|r| r.build_depends[0] = file("debian/control", 'c'), "build_depends debian/control changed (then aaaaaaaaaaaa, now cccccccccccc)"),
            (|r| r.build_depends.clear(), "build_depends was [debian/control]; the recipe now names none"),
            (|r| r.python_requirements = Some(file("req.txt", 'd')), "python_requirements req.txt changed"),
            (|r| r.python_requirements = None, "python_requirements was [req.txt]; the recipe now names none"),
        ];
        for (change, named) in cases {
            let mut now = sample();
            change(&mut now);
            let changes = now.changes_since(&locked);
            assert_eq!(changes.len(), 1, "{named}: {changes:?}");
            assert!(changes[0].contains(named), "{named}: {changes:?}");
            assert_ne!(now.fingerprint(), locked.fingerprint(), "{named}");
        }
    }

    #[test]
    fn one_change_reads_as_a_sentence_and_several_as_a_list() {
        let path = std::path::Path::new("r/packages.lock");
        assert_eq!(
            describe_changes(path, &["packages were [a]; the recipe now lists [b]".into()]),
            "r/packages.lock was made for a recipe whose packages were [a]; the recipe now lists [b]"
        );
        let text = describe_changes(path, &["suite was x".into(), "variant was y".into()]);
        assert!(text.ends_with("another recipe:\n  - suite was x\n  - variant was y"), "{text}");
    }

    /// A lock made for a recipe, with `inputs` as recorded (format 2) or none (format 1).
    fn lock_for(recipe: &Recipe, format: u32) -> crate::image::PackageLock {
        let digest = Digest::of_bytes(b"x");
        crate::image::PackageLock {
            version: format,
            recipe: match format {
                1 => legacy_fingerprint(recipe),
                _ => recipe.inputs.fingerprint(),
            },
            mmdebstrap: "1.3.5".into(),
            rootfs: digest.clone(),
            image: digest.clone(),
            packages: ["build-essential", "python3-pip", "make"]
                .iter()
                .map(|name| crate::image::lock::LockedPackage {
                    name: name.to_string(),
                    version: "1".into(),
                    architecture: "amd64".into(),
                    sha256: digest.clone(),
                })
                .collect(),
            python: Vec::new(),
            inputs: (format > 1).then(|| recipe.inputs.clone()),
        }
    }

    /// Issue 32, item 4: edits to the files a recipe names (its base, its
    /// build_depends file, its python_requirements) make its lock stale,
    /// named; a format-1 lock is honoured while its digest matches.
    #[test]
    fn a_lock_notices_edits_to_the_recipe_and_the_files_it_names() {
        let tmp = tempfile::tempdir().unwrap();
        let (base, derived) = (tmp.path().join("base"), tmp.path().join("derived"));
        std::fs::create_dir_all(&base).unwrap();
        std::fs::create_dir_all(&derived).unwrap();
        let write = |path: &std::path::Path, text: &str| std::fs::write(path, text).unwrap();
        let base_recipe = |name: &str, packages: &str| {
            format!(
                "name = \"{name}\"\nsuite = \"bookworm\"\npackages = [{packages}]\nsource_date_epoch = 5\n"
            )
        };
        write(&base.join("recipe.toml"), &base_recipe("b", "\"build-essential\""));
        write(&derived.join("control"), "Source: x\nBuild-Depends: make\n");
        let requirements =
            |c: char| format!("hatchling==1.24.2 --hash=sha256:{}\n", c.to_string().repeat(64));
        write(&derived.join("req.txt"), &requirements('a'));
        write(
            &derived.join("recipe.toml"),
            "name = \"d\"\nbase = \"../base\"\npackages = [\"python3-pip\"]\n\
             build_depends = \"control\"\npython_requirements = \"req.txt\"\n",
        );
        let load = || Recipe::load(&derived, None).unwrap();
        let recipe = load();
        assert_eq!(recipe.inputs.bases, ["b"]);
        assert_eq!(recipe.inputs.build_depends[0].file, "control");
        let lock = lock_for(&recipe, 2);
        assert_eq!(lock.freshness(&recipe), Freshness::Current);
        lock.save(tmp.path()).unwrap();
        assert_eq!(crate::image::PackageLock::load(tmp.path()).unwrap().as_ref(), Some(&lock));

        let stale = |lock: &crate::image::PackageLock| match lock.freshness(&load()) {
            Freshness::Stale(changes) => changes.join("\n"),
            other => panic!("not stale: {other:?}"),
        };
        write(&derived.join("control"), "Source: x\nBuild-Depends: make, bison\n");
        let changes = stale(&lock);
        assert!(changes.contains("build_depends control changed"), "{changes}");
        assert!(changes.contains("(added: bison)"), "{changes}");
        write(&derived.join("control"), "Source: x\nBuild-Depends: make\n");
        write(&derived.join("req.txt"), &requirements('b'));
        assert!(stale(&lock).contains("python_requirements req.txt changed"), "{}", stale(&lock));
        write(&derived.join("req.txt"), &requirements('a'));
        write(&base.join("recipe.toml"), &base_recipe("b", "\"build-essential\", \"hello\""));
        assert!(stale(&lock).contains("(added: hello)"), "{}", stale(&lock));
        write(&base.join("recipe.toml"), &base_recipe("other", "\"build-essential\""));
        assert!(
            stale(&lock).contains("the base chain was [b]; the recipe now stands on [other]"),
            "{}",
            stale(&lock)
        );
        write(&base.join("recipe.toml"), &base_recipe("b", "\"build-essential\""));
        assert_eq!(lock.freshness(&load()), Freshness::Current);

        // Format 1: honoured while its digest matches; when not, the recipe's
        // packages the lock does not hold are named.
        let legacy = lock_for(&recipe, 1);
        legacy.save(tmp.path()).unwrap();
        let legacy = crate::image::PackageLock::load(tmp.path()).unwrap().unwrap();
        assert_eq!(legacy.freshness(&load()), Freshness::CurrentLegacy);
        write(&base.join("recipe.toml"), &base_recipe("b", "\"build-essential\", \"hello\""));
        let changes = stale(&legacy);
        assert!(
            changes.contains("format-1 lock")
                && changes.contains("lists hello, which the lock does not hold"),
            "{changes}"
        );
    }
}
