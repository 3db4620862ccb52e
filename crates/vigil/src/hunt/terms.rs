//! `vigil hunt --search TEXT`: an indicator swept for across a collection without writing a
//! rule (an IP, a domain, a hash, a tool's name), as a responder greps EVTX with Chainsaw's or
//! Hayabusa's `search`. Each term becomes one Sigma keyword rule ("Search: TEXT",
//! informational), so it runs through the same engine, output and summary as the rules: found
//! anywhere in an event's values, ignoring case, each match naming its file and record.

use std::path::Path;

use anyhow::{Context, bail};
use vigil_sigma::RuleDoc;

/// The file name search terms' rules carry: a compiled rule is told apart by (file, line).
pub const SEARCH_FILE: &str = "<--search>";

/// The terms of a `--search-file`: one per line, blank lines and `#` comments skipped, each
/// trimmed.
pub fn read_terms(file: &Path) -> anyhow::Result<Vec<String>> {
    let text = std::fs::read_to_string(file).with_context(|| {
        format!(
            "cannot read the --search-file {}; check the path (a text file, one term per line)",
            file.display()
        )
    })?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(str::to_owned)
        .collect())
}

/// One keyword rule per term, in the order given; a term given twice (in any case) once.
pub fn search_rules(terms: &[String]) -> anyhow::Result<Vec<RuleDoc>> {
    let mut text = String::new();
    let mut seen = std::collections::HashSet::new();
    let terms = terms.iter().filter(|t| seen.insert(t.to_lowercase()));
    for (i, term) in terms.enumerate() {
        if term.trim().is_empty() {
            bail!("--search needs some text to look for");
        }
        if term.contains(['\n', '\r']) {
            bail!("--search takes one line of text; give --search once per term");
        }
        if i > 0 {
            text.push_str("---\n");
        }
        text.push_str(&format!(
            "title: {title}\n\
             description: Events holding {title_text} in any value (vigil hunt --search).\n\
             logsource: {{}}\n\
             detection:\n  \
               term:\n    - {needle}\n  \
               condition: term\n\
             level: informational\n",
            title = yaml_quoted(&format!("{TITLE_PREFIX}{term}")),
            title_text = yaml_quoted(term),
            needle = yaml_quoted(&literal(term)),
        ));
    }
    let (docs, problems) = vigil_sigma::parse_str(&text, Path::new(SEARCH_FILE));
    if let Some(problem) = problems.first() {
        // The text is this module's own: a problem here is a bug, not the user's.
        return Err(anyhow::anyhow!("{}", problem.message))
            .context("a --search term could not be made into a rule; report this as a bug");
    }
    Ok(docs)
}

/// The term a `--search` rule looks for; `None` for any other rule.
pub fn term_of(rule: &vigil_detect::RuleMeta) -> Option<&str> {
    if rule.meta.file.as_os_str() != SEARCH_FILE {
        return None;
    }
    rule.title().strip_prefix(TITLE_PREFIX)
}

/// What a search rule's title starts with, before the term.
const TITLE_PREFIX: &str = "Search: ";

/// `text` as a Sigma value that means itself: `*`, `?` and `\` escaped (a keyword is looked for
/// inside values, so no wildcard is needed around it).
fn literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    for c in text.chars() {
        if matches!(c, '*' | '?' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A YAML single-quoted scalar: nothing is special in it but the quote, written twice.
fn yaml_quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_detect::{CompileOptions, Event, FieldValue, compile};

    /// A flat event of string fields.
    struct Flat(Vec<(&'static str, &'static str)>);

    impl Event for Flat {
        fn field_values(&self, field: &str, visit: &mut dyn FnMut(&FieldValue<'_>)) -> bool {
            let mut found = false;
            for (k, v) in &self.0 {
                if *k == field {
                    visit(&FieldValue::Str((*v).into()));
                    found = true;
                }
            }
            found
        }

        fn for_each_value(&self, visit: &mut dyn FnMut(&FieldValue<'_>)) {
            for (_, v) in &self.0 {
                visit(&FieldValue::Str((*v).into()));
            }
        }
    }

    fn titles_matching(terms: &[&str], event: &Flat) -> Vec<String> {
        let terms: Vec<String> = terms.iter().map(|t| (*t).to_owned()).collect();
        let docs = search_rules(&terms).unwrap();
        let (set, problems) = compile(&docs, &CompileOptions::default());
        assert!(problems.is_empty(), "{problems:?}");
        let mut matcher = set.matcher();
        matcher
            .matches(event)
            .iter()
            .map(|&r| set.rule(r).title().to_owned())
            .collect()
    }

    #[test]
    fn each_term_is_found_in_any_value_ignoring_case_and_meaning_itself() {
        let event = Flat(vec![
            ("CommandLine", r"C:\Tools\MIMIKATZ.exe privilege::debug"),
            ("DestinationIp", "203.0.113.9"),
            ("Note", "what's *this*?"),
        ]);
        assert_eq!(
            titles_matching(&["mimikatz", "203.0.113.9", "198.51.100.1"], &event),
            ["Search: mimikatz", "Search: 203.0.113.9"]
        );
        // Wildcards and backslashes are the characters themselves; quotes need nothing.
        assert_eq!(
            titles_matching(&[r"tools\mimi", "*this*?", "what's", "c:*.exe"], &event),
            [r"Search: tools\mimi", "Search: *this*?", "Search: what's"]
        );
    }

    #[test]
    fn a_search_file_holds_a_term_per_line_and_a_term_counts_once() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("iocs.txt");
        std::fs::write(
            &file,
            "# from the CERT advisory\n203.0.113.9\n\n  Evil.Example  \nevil.example\n",
        )
        .unwrap();
        let terms = read_terms(&file).unwrap();
        assert_eq!(terms, ["203.0.113.9", "Evil.Example", "evil.example"]);
        let titles: Vec<String> = search_rules(&terms)
            .unwrap()
            .iter()
            .map(|d| d.meta().title.clone())
            .collect();
        assert_eq!(titles, ["Search: 203.0.113.9", "Search: Evil.Example"]);
        let missing = read_terms(&dir.path().join("nope.txt")).unwrap_err();
        assert!(
            format!("{missing:#}").contains("--search-file"),
            "{missing:#}"
        );
    }

    #[test]
    fn an_empty_or_multi_line_term_is_refused() {
        assert!(search_rules(&[" ".to_owned()]).is_err());
        assert!(search_rules(&["a\nb".to_owned()]).is_err());
    }
}
