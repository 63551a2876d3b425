//! deb822 control paragraphs (`Field: value`, continuation lines starting
//! with a space), with an OpenPGP clearsigned wrapper taken off first.

use crate::errors::*;

/// One paragraph: fields in file order, names as written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Paragraph {
    fields: Vec<(String, String)>,
}

impl Paragraph {
    /// The value of `name` (compared case-insensitively, as dpkg does);
    /// continuation lines are joined with `\n`, each without its leading space.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Every field as `(name, value)`, in file order, names as written.
    pub fn fields(&self) -> &[(String, String)] {
        &self.fields
    }
}

/// Takes the clearsign wrapper off `text`, if it has one: the signed body
/// without its `Hash:` header, its dash-escaping and the signature. The
/// signature itself is not checked; what reprocheck trusts is the sha256
/// the spec pins.
pub fn strip_clearsign(text: &str) -> Result<String> {
    let mut lines = text.lines();
    let Some(first) = lines.clone().find(|l| !l.trim().is_empty()) else { return Ok(String::new()) };
    if first.trim_end() != "-----BEGIN PGP SIGNED MESSAGE-----" {
        return Ok(text.to_string());
    }
    // Armor headers up to the first blank line.
    lines.by_ref().find(|l| l.trim_end() == "-----BEGIN PGP SIGNED MESSAGE-----");
    for line in lines.by_ref() {
        if line.trim().is_empty() {
            break;
        }
    }
    let mut body = String::new();
    for line in lines {
        if line.trim_end() == "-----BEGIN PGP SIGNATURE-----" {
            return Ok(body);
        }
        body.push_str(line.strip_prefix("- ").unwrap_or(line));
        body.push('\n');
    }
    bail!("the clearsigned text has no -----BEGIN PGP SIGNATURE----- line: it is cut short")
}

/// The one paragraph of a control file that holds exactly one, such as a
/// `.dsc` or a `.buildinfo`, clearsigned or not; `what` names the file in
/// the error (`a .dsc`).
pub fn single_paragraph(text: &str, what: &str) -> Result<Paragraph> {
    let mut all = paragraphs(&strip_clearsign(text)?)?;
    ensure!(all.len() == 1, "{what} holds one paragraph; this has {}", all.len());
    Ok(all.remove(0))
}

/// The paragraphs of `text` (already without a clearsign wrapper).
/// `#` comment lines are skipped, as in `debian/control`.
pub fn paragraphs(text: &str) -> Result<Vec<Paragraph>> {
    let mut all = Vec::new();
    let mut current = Paragraph::default();
    for (number, line) in text.lines().enumerate() {
        let number = number + 1;
        if line.trim().is_empty() {
            if !current.fields.is_empty() {
                all.push(std::mem::take(&mut current));
            }
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            let Some((_, value)) = current.fields.last_mut() else {
                bail!("line {number}: a continuation line before any field");
            };
            if !value.is_empty() {
                value.push('\n');
            }
            let rest = line.trim();
            value.push_str(if rest == "." { "" } else { rest });
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            bail!(
                "line {number}: `{}` is not a `Field: value` line",
                line.chars().take(60).collect::<String>()
            );
        };
        ensure!(
            !name.is_empty() && name.chars().all(|c| c.is_ascii_graphic()),
            "line {number}: `{name}` is not a field name"
        );
        current.fields.push((name.to_string(), value.trim().to_string()));
    }
    if !current.fields.is_empty() {
        all.push(current);
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clearsigned_paragraph_reads_like_a_plain_one() {
        let signed = "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nSource: hello\n- -- escaped\nFiles:\n a 1 x\n b 2 y\n\n-----BEGIN PGP SIGNATURE-----\nabc\n-----END PGP SIGNATURE-----\n";
        let body = strip_clearsign(signed).unwrap();
        assert_eq!(body, "Source: hello\n-- escaped\nFiles:\n a 1 x\n b 2 y\n\n");
        let err = paragraphs(&body).unwrap_err().to_string();
        assert!(err.contains("line 2"), "{err}");
        let plain = paragraphs("Source: hello\nfiles:\n a 1 x\n b 2 y\n\n\nPackage: p\n").unwrap();
        assert_eq!(plain.len(), 2);
        assert_eq!(plain[0].get("FILES"), Some("a 1 x\nb 2 y"));
        assert_eq!(plain[1].get("package"), Some("p"));
    }

    #[test]
    fn a_cut_signature_is_an_error() {
        let cut = "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nSource: x\n";
        assert!(strip_clearsign(cut).unwrap_err().to_string().contains("cut short"));
        assert_eq!(strip_clearsign("Source: x\n").unwrap(), "Source: x\n");
    }

    #[test]
    fn a_single_paragraph_file_with_two_or_none_is_an_error_naming_it() {
        let signed = "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nSource: x\n\n-----BEGIN PGP SIGNATURE-----\n";
        assert_eq!(single_paragraph(signed, "a .dsc").unwrap().get("Source"), Some("x"));
        let err = single_paragraph("Source: x\n\nSource: y\n", "a .dsc").unwrap_err().to_string();
        assert_eq!(err, "a .dsc holds one paragraph; this has 2");
        let err = single_paragraph("# nothing\n", "a .buildinfo").unwrap_err().to_string();
        assert_eq!(err, "a .buildinfo holds one paragraph; this has 0");
    }
}
