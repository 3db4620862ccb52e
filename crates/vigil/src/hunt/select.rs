//! Which rules' matches a hunt reports (`--level`, `--status`, `--tag`, `--exclude-rule`): a
//! responder running the whole SigmaHQ set keeps the mature rules, the techniques of one
//! tactic, or leaves out a rule known to be noisy in their environment. The choice is made on
//! the parsed documents, before compiling: only the reported rules are compiled and run, with
//! the rules their correlations count (so those fire as before) and every filter, which is
//! what makes `--level critical` over a large collection quick.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use vigil_detect::{CompiledRuleSet, RuleMeta};
use vigil_sigma::{Level, Meta, RuleDoc};

/// The statuses the Sigma specification defines.
pub const STATUSES: [&str; 5] = [
    "stable",
    "test",
    "experimental",
    "deprecated",
    "unsupported",
];

/// The hunt's rule selection; the default reports every rule that reports on its own.
#[derive(Debug, Default, Clone)]
pub struct Selection {
    /// Only rules at this level or above.
    pub min_level: Option<Level>,
    /// Only rules of one of these statuses (lowercase; empty: any, or none).
    pub statuses: Vec<String>,
    /// Only rules with a tag one of these names ([`tag_fits`]; empty: any).
    pub tags: Vec<String>,
    /// Never rules of these ids (lowercase).
    pub excluded: Vec<String>,
}

/// What a narrowed selection chose from the parsed documents ([`Selection::choose`]).
#[derive(Debug, Default)]
pub struct Choice {
    /// The rules and correlation rules loaded (filters are not counted).
    pub loaded: usize,
    /// The rules and correlation rules kept to compile: the reported ones and what their
    /// correlations count.
    pub kept: usize,
    /// Where each reported document was written (file, line): a compiled rule carries both.
    reported: HashSet<(PathBuf, usize)>,
}

impl Choice {
    /// Marks `docs` (added to the chosen ones, such as `--search` terms) as reported.
    pub fn report_always(&mut self, docs: &[RuleDoc]) {
        for doc in docs {
            let meta = doc.meta();
            self.reported.insert((meta.file.clone(), meta.line));
        }
    }

    /// Whether each rule of `set` (compiled from the chosen documents) is reported, by rule
    /// index: read once per match on the hot path.
    pub fn resolve(&self, set: &CompiledRuleSet) -> Vec<bool> {
        set.rules()
            .iter()
            .map(|rule| {
                self.reported
                    .contains(&(rule.meta.file.clone(), rule.meta.line))
            })
            .collect()
    }
}

impl Selection {
    /// Whether a match of `rule` is reported.
    pub fn reports(&self, rule: &RuleMeta) -> bool {
        self.reports_meta(&rule.meta, rule.report)
    }

    /// Whether the matches of the rule written as `meta` are reported; `reports_alone`: it is
    /// not a rule only a correlation's count is made of (`generate: false`).
    fn reports_meta(&self, meta: &Meta, reports_alone: bool) -> bool {
        reports_alone
            && self
                .min_level
                .is_none_or(|l| meta.level.unwrap_or(Level::Medium) >= l)
            && (self.statuses.is_empty()
                || meta
                    .status
                    .as_deref()
                    .is_some_and(|s| self.statuses.iter().any(|w| w.eq_ignore_ascii_case(s))))
            && (self.tags.is_empty()
                || meta
                    .tags
                    .iter()
                    .any(|tag| self.tags.iter().any(|p| tag_fits(p, tag))))
            && !meta
                .id
                .as_deref()
                .is_some_and(|id| self.excluded.iter().any(|x| x.eq_ignore_ascii_case(id)))
    }

    /// Whether anything narrows the rules reported.
    pub fn narrows(&self) -> bool {
        self.min_level.is_some()
            || !self.statuses.is_empty()
            || !self.tags.is_empty()
            || !self.excluded.is_empty()
    }

    /// [`Selection::reports`] of every rule of `set`, by rule index: read once per match on
    /// the hot path.
    pub fn resolve(&self, set: &CompiledRuleSet) -> Vec<bool> {
        set.rules().iter().map(|rule| self.reports(rule)).collect()
    }

    /// The documents to compile: the rules and correlation rules whose matches are reported,
    /// the rules (and correlations) those correlations count, down every level, and every
    /// filter (a filter only narrows the rules it names).
    pub fn choose(&self, docs: Vec<RuleDoc>) -> (Vec<RuleDoc>, Choice) {
        // A rule a correlation counts with `generate: false` reports nothing on its own.
        let counted_only: HashSet<&str> = docs
            .iter()
            .filter_map(|d| match d {
                RuleDoc::Correlation(c) if !c.generate => Some(c.rules.iter().map(String::as_str)),
                _ => None,
            })
            .flatten()
            .collect();
        let by_reference: HashMap<&str, usize> = docs
            .iter()
            .enumerate()
            .filter(|(_, d)| !matches!(d, RuleDoc::Filter(_)))
            .flat_map(|(i, d)| {
                let meta = d.meta();
                [meta.id.as_deref(), meta.name.as_deref()]
                    .into_iter()
                    .flatten()
                    .map(move |reference| (reference, i))
            })
            .collect();
        let mut choice = Choice::default();
        let mut keep = vec![false; docs.len()];
        let mut counted = Vec::new();
        for (i, doc) in docs.iter().enumerate() {
            let meta = doc.meta();
            let reports_alone = match doc {
                RuleDoc::Filter(_) => {
                    keep[i] = true;
                    continue;
                }
                RuleDoc::Rule(_) => ![meta.id.as_deref(), meta.name.as_deref()]
                    .into_iter()
                    .flatten()
                    .any(|r| counted_only.contains(r)),
                RuleDoc::Correlation(_) => true,
            };
            choice.loaded += 1;
            if self.reports_meta(meta, reports_alone) {
                choice.reported.insert((meta.file.clone(), meta.line));
                keep[i] = true;
                counted.push(i);
            }
        }
        while let Some(i) = counted.pop() {
            if let RuleDoc::Correlation(c) = &docs[i] {
                for reference in &c.rules {
                    if let Some(&j) = by_reference.get(reference.as_str())
                        && !keep[j]
                    {
                        keep[j] = true;
                        counted.push(j);
                    }
                }
            }
        }
        let kept: Vec<RuleDoc> = docs
            .into_iter()
            .zip(keep)
            .filter_map(|(doc, keep)| keep.then_some(doc))
            .collect();
        choice.kept = kept
            .iter()
            .filter(|d| !matches!(d, RuleDoc::Filter(_)))
            .count();
        (kept, choice)
    }

    /// The excluded ids no loaded rule has (misspelt, or from another rule set).
    pub fn unknown_exclusions<'s>(&'s self, docs: &[RuleDoc]) -> Vec<&'s str> {
        self.excluded
            .iter()
            .filter(|id| {
                !docs.iter().any(|d| {
                    d.meta()
                        .id
                        .as_deref()
                        .is_some_and(|r| r.eq_ignore_ascii_case(id))
                })
            })
            .map(String::as_str)
            .collect()
    }
}

/// Whether the tag pattern `pattern` names `tag`, ignoring case and `_` against `-` (SigmaHQ
/// wrote `attack.credential_access` before it wrote `attack.credential-access`): the tag
/// itself, the tags under it (`attack.t1059` names `attack.t1059.001`), or with a trailing
/// `*` every tag starting so (`attack.t15*`).
pub fn tag_fits(pattern: &str, tag: &str) -> bool {
    let folded = |text: &str| text.to_ascii_lowercase().replace('_', "-");
    let (pattern, tag) = (folded(pattern), folded(tag));
    match pattern.strip_suffix('*') {
        Some(prefix) => tag.starts_with(prefix),
        None => {
            tag == pattern
                || tag
                    .strip_prefix(pattern.as_str())
                    .is_some_and(|rest| rest.starts_with('.'))
        }
    }
}

/// Reads one `--status` value.
pub fn parse_status(s: &str) -> Result<String, String> {
    let status = s.trim().to_ascii_lowercase();
    if STATUSES.contains(&status.as_str()) {
        Ok(status)
    } else {
        Err(format!("unknown status {s:?}; use {}", STATUSES.join(", ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: &str = "\
title: Stable Whoami
id: 11111111-1111-4111-8111-111111111111
status: stable
tags: [attack.discovery, attack.t1033]
logsource: {product: windows, category: process_creation}
detection:
  s: {Image|endswith: '\\whoami.exe'}
  condition: s
level: medium
---
title: Experimental Encoded PowerShell
id: 22222222-2222-4222-8222-222222222222
status: experimental
tags: [attack.execution, attack.t1059.001]
logsource: {product: windows, category: process_creation}
detection:
  s: {CommandLine|contains: ' -enc '}
  condition: s
level: high
---
title: No Status
id: 33333333-3333-4333-8333-333333333333
logsource: {product: windows, category: process_creation}
detection:
  s: {CommandLine|contains: 'x'}
  condition: s
level: low
";

    /// A failed logon (low) that a critical correlation counts, and a high rule that only a
    /// low correlation counts (`generate: false`: it reports nothing on its own).
    const CORRELATED: &str = "\
title: Failed Logon
id: 44444444-4444-4444-8444-444444444444
name: failed_logon
logsource: {product: windows, service: security}
detection:
  s: {EventID: 4625}
  condition: s
level: low
---
title: Many Failed Logons
id: 55555555-5555-4555-8555-555555555555
correlation:
  type: event_count
  rules: [failed_logon]
  group-by: [TargetUserName]
  timespan: 5m
  condition: {gte: 10}
level: critical
---
title: Service Installed
id: 66666666-6666-4666-8666-666666666666
name: service_installed
logsource: {product: windows, service: system}
detection:
  s: {EventID: 7045}
  condition: s
level: high
---
title: Services Installed Often
id: 77777777-7777-4777-8777-777777777777
correlation:
  type: event_count
  rules: [service_installed]
  timespan: 1h
  condition: {gte: 100}
level: low
";

    fn docs(text: &str) -> Vec<RuleDoc> {
        let (docs, problems) = vigil_sigma::parse_str(text, std::path::Path::new("t.yml"));
        assert!(problems.is_empty(), "{problems:?}");
        docs
    }

    /// The titles a hunt with `selection` reports, and the titles it compiles, through the
    /// path a hunt takes (choose, compile the kept documents, resolve).
    fn chosen(text: &str, selection: &Selection) -> (Vec<String>, Vec<String>) {
        let all = docs(text);
        let (docs, choice) = if selection.narrows() {
            let (kept, choice) = selection.choose(all);
            (kept, Some(choice))
        } else {
            (all, None)
        };
        let (set, problems) = vigil_detect::compile(&docs, &Default::default());
        assert!(problems.is_empty(), "{problems:?}");
        let reported = match &choice {
            Some(choice) => choice.resolve(&set),
            None => selection.resolve(&set),
        };
        let titles = |keep: &dyn Fn(usize) -> bool| {
            (set.rules().iter().enumerate())
                .filter(|(i, _)| keep(*i))
                .map(|(_, r)| r.title().to_owned())
                .collect::<Vec<_>>()
        };
        (titles(&|i| reported[i]), titles(&|_| true))
    }

    fn titles(selection: &Selection) -> Vec<String> {
        chosen(RULES, selection).0
    }

    #[test]
    fn a_selection_keeps_the_rules_every_filter_names() {
        assert_eq!(titles(&Selection::default()).len(), 3);
        let stable = Selection {
            statuses: vec!["stable".into(), "test".into()],
            ..Selection::default()
        };
        assert_eq!(
            titles(&stable),
            ["Stable Whoami"],
            "no status is not stable"
        );
        let execution = Selection {
            tags: vec!["attack.t1059".into()],
            ..Selection::default()
        };
        assert_eq!(titles(&execution), ["Experimental Encoded PowerShell"]);
        let both = Selection {
            tags: vec!["ATTACK.T10*".into()],
            min_level: Some(Level::High),
            ..Selection::default()
        };
        assert_eq!(titles(&both), ["Experimental Encoded PowerShell"]);
        let excluded = Selection {
            excluded: vec!["22222222-2222-4222-8222-222222222222".into(), "typo".into()],
            ..Selection::default()
        };
        assert_eq!(titles(&excluded), ["Stable Whoami", "No Status"]);
        assert_eq!(excluded.unknown_exclusions(&docs(RULES)), ["typo"]);
        assert!(!Selection::default().narrows() && excluded.narrows());
    }

    #[test]
    fn only_the_reported_rules_are_compiled_with_what_their_correlations_count() {
        let high = Selection {
            min_level: Some(Level::High),
            ..Selection::default()
        };
        let (reported, compiled) = chosen(RULES, &high);
        assert_eq!(reported, compiled, "nothing else is run");
        let (reported, compiled) = chosen(CORRELATED, &high);
        assert_eq!(
            reported,
            ["Many Failed Logons"],
            "a rule only a correlation counts reports nothing, whatever its level"
        );
        assert_eq!(
            compiled,
            ["Failed Logon", "Many Failed Logons"],
            "the counted rule runs, so the correlation fires as before"
        );
        let (_, choice) = high.choose(docs(CORRELATED));
        assert_eq!((choice.loaded, choice.kept), (4, 2));
        let (everything, _) = chosen(CORRELATED, &Selection::default());
        assert_eq!(
            everything,
            ["Many Failed Logons", "Services Installed Often"]
        );
    }

    #[test]
    fn tags_name_themselves_and_the_tags_under_them() {
        assert!(tag_fits("attack.t1059", "attack.t1059"));
        assert!(tag_fits("attack.t1059", "Attack.T1059.001"));
        assert!(!tag_fits("attack.t1059", "attack.t10590"));
        assert!(tag_fits("attack.t105*", "attack.t10590"));
        assert!(!tag_fits("attack.execution", "attack.t1059"));
        assert!(tag_fits(
            "attack.credential_access",
            "attack.credential-access"
        ));
        assert!(tag_fits(
            "attack.credential-access",
            "attack.credential_access"
        ));
    }

    #[test]
    fn statuses_are_those_of_the_specification() {
        assert_eq!(parse_status(" Stable ").unwrap(), "stable");
        assert!(
            parse_status("production")
                .unwrap_err()
                .contains("stable, test")
        );
    }
}
