//! Which rules' matches a hunt reports (`--level`, `--status`, `--tag`, `--exclude-rule`): a
//! responder running the whole SigmaHQ set keeps the mature rules, the techniques of one
//! tactic, or leaves out a rule known to be noisy in their environment. Rules left out still
//! run, so a correlation that counts them fires as before.

use vigil_detect::{CompiledRuleSet, RuleMeta};
use vigil_sigma::Level;

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

impl Selection {
    /// Whether a match of `rule` is reported.
    pub fn reports(&self, rule: &RuleMeta) -> bool {
        rule.report
            && self.min_level.is_none_or(|l| rule.level() >= l)
            && (self.statuses.is_empty()
                || rule
                    .meta
                    .status
                    .as_deref()
                    .is_some_and(|s| self.statuses.iter().any(|w| w.eq_ignore_ascii_case(s))))
            && (self.tags.is_empty()
                || rule
                    .meta
                    .tags
                    .iter()
                    .any(|tag| self.tags.iter().any(|p| tag_fits(p, tag))))
            && !self
                .excluded
                .iter()
                .any(|id| id.eq_ignore_ascii_case(rule.id()))
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

    /// The excluded ids no rule of `set` has (misspelt, or from another rule set).
    pub fn unknown_exclusions<'s>(&'s self, set: &CompiledRuleSet) -> Vec<&'s str> {
        self.excluded
            .iter()
            .filter(|id| !set.rules().iter().any(|r| r.id().eq_ignore_ascii_case(id)))
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

    fn set() -> CompiledRuleSet {
        let text = "\
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
        let (docs, problems) = vigil_sigma::parse_str(text, std::path::Path::new("t.yml"));
        assert!(problems.is_empty(), "{problems:?}");
        let (set, problems) = vigil_detect::compile(&docs, &Default::default());
        assert!(problems.is_empty(), "{problems:?}");
        set
    }

    fn titles(selection: &Selection) -> Vec<String> {
        let set = set();
        set.rules()
            .iter()
            .zip(selection.resolve(&set))
            .filter(|(_, reported)| *reported)
            .map(|(r, _)| r.title().to_owned())
            .collect()
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
        assert_eq!(excluded.unknown_exclusions(&set()), ["typo"]);
        assert!(!Selection::default().narrows() && excluded.narrows());
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
