use super::*;

/// A host as Debian's installer leaves it (deb822), with a third-party
/// archive and a backports suite beside it.
const HOST_DEB822: &str = "\
Types: deb deb-src
# the main archive
URIs: http://archive.example/debian
Suites: bookworm bookworm-updates bookworm-backports
Components: main contrib
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://security.example/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://vendor.example/repo
Suites: nodistro
Components: main
Signed-By: /usr/share/keyrings/vendor.gpg

Types: deb
URIs: http://old.example/debian
Suites: bookworm
Components: main
Enabled: no
";

const HOST_ONE_LINE: &str = "\
deb [arch=amd64,arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://archive.example/debian bookworm main
deb http://archive.example/debian bookworm-updates main  # updates
deb-src http://archive.example/debian bookworm main
deb http://security.example/debian-security bookworm-security main
deb http://vendor.example/repo vendor-bookworm main
";

fn suites(entries: &[Entry]) -> Vec<(Vec<String>, Vec<String>)> {
    entries.iter().map(|e| (e.uris.clone(), e.suites.clone())).collect()
}

fn pair(uri: &str, suites: &[&str]) -> (Vec<String>, Vec<String>) {
    (vec![uri.to_string()], suites.iter().map(|s| s.to_string()).collect())
}

#[test]
fn a_deb822_host_gives_the_recipes_suite_and_its_companions() {
    let entries = parse_deb822(HOST_DEB822).unwrap();
    assert_eq!(entries.len(), 3, "the disabled paragraph is left out");
    let derived = derive(&entries, Some("bookworm"), "trixie").unwrap();
    assert_eq!(
        suites(&derived),
        [
            pair("http://archive.example/debian", &["trixie", "trixie-updates"]),
            pair("http://security.example/debian-security", &["trixie-security"]),
        ],
        "backports and the vendor's archive are not taken along"
    );
    assert_eq!(derived[0].types, ["deb"]);
    assert_eq!(derived[0].components, ["main", "contrib"]);
    let text = render_deb822(&derived);
    assert!(
        text.contains("Suites: trixie trixie-updates\nComponents: main contrib\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"),
        "{text}"
    );
    assert!(!text.contains("bookworm"), "{text}");
    // Read back as apt would, it is the same entries.
    assert_eq!(parse_deb822(&text).unwrap(), derived);
}

#[test]
fn a_one_line_host_gives_the_same_with_its_options_in_deb822() {
    let entries = parse_one_line(HOST_ONE_LINE).unwrap();
    assert_eq!(entries.len(), 5);
    let derived = derive(&entries, Some("bookworm"), "trixie").unwrap();
    assert_eq!(
        suites(&derived),
        [
            pair("http://archive.example/debian", &["trixie"]),
            pair("http://archive.example/debian", &["trixie-updates"]),
            pair("http://security.example/debian-security", &["trixie-security"]),
        ]
    );
    assert_eq!(
        derived[0].options,
        [
            ("Architectures".to_string(), "amd64 arm64".to_string()),
            ("Signed-By".to_string(), "/usr/share/keyrings/debian-archive-keyring.gpg".to_string())
        ]
    );
    assert!(render_deb822(&derived).contains("Architectures: amd64 arm64\n"));
    assert!(parse_one_line("deb [arch=amd64 http://x bookworm main\n")
        .unwrap_err()
        .to_string()
        .contains("line 1"));
}

#[test]
fn unstable_and_experimental_get_no_companions() {
    let entries = parse_deb822(HOST_DEB822).unwrap();
    for suite in ["sid", "unstable", "experimental"] {
        let derived = derive(&entries, Some("bookworm"), suite).unwrap();
        assert_eq!(suites(&derived), [pair("http://archive.example/debian", &[suite])], "{suite}");
    }
    // The host's own release comes back as it is.
    let same = derive(&entries, Some("bookworm"), "bookworm").unwrap();
    assert_eq!(same[0].suites, ["bookworm", "bookworm-updates"]);
}

#[test]
fn the_hosts_release_is_found_without_os_release_and_ambiguity_is_an_error() {
    let entries = parse_deb822(HOST_DEB822).unwrap();
    // No codename: the release with companions is the host's.
    let derived = derive(&entries, None, "trixie").unwrap();
    assert_eq!(derived.len(), 2);
    // A sid host names no companions: its one release is the host's.
    let sid = parse_one_line("deb http://archive.example/debian sid main\n").unwrap();
    assert_eq!(suites(&derive(&sid, Some("forky"), "trixie").unwrap())[0].1, ["trixie"]);
    // Two releases and nothing to choose by.
    let two =
        parse_one_line("deb http://a.example/debian sid main\ndeb http://b.example/x other main\n").unwrap();
    let err = derive(&two, None, "trixie").unwrap_err().to_string();
    assert!(err.contains("other, sid"), "{err}");
    assert_eq!(
        os_release_codename("ID=debian\nVERSION_CODENAME=\"bookworm\"\n").as_deref(),
        Some("bookworm")
    );
}

#[test]
fn a_key_block_in_signed_by_survives_rendering() {
    let text = "Types: deb\nURIs: http://archive.example/debian\nSuites: bookworm\nComponents: main\n\
                Signed-By:\n -----BEGIN PGP PUBLIC KEY BLOCK-----\n .\n abc\n -----END PGP PUBLIC KEY BLOCK-----\n";
    let entries = parse_deb822(text).unwrap();
    let derived = derive(&entries, None, "trixie").unwrap();
    let rendered = render_deb822(&derived);
    assert!(rendered.contains("\n -----BEGIN PGP PUBLIC KEY BLOCK-----\n .\n abc\n"), "{rendered}");
    assert_eq!(parse_deb822(&rendered).unwrap(), derived);
    assert!(is_deb822(text) && !is_deb822(HOST_ONE_LINE) && is_deb822(HOST_DEB822));
}
