//! What ingest needs from the organisation document — each service's criticality, alerting
//! settings and declared logsources — read from the store at most once a second rather than
//! on every batch.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rayon::prelude::*;
use vigil_detect::{
    CompiledRuleSet, Event, FieldMapping, Logsource, MappedEvent, Matcher, RuleId, UndeclaredPart,
};
use vigil_events::json::JsonEvent;
use vigil_events::{implied_logsources, web_server_logsources};
use vigil_oncall::OrgDocument;
use vigil_store::Store;

use crate::error::IngestError;

/// Batches at least this large are matched on all cores.
const PARALLEL_MATCH_MIN: usize = 256;

/// How long a read of the organisation document is used before the store is asked again. An
/// apply through this server takes effect at once ([`OrgCache::forget`]); one through another
/// server sharing the store, within this long.
const REFRESH: Duration = Duration::from_secs(1);

/// The organisation document in force, as ingest uses it.
#[derive(Debug, Default)]
pub struct OrgView {
    /// The document, when one is configured.
    pub document: Option<OrgDocument>,
    /// Per service name, what it declares of its logs (services that declare nothing are
    /// absent): one lookup per event tells both.
    declared: HashMap<String, Declared>,
    /// The ids of the rules the document turns off (`alerting[].enabled: false`).
    turned_off: HashSet<String>,
}

/// What a service declares of its logs.
#[derive(Debug, Default)]
struct Declared {
    /// The logsources its logs are (empty: unknown).
    logsources: Arc<[Logsource]>,
    /// Where its events hold the fields rules name.
    fields: Option<FieldMapping>,
}

/// A service that declares its logsources, and how many rules are written for them.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceCoverage {
    /// Its position in the document's `services`.
    pub index: usize,
    /// The service.
    pub service: String,
    /// Its declared logsources.
    pub logsources: Arc<[Logsource]>,
    /// Detection rules of the set written for one of them ([`CompiledRuleSet::rules_for`]).
    pub rules: usize,
    /// The parts rules written for one of them name beyond it, which keep those rules away
    /// until declared too ([`CompiledRuleSet::undeclared_parts`]).
    pub undeclared: Vec<UndeclaredPart>,
}

impl ServiceCoverage {
    /// Its logsources as `vigil hunt --logsource` takes them (`product=linux,service=auth`).
    pub fn labels(&self) -> Vec<String> {
        self.logsources.iter().map(logsource_label).collect()
    }

    /// The label of the declared logsource an undeclared part was found beside.
    pub fn label_of(&self, part: &UndeclaredPart) -> String {
        self.logsources
            .get(part.declared)
            .map(logsource_label)
            .unwrap_or_default()
    }
}

impl OrgView {
    /// The view of `document` (none configured: `None`).
    pub fn new(document: Option<OrgDocument>) -> Self {
        let declared = document
            .iter()
            .flat_map(|d| &d.services)
            .filter(|s| !s.logsources.is_empty() || !s.fields.is_empty())
            .map(|s| {
                let logsources = s
                    .logsources
                    .iter()
                    .map(|l| Logsource {
                        product: l.product.clone(),
                        category: l.category.clone(),
                        service: l.service.clone(),
                        definition: None,
                    })
                    .collect();
                let fields = (!s.fields.is_empty()).then(|| {
                    s.fields
                        .iter()
                        .map(|(rule_field, path)| (rule_field.clone(), path.clone()))
                        .collect()
                });
                (s.name.clone(), Declared { logsources, fields })
            })
            .collect();
        let turned_off = document
            .iter()
            .flat_map(|d| &d.alerting)
            .filter(|a| !a.enabled)
            .map(|a| a.rule_id.clone())
            .collect();
        OrgView {
            document,
            declared,
            turned_off,
        }
    }

    /// Whether the document turns the rule of this id off: its matches are not recorded.
    pub fn turns_off(&self, rule_id: &str) -> bool {
        self.turned_off.contains(rule_id)
    }

    /// The rules of `set` the document turns off, in the set's order.
    pub fn turned_off<'s>(&self, set: &'s CompiledRuleSet) -> Vec<&'s vigil_detect::RuleMeta> {
        if self.turned_off.is_empty() {
            return Vec::new();
        }
        set.rules()
            .iter()
            .filter(|r| self.turns_off(r.id()))
            .collect()
    }

    /// Every service that declares logsources, in document order, with the rules of `set`
    /// written for them.
    pub fn coverage(&self, set: &CompiledRuleSet) -> Vec<ServiceCoverage> {
        let Some(document) = &self.document else {
            return Vec::new();
        };
        document
            .services
            .iter()
            .enumerate()
            .filter_map(|(index, s)| {
                let logsources = &self.declared.get(&s.name)?.logsources;
                if logsources.is_empty() {
                    return None;
                }
                Some(ServiceCoverage {
                    index,
                    service: s.name.clone(),
                    logsources: Arc::clone(logsources),
                    rules: set.rules_for(logsources),
                    undeclared: set.undeclared_parts(logsources),
                })
            })
            .collect()
    }

    /// A warning, with its field, for each service whose declared logsources (or one of them)
    /// no rule of `set` is written for (its events would meet only the rules that name no
    /// logsource, which a misspelt `category` makes easy to miss; [`declaration_warnings`]),
    /// and for each rule turned off by an id no rule of `set` has. None when `set` holds no
    /// rule at all.
    pub fn coverage_warnings(&self, set: &CompiledRuleSet) -> Vec<String> {
        if set.rules().is_empty() {
            return Vec::new();
        }
        let uncovered = self.coverage(set).into_iter().flat_map(|c| {
            declaration_warnings(
                set,
                &c.logsources,
                &format!("services[{}].logsources", c.index),
                &format!("events of {:?}", c.service),
            )
        });
        // A rule turned off by an id no loaded rule has (misspelt) turns nothing off.
        let alerting = self
            .document
            .iter()
            .flat_map(|d| d.alerting.iter().enumerate());
        let unknown_off = alerting
            .filter(|(_, a)| !a.enabled && !set.rules().iter().any(|r| r.id() == a.rule_id))
            .map(|(i, a)| {
                format!(
                    "alerting[{i}].rule_id: no loaded rule has the id {:?}, so `enabled: false` turns nothing off; copy the id from the rule's `id:` line",
                    a.rule_id
                )
            });
        uncovered.chain(unknown_off).collect()
    }

    /// What `service` declares of its logs: the logsources they are (empty when it declares
    /// none: unknown), and where its events hold the fields rules name (when it says).
    pub fn declared(&self, service: &str) -> (&[Logsource], Option<&FieldMapping>) {
        match self.declared.get(service) {
            Some(d) => (&d.logsources, d.fields.as_ref()),
            None => (&[], None),
        }
    }

    /// The rules each of `items` matches, read as its service declares its logs
    /// ([`OrgView::matches`]); `event_of` tells an item's service and event. Large batches are
    /// matched on all cores.
    pub fn match_all<T: Sync>(
        &self,
        set: &CompiledRuleSet,
        items: &[T],
        event_of: impl Fn(&T) -> (&str, &JsonEvent) + Sync,
    ) -> Vec<Vec<RuleId>> {
        if set.rules().is_empty() {
            return vec![Vec::new(); items.len()];
        }
        let match_one = |matcher: &mut Matcher<'_>, item: &T| {
            let (service, event) = event_of(item);
            self.matches(matcher, service, event).to_vec()
        };
        // Matchers warm from earlier batches: a new one per batch allocates its tables and
        // grows its buffers again.
        if items.len() < PARALLEL_MATCH_MIN {
            let mut matcher = set.pooled_matcher();
            return items.iter().map(|i| match_one(&mut matcher, i)).collect();
        }
        // One chunk (and one warm matcher) per thread, not one cold matcher per split.
        let chunk = items.len().div_ceil(rayon::current_num_threads().max(1));
        items
            .par_chunks(chunk)
            .flat_map_iter(|part| {
                let mut matcher = set.pooled_matcher();
                part.iter()
                    .map(|i| match_one(&mut matcher, i))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// The rules an event of `service` matches, read as the service declares its logs: only
    /// the rules of its logsources, with rule fields found where its mapping says. A line of a
    /// plain-text log of a service that declares nothing says what it is
    /// ([`implied_logsources`]: syslog the Linux log of the program that wrote it, an access
    /// log webserver), as `vigil hunt` reads such files; a web server's own line says so
    /// whatever the service declares ([`web_server_logsources`]).
    pub fn matches<'m>(
        &self,
        matcher: &'m mut Matcher<'_>,
        service: &str,
        event: &dyn Event,
    ) -> &'m [RuleId] {
        let mut declared = self.declared(service).0;
        let own = if declared.is_empty() {
            implied_logsources(event)
        } else {
            web_server_logsources(event)
        };
        if let Some(sources) = own {
            declared = sources;
        }
        match self.mapped(service, event) {
            Some(mapped) => matcher.matches_from(&mapped, declared),
            None => matcher.matches_from(event, declared),
        }
    }

    /// `event` of `service` with the rules' field names resolved where the service's mapping
    /// says; `None` when it declares no mapping (the event is read as it is).
    pub fn mapped<'e>(&'e self, service: &str, event: &'e dyn Event) -> Option<MappedEvent<'e>> {
        let fields = self.declared(service).1?;
        Some(MappedEvent::new(event, fields))
    }
}

/// What is amiss with logs declared as `logsources` (a service's, or `vigil hunt`'s
/// `--logsource`s) for the rules of `set`, each warning starting with `field`, the
/// declaration's name; `whose` names the events declared so. A logsource no loaded rule is
/// written for (a misspelt `category: webservers` keeps every web server rule away, and nothing
/// else would say so) is named with the closest values the rules use; so are the parts rules
/// written for a declared logsource name beyond it (SigmaHQ's Kubernetes audit rules that also
/// name `category=application` meet no log declared `product=kubernetes,service=audit`). None
/// when `set` holds no rule.
pub fn declaration_warnings(
    set: &CompiledRuleSet,
    logsources: &[Logsource],
    field: &str,
    whose: &str,
) -> Vec<String> {
    if set.rules().is_empty() || logsources.is_empty() {
        return Vec::new();
    }
    let check = "check the names against the rules' logsource (`vigil rules check` counts rules per logsource)";
    let mut warnings = Vec::new();
    if set.rules_for(logsources) == 0 {
        let declared: Vec<String> = logsources.iter().map(logsource_label).collect();
        warnings.push(format!(
            "{field}: no loaded rule is written for {} logs, so {whose} meet none{}; {check}",
            declared.join(" or "),
            closest_values(set, logsources)
        ));
    } else {
        // Some open rules: each that opens none is still likely misspelt.
        warnings.extend(
            logsources
                .iter()
                .filter(|l| set.rules_for(std::slice::from_ref(*l)) == 0)
                .map(|l| {
                    format!(
                        "{field}: no loaded rule is written for {} logs{}; {check}",
                        logsource_label(l),
                        closest_values(set, std::slice::from_ref(l))
                    )
                }),
        );
    }
    warnings.extend(undeclared_warnings(
        field,
        logsources,
        &set.undeclared_parts(logsources),
    ));
    warnings
}

/// The most parts named beyond one declared logsource that are warned of one by one; the rest
/// are counted in one more warning (`product=windows` alone lacks dozens of categories).
const MAX_UNDECLARED_WARNED: usize = 3;

/// A warning per part that rules written for a declared logsource name beyond it (the rules
/// run only when it is declared too), the most rules first.
fn undeclared_warnings(
    field: &str,
    logsources: &[Logsource],
    parts: &[UndeclaredPart],
) -> Vec<String> {
    let mut warnings = Vec::new();
    for (declared, logsource) in logsources.iter().enumerate() {
        let label = logsource_label(logsource);
        let beside: Vec<&UndeclaredPart> =
            parts.iter().filter(|p| p.declared == declared).collect();
        for part in beside.iter().take(MAX_UNDECLARED_WARNED) {
            let named = format!("{}={}", part.key, part.value);
            warnings.push(format!(
                "{field}: {} for {label} also {} {named}; declare {named} too to run them",
                plural(part.rules, "rule", "rules"),
                if part.rules == 1 { "names" } else { "name" },
            ));
        }
        let rest = &beside[beside.len().min(MAX_UNDECLARED_WARNED)..];
        if !rest.is_empty() {
            let rules: usize = rest.iter().map(|p| p.rules).sum();
            warnings.push(format!(
                "{field}: {} more for {label} also name one of {} other parts it lacks; `vigil rules check` counts rules per logsource",
                plural(rules, "rule", "rules"),
                rest.len()
            ));
        }
    }
    warnings
}

/// `count` and the noun it counts.
fn plural(count: usize, one: &str, many: &str) -> String {
    format!("{count} {}", if count == 1 { one } else { many })
}

/// The values the rules of `set` use that the parts of `logsources` no rule names were likely
/// meant to be (`service=cloudtrial`: `service=cloudtrail`), as a clause of a warning; empty when
/// none is close.
fn closest_values(set: &CompiledRuleSet, logsources: &[Logsource]) -> String {
    let named = |ls: &Logsource, key: &str| -> Option<String> {
        match key {
            "product" => ls.product.clone(),
            "category" => ls.category.clone(),
            _ => ls.service.clone(),
        }
    };
    let mut suggestions: Vec<String> = Vec::new();
    for declared in logsources {
        for key in ["product", "category", "service"] {
            let Some(value) = named(declared, key) else {
                continue;
            };
            let value = value.to_ascii_lowercase();
            let known: HashSet<String> = set
                .rules()
                .iter()
                .filter_map(|r| named(&r.logsource, key))
                .map(|v| v.to_ascii_lowercase())
                .collect();
            if known.contains(&value) {
                continue;
            }
            // One typo in a short name, two (a swapped pair) in a longer one.
            let allowed = if value.len() <= 4 { 1 } else { 2 };
            let mut close: Vec<(usize, &String)> = known
                .iter()
                .map(|k| (strsim::osa_distance(k, &value), k))
                .filter(|(d, _)| *d <= allowed)
                .collect();
            close.sort();
            for (_, k) in close.into_iter().take(3) {
                let suggestion = format!("{key}={k}");
                if !suggestions.contains(&suggestion) {
                    suggestions.push(suggestion);
                }
            }
        }
    }
    if suggestions.is_empty() {
        String::new()
    } else {
        format!(" (did you mean {}?)", suggestions.join(" or "))
    }
}

/// A logsource as `vigil hunt --logsource` takes it: `product=linux,service=auth`.
pub fn logsource_label(ls: &Logsource) -> String {
    [
        ("product", &ls.product),
        ("category", &ls.category),
        ("service", &ls.service),
    ]
    .iter()
    .filter_map(|(k, v)| Some(format!("{k}={}", v.as_deref()?)))
    .collect::<Vec<_>>()
    .join(",")
}

/// The last [`OrgView`] read, with its version and when it was read.
#[derive(Debug, Default)]
pub struct OrgCache(Mutex<Cached>);

#[derive(Debug, Default)]
struct Cached {
    view: Arc<OrgView>,
    version: Option<i64>,
    read_at: Option<Instant>,
}

impl OrgCache {
    /// The view in force: the one held when it was read less than a second ago, else read
    /// again (and rebuilt only when the stored version changed). When the store cannot be
    /// read, the view held is used and the failure logged: ingest does not stop for it.
    pub async fn current(&self, store: &dyn Store) -> Arc<OrgView> {
        let (view, version) = {
            let held = self.0.lock().unwrap_or_else(|e| e.into_inner());
            if held.read_at.is_some_and(|t| t.elapsed() < REFRESH) {
                return Arc::clone(&held.view);
            }
            (Arc::clone(&held.view), held.version)
        };
        let fresh = match store.current_org().await {
            Ok(stored) => stored,
            Err(e) => {
                tracing::warn!(error = %IngestError::from(e), "could not read the organisation document; using the one read before");
                return view;
            }
        };
        let fresh_version = fresh.as_ref().map(|v| v.version);
        let view = if fresh_version == version {
            view
        } else {
            let document = fresh.and_then(|v| serde_json::from_value(v.document).ok());
            Arc::new(OrgView::new(document))
        };
        let mut held = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *held = Cached {
            view: Arc::clone(&view),
            version: fresh_version,
            read_at: Some(Instant::now()),
        };
        view
    }

    /// Makes the next [`OrgCache::current`] read the store: call after applying a document.
    pub fn forget(&self) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).read_at = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_without_logsources_are_unknown() {
        let document: OrgDocument = serde_json::from_value(serde_json::json!({
            "teams": [{"name": "web"}],
            "services": [
                {"name": "nginx", "team": "web", "logsources": [{"category": "webserver"}]},
                {"name": "api", "team": "web"}
            ]
        }))
        .unwrap();
        let view = OrgView::new(Some(document));
        assert_eq!(
            view.declared("nginx").0[0].category.as_deref(),
            Some("webserver")
        );
        assert!(view.declared("api").0.is_empty());
        assert!(view.declared("other").0.is_empty());
    }

    /// A declaration no rule is written for is warned of with the values the rules use; one of
    /// several, on its own.
    #[test]
    fn a_logsource_no_rule_is_written_for_is_warned_of_with_the_closest_values() {
        let rules = "title: Trail\nid: 11111111-1111-4111-8111-111111111111\nlogsource: {product: aws, service: cloudtrail}\ndetection:\n  sel: {eventName: StopLogging}\n  condition: sel\n";
        let (docs, _) = vigil_sigma::parse_str(rules, std::path::Path::new("r.yml"));
        let (set, _) = vigil_detect::compile(&docs, &vigil_detect::CompileOptions::default());
        let logsource = |product: &str, service: Option<&str>| Logsource {
            product: Some(product.to_owned()),
            service: service.map(str::to_owned),
            ..Logsource::default()
        };
        let warn =
            |declared: &[Logsource]| declaration_warnings(&set, declared, "f", "events of x");
        assert!(warn(&[logsource("aws", Some("cloudtrail"))]).is_empty());
        assert_eq!(
            warn(&[logsource("aws", Some("cloudtrial"))]),
            [
                "f: no loaded rule is written for product=aws,service=cloudtrial logs, so events of x meet none (did you mean service=cloudtrail?); check the names against the rules' logsource (`vigil rules check` counts rules per logsource)"
            ]
        );
        // Nothing close: no guess.
        let far = warn(&[logsource("gcp", None)]);
        assert!(
            far[0].contains("product=gcp logs, so events of x meet none;"),
            "{far:?}"
        );
        let one_of_two = warn(&[
            logsource("aws", Some("cloudtrail")),
            logsource("awss", None),
        ]);
        assert_eq!(one_of_two.len(), 1);
        assert!(
            one_of_two[0].starts_with(
                "f: no loaded rule is written for product=awss logs (did you mean product=aws?); check"
            ),
            "{one_of_two:?}"
        );
    }

    /// Rules written for a service's logs that name one part more than it declares are counted
    /// in its coverage and warned of, by the part.
    #[test]
    fn rules_naming_a_part_a_service_lacks_are_warned_of() {
        let rule = |n: u32, logsource: &str| {
            format!(
                "title: R{n}\nid: 1111111{n}-1111-4111-8111-111111111111\nlogsource: {{{logsource}}}\ndetection:\n  sel: {{verb: delete}}\n  condition: sel\n"
            )
        };
        let rules = [
            rule(1, "product: kubernetes, service: audit"),
            rule(
                2,
                "product: kubernetes, service: audit, category: application",
            ),
            rule(
                3,
                "product: kubernetes, service: audit, category: application",
            ),
        ]
        .join("---\n");
        let (docs, _) = vigil_sigma::parse_str(&rules, std::path::Path::new("r.yml"));
        let (set, _) = vigil_detect::compile(&docs, &vigil_detect::CompileOptions::default());
        let document: OrgDocument = serde_json::from_value(serde_json::json!({
            "teams": [{"name": "k8s"}],
            "services": [{"name": "kube", "team": "k8s",
                          "logsources": [{"product": "kubernetes", "service": "audit"}]}]
        }))
        .unwrap();
        let view = OrgView::new(Some(document));
        let coverage = view.coverage(&set);
        assert_eq!(coverage[0].rules, 1);
        let part = &coverage[0].undeclared[0];
        assert_eq!(
            (part.key, part.value.as_str(), part.rules),
            ("category", "application", 2)
        );
        assert_eq!(
            coverage[0].label_of(part),
            "product=kubernetes,service=audit"
        );
        assert_eq!(
            view.coverage_warnings(&set),
            [
                "services[0].logsources: 2 rules for product=kubernetes,service=audit also name category=application; declare category=application too to run them"
            ]
        );
    }

    /// A service declared `product: linux` for its syslog that also sends nginx's requests
    /// through it: the requests still meet the webserver rules, its other lines the declared
    /// ones only.
    #[test]
    fn a_web_server_line_is_a_web_request_whatever_the_service_declares() {
        let document: OrgDocument = serde_json::from_value(serde_json::json!({
            "teams": [{"name": "web"}],
            // Its mapping is for JSON logs: a web line holds the field as the web rules name it.
            "services": [{"name": "web01", "team": "web", "logsources": [{"product": "linux"}],
                          "fields": {"cs-uri-query": "url.query"}}]
        }))
        .unwrap();
        let view = OrgView::new(Some(document));
        let rules = "title: Traversal\nid: 11111111-1111-4111-8111-111111111111\nlogsource:\n  category: webserver\ndetection:\n  sel:\n    cs-uri-query|contains: '../'\n  condition: sel\n---\ntitle: Any Linux\nid: 22222222-2222-4222-8222-222222222222\nlogsource:\n  product: linux\ndetection:\n  k:\n    - 'passwd'\n  condition: k\n";
        let (docs, _) = vigil_sigma::parse_str(rules, std::path::Path::new("r.yml"));
        let (set, _) = vigil_detect::compile(&docs, &vigil_detect::CompileOptions::default());
        let mut matcher = set.matcher();
        let mut titles = |line: &str| {
            let options = vigil_events::SyslogOptions::new(1_796_000_000_000);
            let message = vigil_events::syslog::parse(line.as_bytes(), &options).unwrap();
            let event = JsonEvent::parse(&message.to_json_text()).unwrap();
            view.matches(&mut matcher, "web01", &event)
                .iter()
                .map(|&r| set.rule(r).title().to_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            titles(
                r#"<190>Dec  5 10:00:04 web01 nginx: 203.0.113.9 - - [05/Dec/2026:10:00:04 +0000] "GET /p.php?f=../../../etc/passwd HTTP/1.1" 200 5 "-" "curl/8.5.0""#
            ),
            ["Traversal"]
        );
        assert_eq!(
            titles("<38>Dec  5 10:00:05 web01 sshd[812]: passwd changed for root"),
            ["Any Linux"]
        );
    }
}
