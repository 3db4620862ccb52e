//! Values of the `%name%` placeholders that rules with the `expand` modifier use (SigmaHQ's
//! `rules-placeholder`: `IpAddress|expand: '%Admins_Workstations%'`). The specification leaves
//! the values to the environment; pySigma takes them from a processing pipeline's `vars`, so a
//! file here is either such a pipeline (its `vars` map is read, the rest ignored) or the map
//! alone:
//!
//! ```yaml
//! Admins_Workstations: [ws-adm-01, ws-adm-02]
//! DomainName: CORP
//! ```

use std::collections::HashMap;
use std::path::Path;

use crate::model::{RuleDoc, Search, Value};
use crate::modifier::Modifier;
use crate::yaml::{Node, Scalar, Yaml, parse_documents};

/// Placeholder name (without the `%`) → its values.
pub type Placeholders = HashMap<String, Vec<String>>;

/// Why a placeholders file could not be read; says where and what to write instead.
#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct PlaceholdersError {
    /// The file.
    pub file: String,
    /// The 1-based line of the problem.
    pub line: usize,
    /// What is wrong and what to write.
    pub message: String,
}

/// Reads the placeholder values in `path`.
pub fn load_placeholders(path: &Path) -> Result<Placeholders, PlaceholdersError> {
    let text = std::fs::read_to_string(path).map_err(|e| PlaceholdersError {
        file: path.display().to_string(),
        line: 1,
        message: format!("cannot read it ({e}); check the path"),
    })?;
    parse_placeholders(&text).map_err(|(line, message)| PlaceholdersError {
        file: path.display().to_string(),
        line,
        message,
    })
}

/// Reads placeholder values from YAML text; an error gives its line and what to write.
pub fn parse_placeholders(text: &str) -> Result<Placeholders, (usize, String)> {
    const SHAPE: &str = "write NAME: VALUE or NAME: [VALUE, ...] per placeholder (or a pySigma pipeline with a `vars:` map)";
    let docs = parse_documents(text).map_err(|e| (e.line, format!("YAML: {}", e.message)))?;
    let root = match docs.as_slice() {
        [] => return Ok(Placeholders::new()),
        [root] => root,
        [_, second, ..] => {
            return Err((second.line, "one YAML document only".into()));
        }
    };
    if root.is_null() {
        return Ok(Placeholders::new());
    }
    // A pySigma pipeline: its `vars`, none when it has no `vars`.
    let map = match (root.get("vars"), root.get("transformations")) {
        (Some(vars), _) => vars,
        (None, Some(_)) => return Ok(Placeholders::new()),
        (None, None) => root,
    };
    if map.is_null() {
        return Ok(Placeholders::new());
    }
    let Some(entries) = map.as_map() else {
        return Err((map.line, format!("not a map of placeholders: {SHAPE}")));
    };
    let mut out = Placeholders::new();
    for (key, value) in entries {
        let name = match key.as_str() {
            Some(name) if !name.trim().is_empty() && !name.contains('%') => name.to_owned(),
            _ => {
                return Err((
                    key.line,
                    format!(
                        "a placeholder's name is text without `%` (Workstations for %Workstations%): {SHAPE}"
                    ),
                ));
            }
        };
        let items: Vec<&Node> = match &value.value {
            Yaml::Seq(items) => items.iter().collect(),
            _ => vec![value],
        };
        let mut values = Vec::with_capacity(items.len());
        for item in items {
            match &item.value {
                Yaml::Scalar(_, Scalar::Null) => {}
                Yaml::Scalar(text, _) => values.push(text.clone()),
                _ => {
                    return Err((
                        item.line,
                        format!("the values of `{name}` are text or numbers: {SHAPE}"),
                    ));
                }
            }
        }
        if out.insert(name.clone(), values).is_some() {
            return Err((key.line, format!("`{name}` is given twice; give it once")));
        }
    }
    Ok(out)
}

/// The placeholders a rule's `expand` values use (`%name%`, by name), each once, in the
/// order written: those a placeholders file should give values.
pub fn used_placeholders(doc: &RuleDoc) -> Vec<&str> {
    let detection = match doc {
        RuleDoc::Rule(rule) => &rule.detection,
        RuleDoc::Filter(filter) => &filter.detection,
        RuleDoc::Correlation(_) => return Vec::new(),
    };
    let mut names = Vec::new();
    for (_, search) in &detection.searches {
        let Search::Maps(maps) = search else {
            continue;
        };
        let expanded = maps
            .iter()
            .flatten()
            .filter(|item| item.modifiers.contains(&Modifier::Expand));
        for item in expanded {
            for value in &item.values {
                let Value::Str(text) = value else {
                    continue;
                };
                for part in expand_parts(text) {
                    if let ExpandPart::Placeholder(name) = part
                        && !names.contains(&name)
                    {
                        names.push(name);
                    }
                }
            }
        }
    }
    names
}

/// The placeholders `docs` use that `values` gives no value, each with the rules (id, or title)
/// that use it, sorted by name. An `expand` value built on one matches nothing: a selection on
/// it never holds and, what matters more, a filter on it (`not filter_admins`) excludes
/// nothing, so the rule fires where its author meant it not to. Every command that loads
/// rules names them.
pub fn placeholders_without_values(
    docs: &[RuleDoc],
    values: &Placeholders,
) -> Vec<(String, Vec<String>)> {
    let mut missing: std::collections::BTreeMap<&str, Vec<String>> = Default::default();
    for doc in docs {
        for name in used_placeholders(doc) {
            if !values.contains_key(name) {
                let meta = doc.meta();
                let rule = meta.id.clone().unwrap_or_else(|| meta.title.clone());
                missing.entry(name).or_default().push(rule);
            }
        }
    }
    missing
        .into_iter()
        .map(|(name, rules)| (name.to_string(), rules))
        .collect()
}

/// One line per placeholder of [`placeholders_without_values`], for a warning: the
/// placeholder, how many rules use it and the first few of them.
pub fn describe_without_values(missing: &[(String, Vec<String>)]) -> Vec<String> {
    const SHOWN: usize = 3;
    missing
        .iter()
        .map(|(name, rules)| {
            let mut shown = rules[..rules.len().min(SHOWN)].join(", ");
            if rules.len() > SHOWN {
                shown.push_str(&format!(" and {} more", rules.len() - SHOWN));
            }
            let count = match rules.len() {
                1 => "1 rule".to_string(),
                n => format!("{n} rules"),
            };
            format!("%{name}% ({count}: {shown})")
        })
        .collect()
}

/// One piece of a value written for the `expand` modifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpandPart<'a> {
    /// Text kept as written.
    Text(&'a str),
    /// A `%name%` placeholder's name.
    Placeholder(&'a str),
}

/// The pieces of `text` in order: `%name%` is a placeholder, `\%` a `%` of the text (the
/// specification's `\%plain%name%` is the text `%plain` and the placeholder `name`), and a `%`
/// without another after it is text. What `expand` replaces and `vigil rules check` lists,
/// read one way.
pub fn expand_parts(text: &str) -> impl Iterator<Item = ExpandPart<'_>> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let (part, used) = next_part(rest);
        rest = &rest[used..];
        Some(part)
    })
}

/// The first piece of `rest` (not empty) and how many bytes it takes.
fn next_part(rest: &str) -> (ExpandPart<'_>, usize) {
    let bytes = rest.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match (bytes[i], bytes.get(i + 1)) {
            (b'\\', Some(b'%')) if i > 0 => return (ExpandPart::Text(&rest[..i]), i),
            // `\%`: the `%` alone, as text.
            (b'\\', Some(b'%')) => return (ExpandPart::Text(&rest[1..2]), 2),
            // An escaped backslash stays as written (the value's own escapes read it).
            (b'\\', Some(b'\\')) => i += 2,
            (b'%', _) => match rest[i + 1..].find('%') {
                Some(_) if i > 0 => return (ExpandPart::Text(&rest[..i]), i),
                Some(len) => return (ExpandPart::Placeholder(&rest[1..1 + len]), len + 2),
                None => i += 1,
            },
            _ => i += 1,
        }
    }
    (ExpandPart::Text(rest), rest.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_split_into_text_and_placeholders() {
        use ExpandPart::{Placeholder as P, Text as T};
        let parts = |s| expand_parts(s).collect::<Vec<_>>();
        assert_eq!(parts("%a%"), [P("a")]);
        assert_eq!(parts("x%a%y%b%"), [T("x"), P("a"), T("y"), P("b")]);
        assert_eq!(parts("a%b%c%d"), [T("a"), P("b"), T("c%d")]);
        assert_eq!(parts("100%"), [T("100%")]);
        assert_eq!(parts("%%"), [P("")]);
        assert_eq!(parts(""), []);
        assert_eq!(parts("é%ü%ß"), [T("é"), P("ü"), T("ß")]);
        // The specification's escape: `\%plain` is text, `%name%` a placeholder.
        assert_eq!(parts(r"\%plain%name%"), [T("%"), T("plain"), P("name")]);
        assert_eq!(parts(r"a\%b\%"), [T("a"), T("%"), T("b"), T("%")]);
        assert_eq!(parts(r"C:\\%x%"), [T(r"C:\\"), P("x")]);
    }

    fn parsed(text: &str) -> Vec<(String, Vec<String>)> {
        let mut v: Vec<_> = parse_placeholders(text).unwrap().into_iter().collect();
        v.sort();
        v
    }

    #[test]
    fn a_map_or_a_pipelines_vars_gives_the_values() {
        let expected = vec![
            (
                "Admins_Workstations".to_owned(),
                vec!["ws-1".to_owned(), "ws-2".to_owned()],
            ),
            ("DomainName".to_owned(), vec!["CORP".to_owned()]),
            (
                "Ports".to_owned(),
                vec!["443".to_owned(), "8443".to_owned()],
            ),
        ];
        let map = "Admins_Workstations: [ws-1, ws-2]\nDomainName: CORP\nPorts: [443, 8443]\n";
        assert_eq!(parsed(map), expected);
        let pipeline = "name: our environment\npriority: 10\nvars:\n  Admins_Workstations:\n    - ws-1\n    - ws-2\n  DomainName: CORP\n  Ports: [443, 8443]\ntransformations: []\n";
        assert_eq!(parsed(pipeline), expected);
        assert!(parsed("").is_empty());
        let without_vars =
            "name: no vars\ntransformations:\n  - id: x\n    type: field_name_mapping\n";
        assert!(parsed(without_vars).is_empty());
        assert_eq!(
            parsed("Empty: []\nNone:\n"),
            vec![("Empty".to_owned(), vec![]), ("None".to_owned(), vec![]),]
        );
    }

    #[test]
    fn a_bad_file_names_the_line_and_the_shape() {
        for (text, line, says) in [
            ("- a\n- b\n", 1, "not a map"),
            ("A: x\n'%B%': y\n", 2, "without `%`"),
            ("A: x\nB:\n  c: d\n", 3, "text or numbers"),
            ("A: [x, [y]]\n", 1, "text or numbers"),
            ("A: x\nA: y\n", 2, "written twice"),
            ("A: [x\n", 1, "YAML"),
            ("A: x\n---\nB: y\n", 3, "one YAML document"),
        ] {
            let (at, message) = parse_placeholders(text).unwrap_err();
            assert_eq!(at, line, "{text:?}: {message}");
            assert!(message.contains(says), "{text:?}: {message}");
        }
    }

    #[test]
    fn the_placeholders_a_rule_uses_are_named_once() {
        let text = "title: T\nlogsource: {product: windows}\ndetection:\n  a:\n    X|expand: ['%one%', 'x%two%y%one%', '100%']\n    Y: '%not_expanded%'\n  b:\n    Z|contains|expand: '%three%'\n  condition: a or b\n";
        let (docs, diagnostics) = crate::parse_str(text, Path::new("t.yml"));
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        assert_eq!(used_placeholders(&docs[0]), ["one", "two", "three"]);
    }

    #[test]
    fn placeholders_without_values_are_named_with_their_rules() {
        let rule = |id: &str, placeholder: &str| {
            format!(
                "title: T {id}\nid: {id}\nlogsource: {{product: x}}\ndetection:\n  s: {{A: b}}\n  f:\n    X|expand: '%{placeholder}%'\n  condition: s and not f\n"
            )
        };
        let text = [
            rule("r1", "admins"),
            rule("r2", "admins"),
            rule("r3", "admins"),
            rule("r4", "admins"),
            rule("r5", "dcs"),
            rule("r6", "known"),
        ]
        .join("---\n");
        let (docs, diagnostics) = crate::parse_str(&text, Path::new("t.yml"));
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        let values: Placeholders = [("known".to_string(), vec!["v".to_string()])].into();
        let missing = placeholders_without_values(&docs, &values);
        assert_eq!(
            describe_without_values(&missing),
            [
                "%admins% (4 rules: r1, r2, r3 and 1 more)",
                "%dcs% (1 rule: r5)"
            ]
        );
    }
}
