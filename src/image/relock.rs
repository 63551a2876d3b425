//! What re-resolving a recipe changed in its lock, for the terminal: the
//! recipe's inputs, the packages, the Python wheels and the image.

use crate::image::PackageDrift;
use crate::spec::Digest;

/// What a re-resolution changed, for the terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relock {
    /// What changed in the recipe since the old lock (empty with `--update` alone).
    pub recipe: Vec<String>,
    /// How the Debian packages changed.
    pub packages: PackageDrift,
    /// How the Python wheels changed (architecture `python`).
    pub wheels: PackageDrift,
    /// The old lock's image, when the new one differs.
    pub old_image: Option<Digest>,
}

impl Relock {
    /// True when the new lock pins the same image from the same packages.
    pub fn is_empty(&self) -> bool {
        self.recipe.is_empty()
            && self.packages.is_empty()
            && self.wheels.is_empty()
            && self.old_image.is_none()
    }

    /// What `image build` prints: each change, and the image (`id`, the new one).
    pub fn summary(&self, lock: &str, contents: &str, id: &Digest) -> String {
        if self.is_empty() {
            return format!(
                "re-resolved: the same {contents} and the same image; {lock} is unchanged in content\n"
            );
        }
        let mut text = format!("re-resolved and rewrote {lock}:\n");
        for change in &self.recipe {
            text.push_str(&format!("  recipe: {change}\n"));
        }
        for (what, drift) in [("packages", &self.packages), ("Python wheels", &self.wheels)] {
            if !drift.is_empty() {
                text.push_str(&format!("  {what} ({}):\n{}", drift.counts(), drift.lines()));
            }
        }
        match &self.old_image {
            Some(old) => text.push_str(&format!("  image: {old} -> {id}\n")),
            None => text.push_str(&format!("  image: {id} (unchanged)\n")),
        }
        text.push_str("review the changes and commit the lock\n");
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::lock::LockedPackage;

    fn wheel(version: &str) -> LockedPackage {
        LockedPackage {
            name: "hatchling".into(),
            version: version.into(),
            architecture: "python".into(),
            sha256: Digest::of_bytes(version.as_bytes()),
        }
    }

    /// Issue 32: a re-lock that gained a wheel and changed the image is not
    /// reported as "unchanged in content".
    #[test]
    fn a_new_wheel_and_a_new_image_are_named() {
        let (old, new) = (Digest::of_bytes(b"old"), Digest::of_bytes(b"new"));
        let relock = Relock {
            recipe: vec!["python_requirements req.txt changed (then a, now b)".into()],
            packages: PackageDrift::default(),
            wheels: PackageDrift::between(&[], &[wheel("1.24.2")]),
            old_image: Some(old.clone()),
        };
        let text = relock.summary("r/packages.lock", "3 packages and 1 Python wheels", &new);
        assert!(!text.contains("unchanged"), "{text}");
        assert!(text.contains("recipe: python_requirements req.txt changed"), "{text}");
        assert!(
            text.contains("Python wheels (0 changed, 1 added, 0 removed):\n  hatchling 1.24.2 (added)"),
            "{text}"
        );
        assert!(text.contains(&format!("image: {old} -> {new}")), "{text}");
        let same = Relock {
            recipe: Vec::new(),
            packages: PackageDrift::default(),
            wheels: PackageDrift::default(),
            old_image: None,
        };
        assert!(same.summary("l", "3 packages", &new).contains("unchanged in content"));
    }
}
