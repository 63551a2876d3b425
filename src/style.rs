//! Text for the terminal: the summary with its verdicts and diff lines in
//! colour (when asked), and never a raw control character. The summary
//! quotes build output (diffs, file names), which is hostile: an escape
//! sequence in it must not reach the terminal.

use anstyle::{AnsiColor, Style};

const GOOD: Style = Style::new().fg_color(Some(anstyle::Color::Ansi(AnsiColor::Green))).bold();
const BAD: Style = Style::new().fg_color(Some(anstyle::Color::Ansi(AnsiColor::Red))).bold();
const ADVICE: Style = Style::new().fg_color(Some(anstyle::Color::Ansi(AnsiColor::Yellow)));
const REMOVED: Style = Style::new().fg_color(Some(anstyle::Color::Ansi(AnsiColor::Red)));
const ADDED: Style = Style::new().fg_color(Some(anstyle::Color::Ansi(AnsiColor::Green)));

/// Leading words of a summary line and how they are painted.
const MARKERS: [(&str, Style); 6] = [
    ("REPRODUCIBLE", GOOD),
    ("VERIFIED", GOOD),
    ("UNREPRODUCIBLE", BAD),
    ("NOT VERIFIED", BAD),
    ("ERROR", BAD),
    ("hint:", ADVICE),
];

/// `text` made safe for a terminal and, with `color`, painted line by line.
pub fn for_terminal(text: &str, color: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let (body, newline) = match line.strip_suffix('\n') {
            Some(body) => (body, "\n"),
            None => (line, ""),
        };
        let body = without_controls(body);
        out.push_str(&if color { paint(&body) } else { body });
        out.push_str(newline);
    }
    out
}

/// `error`, red and bold with `color`.
pub fn error_label(color: bool) -> String {
    match color {
        true => format!("{BAD}error{BAD:#}"),
        false => "error".to_string(),
    }
}

/// Multi-line text with control characters replaced on each line.
pub fn without_controls_keeping_lines(text: &str) -> String {
    text.split('\n').map(without_controls).collect::<Vec<_>>().join("\n")
}

/// `text` cut to `max` characters, with an ellipsis when cut.
pub fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

/// Replaces control characters other than tab.
pub fn without_controls(text: &str) -> String {
    text.chars().map(|c| if c.is_control() && c != '\t' { '\u{fffd}' } else { c }).collect()
}

fn paint(line: &str) -> String {
    let trimmed = line.trim_start();
    let indent = &line[..line.len() - trimmed.len()];
    for (marker, style) in MARKERS {
        if let Some(rest) = trimmed.strip_prefix(marker) {
            return format!("{indent}{style}{marker}{style:#}{rest}");
        }
    }
    // Lines of a unified text diff, as the summary quotes them: `| -old`, `| +new`.
    if let Some(diff_line) = trimmed.strip_prefix("| ") {
        let style = match diff_line.as_bytes().first() {
            Some(b'-') => REMOVED,
            Some(b'+') => ADDED,
            _ => return line.to_string(),
        };
        return format!("{indent}{style}{trimmed}{style:#}");
    }
    line.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_never_pass() {
        let text = "UNREPRODUCIBLE: x\n      | -\x1b]0;owned\x07\n";
        for color in [false, true] {
            let shown = for_terminal(text, color);
            assert!(!shown.contains('\x07') && !shown.contains("\x1b]"), "{shown:?}");
        }
        assert_eq!(for_terminal(text, false), "UNREPRODUCIBLE: x\n      | -\u{fffd}]0;owned\u{fffd}\n");
    }

    #[test]
    fn verdicts_and_diff_lines_are_painted_only_with_color() {
        let text = "REPRODUCIBLE: 2 runs\n  hint: use SOURCE_DATE_EPOCH\n      | +new\nplain\n";
        assert_eq!(for_terminal(text, false), text);
        let painted = for_terminal(text, true);
        assert!(painted.starts_with(&format!("{GOOD}REPRODUCIBLE{GOOD:#}: 2 runs\n")), "{painted:?}");
        assert!(painted.contains(&format!("  {ADVICE}hint:{ADVICE:#} use")), "{painted:?}");
        assert!(painted.contains(&format!("      {ADDED}| +new{ADDED:#}\n")), "{painted:?}");
        assert!(painted.ends_with("plain\n"));
    }
}
