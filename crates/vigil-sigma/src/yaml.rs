//! A small YAML tree with line numbers, built from `yaml-rust2`'s event parser.
//!
//! Sigma needs the line of every key and value for its diagnostics, and the keys of a map in
//! the order they were written (search identifiers, modifiers). `yaml-rust2`'s own `Yaml` type
//! drops both, so this module builds its own tree from the marked event stream. Anchors and
//! aliases are resolved by copying the anchored node.
//!
//! The events are read one by one, not through `Parser::load`, which recurses once per level
//! of nesting (a file of `- - - - …` overflowed the stack and took the process with it); the
//! tree is built on a stack of its own, with nesting and the nodes aliases copy bounded, so no
//! rule file — a "billion laughs" of aliases of aliases included — can exhaust the memory.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// The resolved type of a scalar, following the YAML 1.2 core schema for plain scalars.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    /// `null`, `~` or an empty plain scalar.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer written in decimal, hexadecimal (`0x`) or octal (`0o`), exact: 128 bits hold
    /// every 64-bit integer, signed or not (an event's `UInt64` field, a logon id).
    Int(i128),
    /// A floating-point number.
    Float(f64),
    /// Any other scalar, and every quoted or block scalar.
    Str,
}

/// The content of a YAML node.
#[derive(Debug, Clone, PartialEq)]
pub enum Yaml {
    /// A scalar: its text as written (after unquoting) and its resolved type.
    Scalar(String, Scalar),
    /// A sequence, in order.
    Seq(Vec<Node>),
    /// A mapping, in the order the keys were written.
    Map(Vec<(Node, Node)>),
}

/// One YAML node and the line (1-based) where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The node's content.
    pub value: Yaml,
    /// The 1-based line where the node starts.
    pub line: usize,
}

impl Node {
    /// The text of a scalar node, or `None` for a sequence or map.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Yaml::Scalar(s, kind) if *kind != Scalar::Null => Some(s),
            _ => None,
        }
    }

    /// The entries of a map node.
    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.value {
            Yaml::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The value of `key` in a map node.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
    }

    /// True for a null scalar.
    pub fn is_null(&self) -> bool {
        matches!(self.value, Yaml::Scalar(_, Scalar::Null))
    }
}

/// A YAML syntax error with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct YamlError {
    /// The 1-based line of the error.
    pub line: usize,
    /// What the YAML scanner reported.
    pub message: String,
}

/// How deep collections may nest: a Sigma rule nests a few levels (detection, selection,
/// field, list).
const MAX_DEPTH: usize = 64;

/// How many nodes a file may make, the copies aliases make counted: far more than any rule
/// (SigmaHQ's largest make a few thousand), far less than memory holds.
const MAX_NODES: usize = 1_000_000;

/// Parses every document of a YAML stream.
pub fn parse_documents(text: &str) -> Result<Vec<Node>, YamlError> {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    loop {
        let (event, mark) = parser.next_token().map_err(|e| YamlError {
            // An error found at the end of the text (a key without its colon on the last
            // line, a bracket never closed) is marked past it; the line to fix is the last
            // one written.
            line: e.marker().line().clamp(1, last_written_line(text)),
            message: e.info().to_string(),
        })?;
        if event == Event::StreamEnd {
            return Ok(builder.docs);
        }
        builder.on_event(event, mark)?;
        if let Some((line, first, key)) = builder.duplicate.take() {
            return Err(YamlError {
                line,
                message: format!(
                    "the key {key:?} is written twice in one map (first on line {first}); YAML allows a key once: write it once (in a Sigma rule, two tests of one field go in selections of their own)"
                ),
            });
        }
    }
}

/// The 1-based number of the last line holding more than blanks, counting lines as YAML does
/// (a lone carriage return breaks a line too); 1 for a blank text.
fn last_written_line(text: &str) -> usize {
    let (mut line, mut last) = (1, 1);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' => line += 1,
            '\r' if chars.peek() != Some(&'\n') => line += 1,
            c if !c.is_whitespace() => last = line,
            _ => {}
        }
    }
    last
}

enum Frame {
    Seq(Vec<Node>, usize, usize),
    Map(Vec<(Node, Node)>, Option<Node>, usize, usize),
}

#[derive(Default)]
struct Builder {
    docs: Vec<Node>,
    stack: Vec<Frame>,
    /// Each anchored node and how many nodes it holds.
    anchors: HashMap<usize, (Node, usize)>,
    /// Nodes made so far, aliases' copies counted whole.
    nodes: usize,
    /// The first key written twice in one map: its line, the first one's, and the key.
    duplicate: Option<(usize, usize, String)>,
}

/// How many nodes `node` holds, itself included.
fn size(node: &Node) -> usize {
    1 + match &node.value {
        Yaml::Scalar(..) => 0,
        Yaml::Seq(items) => items.iter().map(size).sum(),
        Yaml::Map(entries) => entries.iter().map(|(k, v)| size(k) + size(v)).sum(),
    }
}

impl Builder {
    fn push(&mut self, node: Node, anchor: usize) {
        if anchor > 0 {
            let nodes = size(&node);
            self.anchors.insert(anchor, (node.clone(), nodes));
        }
        match self.stack.last_mut() {
            None => self.docs.push(node),
            Some(Frame::Seq(items, _, _)) => items.push(node),
            Some(Frame::Map(entries, key, _, _)) => match key.take() {
                None => *key = Some(node),
                Some(k) => {
                    // YAML allows a key once per map. Loaders differ on a second one (PyYAML,
                    // so pySigma, keeps the last; Vigil used to keep both): neither reading can
                    // be trusted to be what the author meant.
                    if let Yaml::Scalar(text, kind) = &k.value
                        && let Some((first, _)) = entries.iter().find(|(e, _)| {
                            matches!(&e.value, Yaml::Scalar(t, kd) if t == text && kd == kind)
                        })
                    {
                        self.duplicate.get_or_insert((k.line, first.line, text.clone()));
                    }
                    // A key written with nothing after it (`selection:`) gets an empty value
                    // marked where the next token starts, lines below or past the end of the
                    // text: the line to show is the key's.
                    let node = match &node.value {
                        Yaml::Scalar(text, Scalar::Null) if text.is_empty() => Node {
                            line: k.line,
                            ..node
                        },
                        _ => node,
                    };
                    entries.push((k, node))
                }
            },
        }
    }
}

fn resolve_plain(s: &str) -> Scalar {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Scalar::Null,
        "true" | "True" | "TRUE" => return Scalar::Bool(true),
        "false" | "False" | "FALSE" => return Scalar::Bool(false),
        _ => {}
    }
    let bytes = s.as_bytes();
    let first = bytes[0];
    if !(first.is_ascii_digit() || first == b'-' || first == b'+' || first == b'.') {
        return Scalar::Str;
    }
    if let Some(Ok(v)) = s.strip_prefix("0x").map(|h| i128::from_str_radix(h, 16)) {
        return Scalar::Int(v);
    }
    if let Some(Ok(v)) = s.strip_prefix("0o").map(|o| i128::from_str_radix(o, 8)) {
        return Scalar::Int(v);
    }
    if let Ok(v) = s.parse::<i128>() {
        return Scalar::Int(v);
    }
    let is_float_syntax = bytes
        .iter()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E'))
        && bytes.iter().any(|b| b.is_ascii_digit());
    if let (true, Ok(v)) = (is_float_syntax, s.parse::<f64>()) {
        return Scalar::Float(v);
    }
    Scalar::Str
}

impl Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) -> Result<(), YamlError> {
        let line = mark.line().max(1);
        let added = match &ev {
            Event::Alias(id) => self.anchors.get(id).map_or(1, |(_, n)| *n),
            Event::Scalar(..) | Event::SequenceStart(..) | Event::MappingStart(..) => 1,
            _ => 0,
        };
        self.nodes = self.nodes.saturating_add(added);
        if self.nodes > MAX_NODES {
            return Err(YamlError {
                line,
                message: format!(
                    "the document makes more than {MAX_NODES} nodes (aliases copying aliases); a Sigma rule is far smaller"
                ),
            });
        }
        if self.stack.len() >= MAX_DEPTH
            && matches!(ev, Event::SequenceStart(..) | Event::MappingStart(..))
        {
            return Err(YamlError {
                line,
                message: format!(
                    "lists and maps nest more than {MAX_DEPTH} levels deep; a Sigma rule nests a few"
                ),
            });
        }
        match ev {
            Event::Scalar(text, style, anchor, tag) => {
                let kind = if style == TScalarStyle::Plain && !is_str_tag(tag.as_ref()) {
                    resolve_plain(&text)
                } else {
                    Scalar::Str
                };
                self.push(
                    Node {
                        value: Yaml::Scalar(text, kind),
                        line,
                    },
                    anchor,
                );
            }
            Event::SequenceStart(anchor, _) => {
                self.stack.push(Frame::Seq(Vec::new(), anchor, line))
            }
            Event::SequenceEnd => {
                if let Some(Frame::Seq(items, anchor, line)) = self.stack.pop() {
                    self.push(
                        Node {
                            value: Yaml::Seq(items),
                            line,
                        },
                        anchor,
                    );
                }
            }
            Event::MappingStart(anchor, _) => {
                self.stack.push(Frame::Map(Vec::new(), None, anchor, line))
            }
            Event::MappingEnd => {
                if let Some(Frame::Map(entries, _, anchor, line)) = self.stack.pop() {
                    self.push(
                        Node {
                            value: Yaml::Map(entries),
                            line,
                        },
                        anchor,
                    );
                }
            }
            Event::Alias(id) => {
                let node = self.anchors.get(&id).map_or(
                    Node {
                        value: Yaml::Scalar(String::new(), Scalar::Null),
                        line,
                    },
                    |(node, _)| node.clone(),
                );
                self.push(node, 0);
            }
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart
            | Event::DocumentEnd => {}
        }
        Ok(())
    }
}

fn is_str_tag(tag: Option<&Tag>) -> bool {
    tag.is_some_and(|t| t.suffix == "str")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_keep_text_and_type_and_lines() {
        let docs = parse_documents("a: 4624\nb: '4624'\nc: ~\nd:\n  - x\n  - 1.5\n---\ne: true\n")
            .unwrap();
        assert_eq!(docs.len(), 2);
        let a = docs[0].get("a").unwrap();
        assert_eq!(a.value, Yaml::Scalar("4624".into(), Scalar::Int(4624)));
        // Integers beyond 64 bits' signed range stay exact integers, not floats.
        let big = parse_documents("a: 18446744073709551615\nb: 9007199254740993\n").unwrap();
        assert_eq!(
            big[0].get("a").unwrap().value,
            Yaml::Scalar("18446744073709551615".into(), Scalar::Int(u64::MAX as i128))
        );
        assert_eq!(
            big[0].get("b").unwrap().value,
            Yaml::Scalar("9007199254740993".into(), Scalar::Int(9007199254740993))
        );
        assert_eq!(a.line, 1);
        assert_eq!(
            docs[0].get("b").unwrap().value,
            Yaml::Scalar("4624".into(), Scalar::Str)
        );
        assert!(docs[0].get("c").unwrap().is_null());
        let d = docs[0].get("d").unwrap();
        match &d.value {
            Yaml::Seq(items) => {
                assert_eq!(items[1].line, 6);
                assert_eq!(
                    items[1].value,
                    Yaml::Scalar("1.5".into(), Scalar::Float(1.5))
                );
            }
            other => panic!("expected a sequence, got {other:?}"),
        }
        assert_eq!(
            docs[1].get("e").unwrap().value,
            Yaml::Scalar("true".into(), Scalar::Bool(true))
        );
    }

    #[test]
    fn syntax_error_has_a_line() {
        let err = parse_documents("a: [1, 2\nb: c\n").unwrap_err();
        assert!(err.line >= 1, "{err:?}");
        let line = |text| parse_documents(text).unwrap_err().line;
        assert_eq!(line("a: b\nc: d\ne: x: y\nf: g\n"), 3, "where it is found");
        assert_eq!(
            line("a: b\nc: d\ne f"),
            3,
            "found at the end: the last line"
        );
        assert_eq!(line("a: b\nc: d\ne f\n\n  \n"), 3, "blank lines after it");
        assert_eq!(line("a: b\rc: d\re f"), 3, "carriage returns break lines");
        assert_eq!(line("a: b\r\nc: d\r\ne: [1\r\n"), 3, "CRLF lines");
    }

    #[test]
    fn a_key_without_a_value_is_on_its_own_line() {
        for text in [
            "a:\n  b:\n  c: 1\n",
            "a:\n  c: 1\n  b:",
            "a:\n  c: 1\n  b:\n\n# end\n",
        ] {
            let docs = parse_documents(text).unwrap();
            let b = docs[0].get("a").unwrap().get("b").unwrap();
            assert!(b.is_null(), "{text:?}");
            let line = text.lines().position(|l| l.trim() == "b:").unwrap() + 1;
            assert_eq!(b.line, line, "{text:?}");
        }
    }

    #[test]
    fn aliases_copy_the_anchored_node() {
        let docs = parse_documents("a: &x foo\nb: *x\n").unwrap();
        assert_eq!(docs[0].get("b").unwrap().as_str(), Some("foo"));
        // Anchors of one document are the next one's too (as yaml-rust2 numbers them).
        let docs = parse_documents("a: &x [1, 2]\nb: *x\n---\nc: *x\n").unwrap();
        assert_eq!(docs.len(), 2);
        assert!(matches!(&docs[0].get("b").unwrap().value, Yaml::Seq(items) if items.len() == 2));
    }

    #[test]
    fn deep_nesting_and_alias_bombs_are_refused_not_followed() {
        // Block lists nested 100,000 deep: refused, not a stack overflow.
        let deep = format!("sel:\n  {}x\n", "- ".repeat(100_000));
        let err = parse_documents(&deep).unwrap_err();
        assert!(err.message.contains("nest more than 64"), "{err:?}");
        let maps: String = (0..200)
            .map(|i| format!("{}k{i}:\n", "  ".repeat(i)))
            .collect();
        assert!(parse_documents(&maps).unwrap_err().message.contains("nest"));
        // Nine aliases of nine aliases, seven times over: 9^7 nodes, refused at the limit.
        let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x]\n");
        for level in 1..=7 {
            let refs = vec![format!("*a{}", level - 1); 9].join(", ");
            bomb.push_str(&format!("a{level}: &a{level} [{refs}]\n"));
        }
        let err = parse_documents(&bomb).unwrap_err();
        assert!(err.message.contains("more than 1000000 nodes"), "{err:?}");
        // What rules nest and alias is taken.
        assert!(parse_documents("a:\n  b:\n    - c: &v [1, 2]\n      d: *v\n").is_ok());
    }
}
