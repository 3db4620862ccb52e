//! The typed Sigma model: rules as written, before any compilation.

use std::path::PathBuf;

use crate::condition::Condition;
use crate::modifier::Modifier;

/// One document of a rule file, after `action: global/repeat/reset` merging.
#[derive(Debug, Clone, PartialEq)]
pub enum RuleDoc {
    /// A detection rule.
    Rule(Rule),
    /// A correlation rule (Sigma 2).
    Correlation(CorrelationRule),
    /// A meta filter applied to other rules.
    Filter(FilterRule),
}

impl RuleDoc {
    /// The rule's metadata, whatever its kind.
    pub fn meta(&self) -> &Meta {
        match self {
            RuleDoc::Rule(r) => &r.meta,
            RuleDoc::Correlation(r) => &r.meta,
            RuleDoc::Filter(r) => &r.meta,
        }
    }
}

/// Severity of a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// `informational`.
    Informational,
    /// `low`.
    Low,
    /// `medium`.
    Medium,
    /// `high`.
    High,
    /// `critical`.
    Critical,
}

impl Level {
    /// Parses a level name as the specification writes it.
    pub fn parse(s: &str) -> Option<Level> {
        Some(match s {
            "informational" => Level::Informational,
            "low" => Level::Low,
            "medium" => Level::Medium,
            "high" => Level::High,
            "critical" => Level::Critical,
            _ => return None,
        })
    }

    /// The level's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Informational => "informational",
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
            Level::Critical => "critical",
        }
    }
}

/// Metadata shared by rules, correlation rules and filters.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Meta {
    /// The file the document came from.
    pub file: PathBuf,
    /// The 1-based line where the document starts.
    pub line: usize,
    /// `id` (a UUID by convention).
    pub id: Option<String>,
    /// `name`, used to refer to the rule from correlation rules.
    pub name: Option<String>,
    /// `title`.
    pub title: String,
    /// `status`.
    pub status: Option<String>,
    /// `description`.
    pub description: Option<String>,
    /// `level`.
    pub level: Option<Level>,
    /// `tags`.
    pub tags: Vec<String>,
    /// `references`.
    pub references: Vec<String>,
    /// `author`.
    pub author: Option<String>,
    /// `date`.
    pub date: Option<String>,
    /// `modified`.
    pub modified: Option<String>,
    /// `falsepositives`.
    pub falsepositives: Vec<String>,
    /// `fields`.
    pub fields: Vec<String>,
    /// `related`: (id, type).
    pub related: Vec<(String, String)>,
}

/// `logsource`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Hash)]
pub struct Logsource {
    /// `product` (windows, linux …).
    pub product: Option<String>,
    /// `category` (process_creation …).
    pub category: Option<String>,
    /// `service` (security, sysmon …).
    pub service: Option<String>,
    /// `definition` (free text).
    pub definition: Option<String>,
}

/// A scalar value of a detection item.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A string, with Sigma wildcards and escapes still as written.
    Str(String),
    /// An integer, exact (every 64-bit integer, signed or not, fits).
    Int(i128),
    /// A floating-point number, with its text as written.
    Float(f64, String),
    /// A boolean.
    Bool(bool),
    /// `null`: the field is absent or empty.
    Null,
}

/// One `field|modifiers: values` entry of a selection map.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldItem {
    /// The field name; `None` for keyword items written as `'|all': [...]`.
    pub field: Option<String>,
    /// The modifiers, in order.
    pub modifiers: Vec<Modifier>,
    /// The values (a single value is a one-element list).
    pub values: Vec<Value>,
    /// The 1-based line of the key.
    pub line: usize,
}

/// The body of a search identifier.
#[derive(Debug, Clone, PartialEq)]
pub enum Search {
    /// A list of maps, linked with OR; each map's items are linked with AND.
    Maps(Vec<Vec<FieldItem>>),
    /// A list of keywords (field-less values), linked with OR.
    Keywords(Vec<Value>),
}

/// `detection`.
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    /// The search identifiers in the order written.
    pub searches: Vec<(String, Search)>,
    /// The condition(s); several conditions are linked with OR.
    pub conditions: Vec<Condition>,
    /// `timeframe` of Sigma 1 rules, kept as written (unused by Sigma 2 detection).
    pub timeframe: Option<String>,
}

/// A detection rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Metadata.
    pub meta: Meta,
    /// `logsource`.
    pub logsource: Logsource,
    /// `detection`.
    pub detection: Detection,
}

/// The kind of a correlation rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CorrelationType {
    /// Count of matching events.
    EventCount,
    /// Count of distinct values of a field.
    ValueCount,
    /// Sum of a numeric field.
    ValueSum,
    /// Average of a numeric field.
    ValueAvg,
    /// The share, in percent, of the events that carry a value of a field (the specification's
    /// reading); with `percentile`, a percentile of a numeric field.
    ValuePercentile,
    /// All referenced rules matched within the timespan.
    Temporal,
    /// All referenced rules matched within the timespan, in the order listed.
    TemporalOrdered,
}

impl CorrelationType {
    /// Every type, in the specification's order.
    pub const ALL: [CorrelationType; 7] = [
        CorrelationType::EventCount,
        CorrelationType::ValueCount,
        CorrelationType::ValueSum,
        CorrelationType::ValueAvg,
        CorrelationType::ValuePercentile,
        CorrelationType::Temporal,
        CorrelationType::TemporalOrdered,
    ];

    /// The type as a rule writes it (`event_count`).
    pub fn as_str(self) -> &'static str {
        match self {
            CorrelationType::EventCount => "event_count",
            CorrelationType::ValueCount => "value_count",
            CorrelationType::ValueSum => "value_sum",
            CorrelationType::ValueAvg => "value_avg",
            CorrelationType::ValuePercentile => "value_percentile",
            CorrelationType::Temporal => "temporal",
            CorrelationType::TemporalOrdered => "temporal_ordered",
        }
    }
}

/// A comparison operator of a correlation condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CmpOp {
    /// `gt`.
    Gt,
    /// `gte`.
    Gte,
    /// `lt`.
    Lt,
    /// `lte`.
    Lte,
    /// `eq`.
    Eq,
    /// `neq`.
    Neq,
}

impl CmpOp {
    /// Applies the comparison.
    pub fn test(self, value: f64, bound: f64) -> bool {
        match self {
            CmpOp::Gt => value > bound,
            CmpOp::Gte => value >= bound,
            CmpOp::Lt => value < bound,
            CmpOp::Lte => value <= bound,
            CmpOp::Eq => value == bound,
            CmpOp::Neq => value != bound,
        }
    }
}

/// `correlation.condition`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CorrelationCondition {
    /// Comparisons, all of which must hold.
    pub comparisons: Vec<(CmpOp, f64)>,
    /// `field`, for value_* types: one name, or for value_count several, whose values are
    /// counted together ("linked by an AND": each distinct combination is one value, and an
    /// event counts only with all of them).
    pub fields: Vec<String>,
    /// `percentile`, for value_percentile: with it (an extension of Vigil's), the condition
    /// tests that percentile of a numeric field; without, the share of each value.
    pub percentile: Option<f64>,
}

impl CmpOp {
    /// The operator as a symbol (`>=`).
    pub fn symbol(self) -> &'static str {
        match self {
            CmpOp::Gt => ">",
            CmpOp::Gte => ">=",
            CmpOp::Lt => "<",
            CmpOp::Lte => "<=",
            CmpOp::Eq => "=",
            CmpOp::Neq => "!=",
        }
    }
}

/// For people: `>= 5`, `bytes > 1000000`, `percentile 95 of latency <= 2`.
impl std::fmt::Display for CorrelationCondition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let fields = self.fields.join(" and ");
        match (fields.is_empty(), self.percentile) {
            (false, Some(p)) => write!(f, "percentile {p} of {fields} ")?,
            (false, None) => write!(f, "{fields} ")?,
            (true, _) => {}
        }
        for (i, (op, bound)) in self.comparisons.iter().enumerate() {
            if i > 0 {
                f.write_str(" and ")?;
            }
            write!(f, "{} {bound}", op.symbol())?;
        }
        Ok(())
    }
}

/// A correlation rule.
#[derive(Debug, Clone, PartialEq)]
pub struct CorrelationRule {
    /// Metadata.
    pub meta: Meta,
    /// `correlation.type`.
    pub kind: CorrelationType,
    /// `correlation.rules`: ids or names of rules (or other correlations).
    pub rules: Vec<String>,
    /// The line of each entry of `rules`, to point a problem with one at it.
    pub rule_lines: Vec<usize>,
    /// `correlation.group-by`.
    pub group_by: Vec<String>,
    /// `correlation.timespan` in milliseconds.
    pub timespan_ms: u64,
    /// `correlation.condition`.
    pub condition: CorrelationCondition,
    /// `correlation.aliases`: alias → [(rule name, field)].
    pub aliases: Vec<(String, Vec<(String, String)>)>,
    /// `correlation.generate`: whether the referenced rules also report their own matches.
    pub generate: bool,
    /// For a Sigma 1 rule's aggregation run as this correlation, the aggregation as written
    /// (`count(TargetUserName) by IpAddress > 10`); `None` for a correlation rule.
    pub sigma1_aggregation: Option<String>,
}

/// A Sigma meta filter.
#[derive(Debug, Clone, PartialEq)]
pub struct FilterRule {
    /// Metadata.
    pub meta: Meta,
    /// `logsource`.
    pub logsource: Logsource,
    /// `filter.rules`: ids or names of the rules it applies to (empty = every rule with a
    /// matching logsource).
    pub rules: Vec<String>,
    /// The filter's searches and condition; a rule's match is dropped unless this holds.
    pub detection: Detection,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn correlation_conditions_read_as_comparisons() {
        let cond = |comparisons: Vec<(CmpOp, f64)>, fields: &[&str], percentile| {
            CorrelationCondition {
                comparisons,
                fields: fields.iter().map(|f| f.to_string()).collect(),
                percentile,
            }
            .to_string()
        };
        assert_eq!(cond(vec![(CmpOp::Gte, 5.0)], &[], None), ">= 5");
        assert_eq!(
            cond(vec![(CmpOp::Gt, 2.0), (CmpOp::Lt, 10.5)], &["bytes"], None),
            "bytes > 2 and < 10.5"
        );
        assert_eq!(
            cond(vec![(CmpOp::Lte, 2.0)], &["latency"], Some(95.0)),
            "percentile 95 of latency <= 2"
        );
        assert_eq!(
            cond(vec![(CmpOp::Gte, 3.0)], &["User", "Domain"], None),
            "User and Domain >= 3"
        );
        assert_eq!(cond(Vec::new(), &[], None), "");
    }
}
