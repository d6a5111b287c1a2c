//! The doctor's report as text for a person: a table per section, every
//! diagnostic under what it is about, a summary line; ANSI colour on request.

use std::fmt::Write as _;

use super::{Report, Section};
use crate::diagnostic::{Diagnostic, Severity};

/// A value column wider than this is not padded to: long URLs run on.
const VALUE_WIDTH: usize = 48;

/// ANSI styles, or nothing when colour is off.
struct Style {
    color: bool,
}

impl Style {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
    fn bold(&self, text: &str) -> String {
        self.paint("1", text)
    }
    fn dim(&self, text: &str) -> String {
        self.paint("2", text)
    }
    fn red(&self, text: &str) -> String {
        self.paint("1;31", text)
    }
    fn yellow(&self, text: &str) -> String {
        self.paint("33", text)
    }
    fn green(&self, text: &str) -> String {
        self.paint("32", text)
    }
    fn severity(&self, severity: Severity) -> String {
        // Padded before painting, so escapes do not count toward the width.
        let label = format!("{:<8}", severity.to_string());
        match severity {
            Severity::Error => self.red(&label),
            Severity::Warning => self.yellow(&label),
        }
    }
}

fn width(text: &str) -> usize {
    text.chars().count()
}

fn pad(text: &str, to: usize) -> String {
    let mut out = text.to_owned();
    out.extend(std::iter::repeat_n(' ', to.saturating_sub(width(text))));
    out
}

pub(super) fn render(report: &Report, color: bool) -> String {
    let style = Style { color };
    let mut out = String::new();
    let list = |paths: &[std::path::PathBuf]| {
        paths
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    // No file found: a diagnostic says so, with the paths searched.
    if !report.files.is_empty() {
        let _ = writeln!(out, "{} {}", style.bold("secrets read:"), list(&report.files));
    }
    for found in &report.diagnostics {
        out.push_str(&diagnostic_line(&style, found));
    }
    if report.sections.is_empty() && !report.files.is_empty() {
        let _ = writeln!(
            out,
            "no [connections.<name>] section; add one, e.g. [connections.db] with `type = \"sql\"` and `url = \"sqlite:///app.db\"`"
        );
    }
    for section in &report.sections {
        out.push('\n');
        render_section(&style, section, &mut out);
    }
    let errors = report.count(Severity::Error);
    let failed = report
        .sections
        .iter()
        .filter(|s| s.connect.as_ref().is_some_and(super::ConnectOutcome::failed))
        .count();
    let skipped = report
        .sections
        .iter()
        .filter(|s| s.connect.as_ref().is_some_and(|c| c.skipped.is_some()))
        .count();
    let warnings = report.count(Severity::Warning);
    let plural = |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let mut summary = vec![
        plural(report.sections.len(), "section", "sections"),
        plural(errors, "error", "errors"),
        plural(warnings, "warning", "warnings"),
    ];
    if failed > 0 {
        summary.push(plural(failed, "failed connect", "failed connects"));
    }
    if skipped > 0 {
        summary.push(plural(skipped, "connect skipped", "connects skipped"));
    }
    let summary = summary.join(", ");
    let summary = if errors + failed > 0 {
        style.red(&summary)
    } else if warnings > 0 {
        style.yellow(&summary)
    } else {
        style.green(&summary)
    };
    let _ = write!(out, "\n{summary}");
    out
}

fn render_section(style: &Style, section: &Section, out: &mut String) {
    let header = format!("[connections.{}]", section.name);
    let kind = match (&section.type_name, &section.type_path) {
        (Some(name), Some(path)) if name != path => format!("type {name} ({path})"),
        (_, Some(path)) => format!("type {path}"),
        _ => "type unknown".to_owned(),
    };
    let _ = writeln!(out, "{}  {}", style.bold(&header), style.dim(&kind));
    let key_width = section.keys.iter().map(|k| width(&k.key)).max().unwrap_or(0).max(3);
    let value_width = section
        .keys
        .iter()
        .map(|k| width(&k.value))
        .filter(|&w| w <= VALUE_WIDTH)
        .max()
        .unwrap_or(0)
        .max(5);
    if !section.keys.is_empty() {
        let _ = writeln!(
            out,
            "  {}",
            style.dim(&format!(
                "{}  {}  from",
                pad("key", key_width),
                pad("value", value_width)
            ))
        );
    }
    for key in &section.keys {
        let _ = writeln!(
            out,
            "  {}  {}  {}",
            pad(&key.key, key_width),
            pad(&key.value, value_width),
            style.dim(&key.origin)
        );
    }
    for found in &section.diagnostics {
        out.push_str(&diagnostic_line(style, found));
    }
    if let Some(connect) = &section.connect {
        let checked = if connect.checked { ", check passed" } else { "" };
        let line = match (&connect.skipped, &connect.error) {
            (Some(reason), _) => format!("{} {reason}", style.yellow("skipped:")),
            (None, None) => style.green(&format!("connected in {:.1} ms{checked}", connect.elapsed_ms)),
            (None, Some(error)) => format!(
                "{} {error}",
                style.red(&format!("failed after {:.1} ms:", connect.elapsed_ms))
            ),
        };
        let _ = writeln!(out, "  {}{line}", pad("connect", 9));
    }
}

/// `  error    <message>`, and where in which file when known (a syntax
/// error's message holds its line and column already).
fn diagnostic_line(style: &Style, found: &Diagnostic) -> String {
    let at = match (&found.origin, found.line, found.column) {
        (Some(file), Some(line), Some(column)) if found.kind != crate::DiagnosticKind::Syntax => {
            format!(" (at {}:{line}:{column})", file.display())
        }
        _ => String::new(),
    };
    format!("  {} {}{at}\n", style.severity(found.severity), found.message)
}
