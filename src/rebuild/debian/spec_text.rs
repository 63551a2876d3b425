//! The inferred spec and image recipe as TOML text: every value quoted with
//! [`toml_string`], a comment naming what each part was inferred from.

use crate::rebuild::toml_string;

/// What goes into the spec.
#[derive(Debug, Clone, Default)]
pub struct SpecText {
    /// `name`, when the build directory must be `/build/NAME` (a
    /// `.buildinfo`'s Build-Path); else the file stem is the name.
    pub name: Option<String>,
    /// What the spec rebuilds, for the header: `distro-info-data 0.58+deb12u7 (bookworm)`.
    pub title: String,
    /// `[image] name` (and the recipe's).
    pub image_name: String,
    /// The recipe directory, relative to the spec.
    pub recipe: String,
    /// The `.dsc`, relative to the spec, and its sha256.
    pub dsc: String,
    /// `sha256:…` of the `.dsc`.
    pub dsc_sha256: String,
    /// `[build] command`.
    pub command: String,
    /// `[build] source_date_epoch`: a number, else `"changelog"`.
    pub source_date_epoch: Option<u64>,
    /// `[build] env`.
    pub env: Vec<(String, String)>,
    /// `[expect]`: output file name, sha256 and the published file (relative to the spec).
    pub expect: Vec<(String, String, Option<String>)>,
}

impl SpecText {
    /// The spec file's text.
    pub fn render(&self) -> String {
        let mut text = format!(
            "# {}: inferred by `reprocheck rebuild` (docs/rebuild.md); review it, edit it,\n\
             # and rerun it with `reprocheck verify` or `check` like any spec.\n",
            self.title
        );
        if let Some(name) = &self.name {
            text.push_str(
                "# The build directory /build/NAME/SOURCE-UPSTREAM is the .buildinfo's Build-Path.\n",
            );
            text.push_str(&format!("name = {}\n", toml_string(name)));
        }
        text.push_str(&format!(
            "\n[image]\nname = {}\nrecipe = {}\n",
            toml_string(&self.image_name),
            toml_string(&self.recipe)
        ));
        text.push_str(&format!(
            "\n[source]\n# Pinned by sha256; reprocheck checks every file the .dsc lists.\ndsc = {}\nsha256 = {}\n",
            toml_string(&self.dsc),
            toml_string(&self.dsc_sha256)
        ));
        text.push_str(&format!(
            "\n[build]\ncommand = {}\noutputs = [\"../*.deb\", \"../*.udeb\"]\n",
            toml_string(&self.command)
        ));
        match self.source_date_epoch {
            Some(epoch) => text.push_str(&format!("source_date_epoch = {epoch}\n")),
            None => text.push_str("source_date_epoch = \"changelog\"\n"),
        }
        if !self.env.is_empty() {
            let pairs: Vec<String> =
                self.env.iter().map(|(k, v)| format!("{} = {}", toml_string(k), toml_string(v))).collect();
            text.push_str(&format!("env = {{ {} }}\n", pairs.join(", ")));
        }
        text.push_str("\n[expect]\n");
        for (output, sha256, file) in &self.expect {
            match file {
                Some(file) => text.push_str(&format!(
                    "{} = {{ sha256 = {}, file = {} }}\n",
                    toml_string(output),
                    toml_string(sha256),
                    toml_string(file)
                )),
                None => text.push_str(&format!("{} = {}\n", toml_string(output), toml_string(sha256))),
            }
        }
        text
    }
}

/// What goes into the image recipe.
#[derive(Debug, Clone, Default)]
pub struct RecipeText {
    /// What it is for, for the header comment.
    pub title: String,
    /// `name`.
    pub name: String,
    /// `suite`.
    pub suite: String,
    /// `variant`.
    pub variant: String,
    /// `packages`.
    pub packages: Vec<String>,
    /// `build_depends`, relative to the recipe.
    pub build_depends: Option<String>,
    /// `sources`, relative to the recipe.
    pub sources: Option<String>,
    /// `source_date_epoch`.
    pub source_date_epoch: u64,
}

impl RecipeText {
    /// The recipe.toml text.
    pub fn render(&self) -> String {
        let mut text = format!(
            "# {}: inferred by `reprocheck rebuild`. Locked on first use into packages.lock\n\
             # beside this file, like any recipe (docs/images.md).\n",
            self.title
        );
        text.push_str(&format!("name = {}\n", toml_string(&self.name)));
        text.push_str(&format!("suite = {}\n", toml_string(&self.suite)));
        text.push_str(&format!("variant = {}\n", toml_string(&self.variant)));
        let packages: Vec<String> = self.packages.iter().map(|p| toml_string(p)).collect();
        if packages.len() <= 4 {
            text.push_str(&format!("packages = [{}]\n", packages.join(", ")));
        } else {
            text.push_str("packages = [\n");
            for package in packages {
                text.push_str(&format!("  {package},\n"));
            }
            text.push_str("]\n");
        }
        if let Some(file) = &self.build_depends {
            text.push_str(&format!("build_depends = {}\n", toml_string(file)));
        }
        if let Some(file) = &self.sources {
            text.push_str(&format!("sources = {}\n", toml_string(file)));
        }
        text.push_str(&format!("source_date_epoch = {}\n", self.source_date_epoch));
        text
    }
}

/// A repository name for an image: lowercase letters, digits and `.-`
/// (a Debian name's `+` becomes `-`).
pub fn image_name(source: &str) -> String {
    let name: String = source
        .chars()
        .map(|c| if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' { c } else { '-' })
        .collect();
    format!("reprocheck/rebuild-debian-{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spec_reads_back_as_a_spec_with_the_dsc_defaults() {
        let spec = SpecText {
            title: "x 1.0-1 (bookworm)".into(),
            image_name: image_name("libstdc++"),
            recipe: "images/debian-x-1.0-1".into(),
            dsc: "debian-x/x_1.0-1.dsc".into(),
            dsc_sha256: format!("sha256:{}", "a".repeat(64)),
            command: "dpkg-buildpackage -us -uc -b".into(),
            env: vec![("LC_ALL".into(), "C.UTF-8".into())],
            expect: vec![
                (
                    "x_1.0-1_all.deb".into(),
                    format!("sha256:{}", "b".repeat(64)),
                    Some("debian-x/x_1.0-1_all.deb".into()),
                ),
                ("x-dbgsym_1.0-1_amd64.deb".into(), format!("sha256:{}", "c".repeat(64)), None),
            ],
            ..Default::default()
        };
        let table: toml::Table = toml::from_str(&spec.render()).unwrap();
        assert_eq!(table["image"]["name"].as_str(), Some("reprocheck/rebuild-debian-libstdc--"));
        assert_eq!(table["build"]["source_date_epoch"].as_str(), Some("changelog"));
        assert_eq!(table["build"]["env"]["LC_ALL"].as_str(), Some("C.UTF-8"));
        assert_eq!(table["expect"]["x_1.0-1_all.deb"]["file"].as_str(), Some("debian-x/x_1.0-1_all.deb"));
        assert!(table["expect"]["x-dbgsym_1.0-1_amd64.deb"].is_str());
        assert!(table.get("name").is_none());
        let named = SpecText { name: Some("reproducible-path".into()), source_date_epoch: Some(7), ..spec };
        let table: toml::Table = toml::from_str(&named.render()).unwrap();
        assert_eq!(table["name"].as_str(), Some("reproducible-path"));
        assert_eq!(table["build"]["source_date_epoch"].as_integer(), Some(7));
    }

    #[test]
    fn the_recipe_reads_back() {
        let recipe = RecipeText {
            title: "t".into(),
            name: image_name("hello"),
            suite: "bookworm".into(),
            variant: "apt".into(),
            packages: vec!["build-essential".into(), "fakeroot".into()],
            build_depends: Some("../../debian-hello/hello_2.10-3.dsc".into()),
            sources: None,
            source_date_epoch: 1,
        };
        let table: toml::Table = toml::from_str(&recipe.render()).unwrap();
        assert_eq!(table["packages"].as_array().unwrap().len(), 2);
        assert_eq!(table["build_depends"].as_str(), Some("../../debian-hello/hello_2.10-3.dsc"));
        let many = RecipeText { packages: (0..9).map(|i| format!("p{i}")).collect(), ..recipe };
        let table: toml::Table = toml::from_str(&many.render()).unwrap();
        assert_eq!(table["packages"].as_array().unwrap().len(), 9);
    }
}
