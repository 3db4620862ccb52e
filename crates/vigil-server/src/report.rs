//! Reports from people: the seed asks that suspicious activity noticed by employees or
//! customers reach the response team like any detection. A plain HTML form at
//! `/report/{key}` (no login: the link itself is the credential, configured with
//! `vigil serve --report-key`) and `POST /api/v1/reports` for integrations both raise an alert
//! with the reporter's contact kept. The form is rate-limited per sender (10 reports an hour
//! from one address) and per link (300 an hour from all), each allowance refilling as time
//! passes, so a leaked link cannot flood the queue and one sender cannot lock the others out;
//! only accepted reports count (a submission refused as unreadable, too large or invalid gives
//! its allowance back). The key is compared in constant time and guessing it is limited: an
//! address (an IPv6 /64) that gave 10 wrong keys in an hour is answered 429, right key or
//! wrong, until its allowance refills. The same report sent again from the same address within
//! 10 minutes (a double click) folds into the first: one alert, one page, the same answer.
//!
//! The other no-login page lives here too: the signed acknowledgement link of a page
//! (`/ack/ALR-12?t=…&by=alice&until=…`: signed for the alert, the person paged and an expiry a
//! week after the page), whose GET only shows the button and whose POST acknowledges as that
//! person. It never resolves: pages carry no link signed for that.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use vigil_core::{AlertSource, NewAlert, Severity};
use vigil_store::{AlertPolicy, Raised};

use crate::error::ApiError;
use crate::extract::{ApiPath, read_body};
use crate::state::AppState;

/// The longest description a report may have, in characters (an alert's summary holds it).
const MAX_DESCRIPTION: usize = 20_000;

/// The longest service, name or contact of a report, in characters (as the form's inputs).
const MAX_LINE: usize = 200;

/// The service of a report that names none: a placeholder for triage, never a service in an
/// incident's scope.
pub const UNKNOWN_SERVICE: &str = "unknown";

/// Reports accepted from one sender (address) per window: enough for a person, not a flood.
const REPORTS_PER_SENDER: f64 = 10.0;
/// Reports accepted per link per window, all senders together: a leaked link cannot flood the
/// queue, and one sender cannot use up what the others have.
const REPORTS_PER_LINK: f64 = 300.0;
/// Wrong report keys tried from one address (an IPv6 /64) per window before it is answered
/// 429 whatever key it gives: a person who mistyped the link gets there, a guesser does not.
const WRONG_KEYS_PER_SENDER: f64 = 10.0;
/// The rate-limit window: each allowance refills over it, continuously.
const WINDOW: Duration = Duration::from_secs(3600);
/// Senders remembered at most; past it, those whose allowance is whole again are forgotten.
const MAX_SENDERS: usize = 10_000;
/// Largest form accepted, in bytes: every field at its longest in characters, each character
/// at its longest once URL-encoded (four UTF-8 bytes, `%XX` each: 12 bytes), with room for the
/// field names, the urgency and blanks trimmed off. A report of Chinese or Arabic text within
/// the form's limits always fits; a body beyond it holds a field over its limit.
const MAX_FORM: usize = 12 * (MAX_DESCRIPTION + 4 * MAX_LINE) + 4096;

/// How long a report is remembered by its sender and content, so that the same report sent
/// again (a double click, a browser's resend) folds into the first.
const REPEAT_WINDOW: Duration = Duration::from_secs(600);

/// The report form's rate limits: per sender and per link, each an allowance that refills
/// continuously over [`WINDOW`] (so one busy hour does not lock everyone out for the next);
/// and the reports taken lately, so that one sent twice is raised once.
#[derive(Debug, Default)]
pub struct ReportLimiter {
    buckets: Mutex<Buckets>,
    /// The reports taken in the last [`REPEAT_WINDOW`], by sender and the digest of their
    /// fields: a cell the first submission raises its alert in and the same report sent again
    /// waits on, so that two at once raise one alert (a lock per report, not per form).
    recent: Mutex<std::collections::HashMap<RecentKey, Recent>>,
}

/// A report's sender and the SHA-256 of its fields.
type RecentKey = (Option<std::net::IpAddr>, String);

/// A report taken lately: when, and its alert once raised.
#[derive(Debug, Clone)]
struct Recent {
    at: Instant,
    alert: std::sync::Arc<tokio::sync::OnceCell<vigil_core::Alert>>,
}

#[derive(Debug, Default)]
struct Buckets {
    link: Option<Bucket>,
    senders: std::collections::HashMap<std::net::IpAddr, Bucket>,
    /// Wrong keys per address (IPv6 by its /64, which one host usually holds whole).
    guesses: std::collections::HashMap<std::net::IpAddr, Bucket>,
}

/// The address a guesser is counted by: an IPv4 address, or an IPv6 address's /64.
fn guesser(ip: std::net::IpAddr) -> std::net::IpAddr {
    match ip {
        std::net::IpAddr::V4(_) => ip,
        std::net::IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            std::net::IpAddr::V6(bits.into())
        }
    }
}

/// An allowance of reports: what is left, as of when.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    left: f64,
    at: Instant,
}

impl Bucket {
    fn full(size: f64, now: Instant) -> Bucket {
        Bucket {
            left: size,
            at: now,
        }
    }

    /// The allowance at `now`, refilled since it was last counted.
    fn refilled(self, size: f64, now: Instant) -> Bucket {
        let rate = size / WINDOW.as_secs_f64();
        let left = (self.left + now.duration_since(self.at).as_secs_f64() * rate).min(size);
        Bucket { left, at: now }
    }
}

/// Why a report was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// This sender sent many reports in the last hour.
    Sender,
    /// The link received many reports in the last hour.
    Link,
}

impl ReportLimiter {
    fn buckets(&self) -> std::sync::MutexGuard<'_, Buckets> {
        match self.buckets.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Whether `sender` has tried so many wrong keys lately that it is refused whatever key it
    /// gives (an unknown sender is never: nothing to count it by).
    pub fn guessing(&self, sender: Option<std::net::IpAddr>, now: Instant) -> bool {
        let Some(ip) = sender.map(guesser) else {
            return false;
        };
        self.buckets()
            .guesses
            .get(&ip)
            .is_some_and(|g| g.refilled(WRONG_KEYS_PER_SENDER, now).left < 1.0)
    }

    /// Counts one wrong key from `sender`.
    pub fn wrong_key(&self, sender: Option<std::net::IpAddr>, now: Instant) {
        let Some(ip) = sender.map(guesser) else {
            return;
        };
        let mut b = self.buckets();
        let own = b
            .guesses
            .get(&ip)
            .map_or(Bucket::full(WRONG_KEYS_PER_SENDER, now), |g| {
                g.refilled(WRONG_KEYS_PER_SENDER, now)
            });
        if b.guesses.len() >= MAX_SENDERS {
            b.guesses
                .retain(|_, g| g.refilled(WRONG_KEYS_PER_SENDER, now).left < WRONG_KEYS_PER_SENDER);
        }
        b.guesses.insert(
            ip,
            Bucket {
                left: (own.left - 1.0).max(0.0),
                ..own
            },
        );
    }

    /// Gives back the report [`ReportLimiter::allow`] counted for a submission that was then
    /// refused (unreadable, too large, invalid): only accepted reports use up an allowance.
    pub fn refund(&self, sender: Option<std::net::IpAddr>, now: Instant) {
        let mut b = self.buckets();
        if let Some(link) = b.link {
            let link = link.refilled(REPORTS_PER_LINK, now);
            b.link = Some(Bucket {
                left: (link.left + 1.0).min(REPORTS_PER_LINK),
                ..link
            });
        }
        if let Some(own) = sender.and_then(|ip| b.senders.get_mut(&ip)) {
            let refilled = own.refilled(REPORTS_PER_SENDER, now);
            *own = Bucket {
                left: (refilled.left + 1.0).min(REPORTS_PER_SENDER),
                ..refilled
            };
        }
    }

    /// The cell of the report `digest` from `sender`: the one of the same report taken in
    /// the last [`REPEAT_WINDOW`], or a new, empty one.
    fn recent(
        &self,
        sender: Option<std::net::IpAddr>,
        digest: String,
        now: Instant,
    ) -> std::sync::Arc<tokio::sync::OnceCell<vigil_core::Alert>> {
        let mut recent = match self.recent.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let fresh = |r: &Recent| now.duration_since(r.at) < REPEAT_WINDOW;
        // Forgotten as they age, not only when many: each holds a whole report, and the link's
        // allowance keeps those of the last ten minutes few.
        recent.retain(|_, r| fresh(r));
        recent
            .entry((sender, digest))
            .or_insert_with(|| Recent {
                at: now,
                alert: std::sync::Arc::default(),
            })
            .alert
            .clone()
    }

    /// Counts one report from `sender` (unknown: the link's allowance only) at `now`.
    pub fn allow(&self, sender: Option<std::net::IpAddr>, now: Instant) -> Result<(), Refusal> {
        let mut b = self.buckets();
        let link = b.link.map_or(Bucket::full(REPORTS_PER_LINK, now), |l| {
            l.refilled(REPORTS_PER_LINK, now)
        });
        let own = sender.map(|ip| {
            b.senders
                .get(&ip)
                .map_or(Bucket::full(REPORTS_PER_SENDER, now), |s| {
                    s.refilled(REPORTS_PER_SENDER, now)
                })
        });
        if own.is_some_and(|own| own.left < 1.0) {
            return Err(Refusal::Sender);
        }
        if link.left < 1.0 {
            return Err(Refusal::Link);
        }
        b.link = Some(Bucket {
            left: link.left - 1.0,
            ..link
        });
        if let (Some(ip), Some(own)) = (sender, own) {
            if b.senders.len() >= MAX_SENDERS {
                b.senders
                    .retain(|_, s| s.refilled(REPORTS_PER_SENDER, now).left < REPORTS_PER_SENDER);
            }
            b.senders.insert(
                ip,
                Bucket {
                    left: own.left - 1.0,
                    ..own
                },
            );
        }
        Ok(())
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A page of the reporting form, its browser tab named after its heading.
fn page(body: &str) -> Html<String> {
    html_page(heading(body).unwrap_or("Report suspicious activity"), body)
}

/// A page of an acknowledgement link, its browser tab named after its heading.
fn ack_html(body: &str) -> Html<String> {
    html_page(heading(body).unwrap_or("Acknowledge an alert"), body)
}

/// The text of `body`'s first `<h1>` (HTML already escaped, its tags left out): each page's
/// tab says what it is (`Thank you`, `Too many reports`, `Acknowledge ALR-3?`), so that a
/// person with several open, or their browser's history, tells them apart.
fn heading(body: &str) -> Option<&str> {
    let start = body.find("<h1>")? + "<h1>".len();
    let end = start + body[start..].find("</h1>")?;
    Some(&body[start..end]).filter(|h| !h.contains('<') && !h.trim().is_empty())
}

/// `body` in the pages' shell, under the browser tab's `title` (HTML text, escaped).
fn html_page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <title>{title}</title><style>body{{font-family:sans-serif;max-width:40em;margin:2em auto;padding:0 1em}}\
         label{{display:block;margin-top:1em}}input,textarea,select{{width:100%;padding:.4em}}button{{margin-top:1em;padding:.6em 1.2em}}</style>\
         </head><body>{body}</body></html>"
    ))
}

/// An error as a page for people on a browser (the form and the acknowledgement links are
/// opened by people without an account, not by API clients).
fn error_page(title: &str, error: ApiError) -> Response {
    let (status, message) = match error {
        ApiError::Client(body) | ApiError::Unauthorized(body, _) => (
            StatusCode::from_u16(body.error.code.status()).unwrap_or(StatusCode::BAD_REQUEST),
            body.error.message,
        ),
        ApiError::Internal(detail) => {
            tracing::error!(error = %detail, "internal error on a browser page");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "The server could not take it just now. Try again in a minute, or call or e-mail your security team directly.".to_owned(),
            )
        }
    };
    (
        status,
        page(&format!(
            "<h1>{}</h1><p>{}</p><p>Go back to change it and send it again.</p>",
            escape(title),
            escape(&message)
        )),
    )
        .into_response()
}

/// Whether `key` is the configured report key, compared in constant time: both are hashed
/// to SHA-256 first, so neither the time taken nor the length compared tells anything of the
/// key.
fn key_ok(state: &AppState, key: &str) -> bool {
    use vigil_core::Sha256;
    let Some(expected) = state
        .settings
        .report_key
        .as_deref()
        .filter(|k| !k.is_empty())
    else {
        return false;
    };
    let (a, b) = (Sha256::of(expected.as_bytes()), Sha256::of(key.as_bytes()));
    vigil_core::constant_time_eq(a.as_str().as_bytes(), b.as_str().as_bytes())
}

/// The sender of a request, as the rate limits count it.
type Peer = Option<axum::extract::Extension<axum::extract::ConnectInfo<std::net::SocketAddr>>>;

fn sender_of(peer: Peer) -> Option<std::net::IpAddr> {
    peer.map(|p| p.0.0.ip().to_canonical())
}

/// The key check of both report routes: a sender that tried too many wrong keys is refused
/// (429, whatever key it gives now, so the answer tells a guesser nothing), a wrong key is
/// counted against its sender and answered 404.
fn check_key(state: &AppState, key: &str, sender: Option<std::net::IpAddr>) -> Option<Response> {
    let now = Instant::now();
    if state.report_limiter.guessing(sender, now) {
        return Some(
            (
                StatusCode::TOO_MANY_REQUESTS,
                page("<h1>Too many wrong links</h1><p>Too many reporting links that are not valid were opened from your network in the last hour. Try again later with the link your security team gave you, or call or e-mail them directly.</p>"),
            )
                .into_response(),
        );
    }
    if key_ok(state, key) {
        return None;
    }
    state.report_limiter.wrong_key(sender, now);
    Some((StatusCode::NOT_FOUND, page("<h1>Not found</h1><p>This reporting link is not valid. Ask your security team for the current one.</p>")).into_response())
}

/// Checks a report key before the server starts: at least 8 characters, all of them safe in a
/// URL's path as they are (letters, digits, `-`, `.`, `_`, `~`). A `#`, `?`, `/` or `%` would
/// change the link it is shared in (`/report/abc#def` opens `/report/abc`), and a space or a
/// non-ASCII letter is sent differently by different tools.
pub fn check_report_key(key: &str) -> Result<(), String> {
    if key.chars().count() < 8 {
        return Err(
            "--report-key must have at least 8 characters: it is the only thing guarding the form; make one with `openssl rand -hex 16`".into(),
        );
    }
    if let Some(c) = key.chars().find(|&c| !url_safe(c)) {
        return Err(format!(
            "--report-key holds {c:?}, which does not stay as it is in a link; use only letters, digits, '-', '.', '_' and '~' (make one with `openssl rand -hex 16`)"
        ));
    }
    Ok(())
}

/// An unreserved character of RFC 3986: the same in a URL's path whether encoded or not.
fn url_safe(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~')
}

/// `segment` percent-encoded as one segment of a URL's path (every byte but the unreserved).
fn path_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if url_safe(char::from(b)) && b.is_ascii() {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `GET /report/{key}`: the form. It posts to its own address, written relative to the page
/// (`./KEY`), so that it works behind a proxy that serves Vigil under a path
/// (`--public-url https://intranet.example/vigil`), where `/report/KEY` would leave it.
pub async fn form(
    State(state): State<AppState>,
    ApiPath(key): ApiPath<String>,
    peer: Peer,
) -> Response {
    if let Some(refused) = check_key(&state, &key, sender_of(peer)) {
        return refused;
    }
    page(&format!(
        "<h1>Report suspicious activity</h1>\
         <p>Seen something odd — a phishing mail, a strange login prompt, a colleague's account acting oddly? \
         Tell the security response team here. You do not need an account.</p>\
         <form method=\"post\" action=\"./{k}\">\
         <label>What did you notice? (required)<textarea name=\"description\" rows=\"6\" required maxlength=\"{MAX_DESCRIPTION}\"></textarea></label>\
         <label>Which system or service is it about?<input name=\"service\" maxlength=\"{MAX_LINE}\"></label>\
         <label>How urgent does it look?<select name=\"urgency\"><option value=\"SEV3\">Not sure</option>\
         <option value=\"SEV2\">Urgent: it is happening now</option><option value=\"SEV4\">Low: just odd</option></select></label>\
         <label>Your name<input name=\"name\" maxlength=\"{MAX_LINE}\"></label>\
         <label>How can we reach you? (e-mail or phone)<input name=\"contact\" maxlength=\"{MAX_LINE}\"></label>\
         <button type=\"submit\">Send report</button></form>",
        k = escape(&path_segment(&key))
    ))
    .into_response()
}

/// The fields of a report, from the form or the API.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewReport {
    /// What was noticed (at most 20,000 characters).
    pub description: String,
    /// The service it concerns (default `unknown`).
    #[serde(default)]
    pub service: Option<String>,
    /// SEV2 (happening now), SEV3 (not sure, the default) or SEV4 (just odd); SEV1 is refused,
    /// since only responders set it, on an incident.
    #[serde(default)]
    pub urgency: Option<String>,
    /// The reporter's name.
    #[serde(default)]
    pub name: Option<String>,
    /// How to reach the reporter.
    #[serde(default)]
    pub contact: Option<String>,
}

/// Raises the alert of a report, of `tenant` when the sender is bound to one.
pub async fn raise_report(
    state: &AppState,
    actor: &str,
    origin: &str,
    tenant: Option<String>,
    r: NewReport,
) -> Result<vigil_core::Alert, ApiError> {
    let description = r.description.trim().to_owned();
    if description.is_empty() {
        return Err(ApiError::invalid_field(
            "description",
            "the description is empty; say what you noticed",
        ));
    }
    if description.chars().count() > MAX_DESCRIPTION {
        return Err(ApiError::invalid_field(
            "description",
            format!(
                "the description has more than {MAX_DESCRIPTION} characters; shorten it to what you noticed and when (a responder will ask you for the rest)"
            ),
        ));
    }
    let severity = match r
        .urgency
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty())
    {
        None => Severity::Sev3,
        // SEV1 is a responder's call on an incident, never a report's: refused like any
        // other urgency a report cannot have, rather than stored as something else.
        Some(u) => Severity::parse(u)
            .ok()
            .filter(|s| *s != Severity::Sev1)
            .ok_or_else(|| {
                ApiError::invalid_field(
                    "urgency",
                    format!(
                        "{u:?} is not an urgency a report can have; write SEV2 (happening now), SEV3 (not sure) or SEV4 (just odd) — responders set SEV1 when they declare an incident"
                    ),
                )
            })?,
    };
    // One line each: they are printed as lines of the page sent to the on-call and joined
    // into the incident declared from the alert. The form's error page names the field.
    for (field, value) in [
        ("service", &r.service),
        ("name", &r.name),
        ("contact", &r.contact),
    ] {
        if let Some(value) = value {
            vigil_core::single_line(field, value.trim(), MAX_LINE)
                .map_err(|e| crate::store_error(e.into()))?;
        }
    }
    let reporter = [r.name.as_deref(), r.contact.as_deref()]
        .into_iter()
        .flatten()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(", ");
    // The first line, ended by a line feed, a lone carriage return, NEL or a Unicode line or
    // paragraph separator alike.
    let title: String = description
        .split([
            '\n', '\r', '\u{b}', '\u{c}', '\u{85}', '\u{2028}', '\u{2029}',
        ])
        .next()
        .unwrap_or("")
        .chars()
        .take(120)
        .collect();
    let alert = NewAlert {
        title: format!("Reported: {title}"),
        source: AlertSource::Report,
        severity,
        service: r
            .service
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| UNKNOWN_SERVICE.into()),
        tenant,
        // Every report is its own alert: two people reporting are two signals.
        dedup_key: format!("report|{}", uuid::Uuid::new_v4()),
        rule_id: None,
        summary: Some(description),
        origin: Some(origin.to_owned()),
        reporter: Some(reporter).filter(|r| !r.is_empty()),
        event_ids: Vec::new(),
        events: Vec::new(),
        times: 1,
    };
    match state
        .store
        .raise_alert(actor, alert, AlertPolicy::default())
        .await
        .map_err(crate::store_error)?
    {
        Raised::Created(a) | Raised::Deduplicated(a) => Ok(a),
        Raised::Suppressed => Err(ApiError::internal("a report was suppressed")),
    }
}

/// `POST /report/{key}`: the form's submission.
pub async fn submit(
    State(state): State<AppState>,
    ApiPath(key): ApiPath<String>,
    peer: Peer,
    body: axum::body::Body,
) -> Response {
    let sender = sender_of(peer);
    if let Some(refused) = check_key(&state, &key, sender) {
        return refused;
    }
    // Counted now, so that concurrent submissions cannot overrun the allowance, and given
    // back below when the report is refused: only accepted reports use it up.
    if let Err(refusal) = state.report_limiter.allow(sender, Instant::now()) {
        let why = match refusal {
            Refusal::Sender => "You have sent many reports in the last hour.",
            Refusal::Link => "This link has received many reports in the last hour.",
        };
        return (
            StatusCode::TOO_MANY_REQUESTS,
            page(&format!("<h1>Too many reports</h1><p>{why} Please call or e-mail your security team directly.</p>")),
        )
            .into_response();
    }
    match take_report(&state, body, sender).await {
        Ok(Taken::New(alert)) => thanks(&state, &alert).await,
        // The same report sent again: the first one's page, and no allowance used.
        Ok(Taken::Again(alert)) => {
            state.report_limiter.refund(sender, Instant::now());
            thanks(&state, &alert).await
        }
        Err(refused) => {
            state.report_limiter.refund(sender, Instant::now());
            refused
        }
    }
}

/// A report the form took.
enum Taken {
    /// Raised as a new alert.
    New(vigil_core::Alert),
    /// The same report from the same sender within [`REPEAT_WINDOW`]: folded into its alert.
    Again(vigil_core::Alert),
}

/// The page of a report taken: whether someone on call is paged for it (the organisation
/// document names a team for its service, or a central team, with someone to page) or it
/// only waits in the queue — never a claim that people have it when nobody was paged.
async fn thanks(state: &AppState, alert: &vigil_core::Alert) -> Response {
    let paged = match crate::routes::org::current(state).await {
        Ok((_, org)) => org.paged_team(&alert.alert.service).is_some(),
        Err(_) => false,
    };
    let reference = escape(&alert.key);
    let body = if paged {
        format!(
            "<h1>Thank you</h1><p>Your report was recorded as <b>{reference}</b> and the security response team's on-call responder is being alerted. \
             If you left a contact, they may get in touch.</p>"
        )
    } else {
        format!(
            "<h1>Thank you</h1><p>Your report was recorded as <b>{reference}</b>. The security team will see it when they go through the reports; nobody was alerted right away. \
             If it is happening now, also call or e-mail your security team directly.</p>"
        )
    };
    html_page("Report sent", &body).into_response()
}

/// Reads, checks and raises a submitted form; a refusal is the page that says why. The same
/// report from the same sender within [`REPEAT_WINDOW`] — a double click, a resend after a
/// slow answer — raises nothing more: it gets the first one's alert, and nobody is paged twice.
async fn take_report(
    state: &AppState,
    body: axum::body::Body,
    sender: Option<std::net::IpAddr>,
) -> Result<Taken, Response> {
    let bytes = read_body(body, MAX_FORM).await.map_err(|e| match e {
        // Only a field over its limit in characters makes the body this large: say so in
        // the reporter's terms, not in bytes.
        ApiError::Client(ref b) if b.error.code == vigil_api::error::ErrorCode::PayloadTooLarge => (
            StatusCode::PAYLOAD_TOO_LARGE,
            page(&format!(
                "<h1>Your report is too long</h1><p>The form takes at most {} characters in the description and {MAX_LINE} in each other field.</p>\
                 <p>Go back to shorten it to what you noticed and when (a responder will ask you for the rest), and send it again.</p>",
                thousands(MAX_DESCRIPTION)
            )),
        )
            .into_response(),
        e => error_page("Your report was not sent", e),
    })?;
    let form: NewReport = serde_urlencoded::from_bytes(&bytes).map_err(|e| {
        (
            StatusCode::BAD_REQUEST,
            page(&format!(
                "<h1>Could not read the form</h1><p>{}</p><p>Go back to change it and send it again.</p>",
                escape(&e.to_string())
            )),
        )
            .into_response()
    })?;
    let digest = serde_json::to_vec(&form)
        .map(|fields| vigil_core::Sha256::of(&fields).as_str().to_owned())
        .map_err(|e| error_page("Your report was not sent", ApiError::internal(e)))?;
    let cell = state.report_limiter.recent(sender, digest, Instant::now());
    let mut raised = false;
    let raised_here = &mut raised;
    // Who sent it, by address, among the facts responders see (the page's origin, `vigil
    // alerts show`): a flood or a prank is traced back, a report told apart from another's.
    let origin = match sender {
        Some(ip) => format!("report form from {ip}"),
        None => "report form".to_owned(),
    };
    let alert = cell
        .get_or_try_init(|| async move {
            *raised_here = true;
            let alert =
                raise_report(state, vigil_core::actors::REPORT_FORM, &origin, None, form).await?;
            tracing::info!(alert = %alert.key, sender = ?sender, "report taken through the form");
            Ok::<_, ApiError>(alert)
        })
        .await
        .map_err(|e| error_page("Your report was not sent", e))?
        .clone();
    Ok(if raised {
        Taken::New(alert)
    } else {
        Taken::Again(alert)
    })
}

/// `n` with a comma between thousands (`20,000`), as the pages write numbers.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

/// The query of an acknowledgement link: its token, the person it was sent to, its expiry,
/// and what the button does.
#[derive(Debug, serde::Deserialize)]
pub struct AckLink {
    /// Missing in a link cut short: then it is not valid, like a wrong one.
    #[serde(default)]
    t: String,
    /// The person the link was sent to (signed).
    #[serde(default)]
    by: String,
    /// When the link stops working, in seconds since the Unix epoch (signed); missing in a
    /// link of the first form, which is no longer valid.
    #[serde(default)]
    until: Option<i64>,
    /// `ack` (the default) or `resolve`, which a page's link never grants.
    #[serde(default)]
    action: Option<String>,
}

impl AckLink {
    /// The link's own query (without the action), for the confirmation page's buttons.
    fn query(&self, key: &str, signer: &vigil_core::LinkSigner) -> Option<String> {
        let grant = self.grant("ack", key)?;
        Some(signer.query(&grant))
    }

    fn grant<'a>(&'a self, purpose: &'a str, key: &'a str) -> Option<vigil_core::LinkGrant<'a>> {
        Some(vigil_core::LinkGrant {
            purpose,
            subject: key,
            recipient: &self.by,
            until: self.until?,
        })
    }
}

/// The page of a link that is not valid: wrong, cut short, of an old form, or whose query
/// cannot be read (a parameter twice, an expiry that is no number).
fn invalid_link() -> Response {
    (
        StatusCode::NOT_FOUND,
        ack_html("<h1>Not found</h1><p>This acknowledgement link is not valid (links sent before acknowledgement links named their recipient and expired no longer work); use <code>vigil alerts ack</code>.</p>"),
    )
        .into_response()
}

/// Checks the link for `purpose` on alert `key`: `None` when it may act, else the page to
/// answer with.
fn check_link(state: &AppState, key: &str, purpose: &str, q: &AckLink) -> Option<Response> {
    let (Some(signer), Some(grant)) = (state.settings.link_signer.as_ref(), q.grant(purpose, key))
    else {
        return Some(invalid_link());
    };
    let now = chrono::Utc::now();
    match signer.verify(&grant, &q.t, now) {
        Ok(()) => None,
        Err(vigil_core::LinkError::Expired) => {
            let until = chrono::DateTime::from_timestamp(grant.until, 0)
                .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
                .unwrap_or_default();
            Some((
                StatusCode::GONE,
                ack_html(&format!(
                    "<h1>Link expired</h1><p>This acknowledgement link stopped working on {}; use <code>vigil alerts ack {}</code>.</p>",
                    escape(&until),
                    escape(key)
                )),
            )
                .into_response())
        }
        Err(vigil_core::LinkError::Invalid) => {
            // A genuine acknowledgement link used for another action: pages carry nothing else.
            let acknowledges = purpose != "ack"
                && q.grant("ack", key).is_some_and(|ack| {
                    signer.verify(&ack, &q.t, now) != Err(vigil_core::LinkError::Invalid)
                });
            if !acknowledges {
                return Some(invalid_link());
            }
            Some((
                StatusCode::FORBIDDEN,
                ack_html(&format!(
                    "<h1>Not allowed</h1><p>This link acknowledges {k}; it cannot {purpose} it. A responder does that with <code>vigil alerts {purpose} {k}</code>.</p>",
                    k = escape(key),
                    purpose = escape(purpose)
                )),
            )
                .into_response())
        }
    }
}

/// `GET /ack/{key}?t=…&by=…&until=…`: a confirmation page (a GET never acknowledges, so a
/// mail scanner that follows links cannot stop an escalation). Its button posts to the page's
/// own address, written relative to it (`./ALR-1?t=…`), so that it works behind a proxy that
/// serves Vigil under a path, as the link in the page (`--public-url`) does.
pub async fn ack_page(
    State(state): State<AppState>,
    ApiPath(key): ApiPath<String>,
    query: Result<axum::extract::Query<AckLink>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(axum::extract::Query(q)) = query else {
        return invalid_link();
    };
    // The link is checked before the alert is read: an invalid one learns nothing of it.
    if let Some(refused) = check_link(&state, &key, "ack", &q) {
        return refused;
    }
    let alert = match linked_alert(&state, &key).await {
        Ok(alert) => alert,
        Err(page) => return page,
    };
    let k = escape(&key);
    let about = alert_summary(&alert);
    if let Some(outcome) = outcome(&alert) {
        return ack_html(&format!(
            "<h1>{k} is {status}</h1>{about}<p>{k} {}</p><p>There is nothing to acknowledge.</p>",
            escape(&outcome),
            status = alert.status,
        ))
        .into_response();
    }
    let query = state
        .settings
        .link_signer
        .as_ref()
        .and_then(|s| q.query(&key, s))
        .unwrap_or_default();
    ack_html(&format!(
        "<h1>Acknowledge {k}?</h1>{about}<p>Acknowledging tells the team you, {by}, have it and stops the escalation.</p>\
         <form method=\"post\" action=\"./{k}?{query}\"><button type=\"submit\">Acknowledge {k}</button></form>",
        by = escape(&q.by),
        query = escape(&query)
    ))
    .into_response()
}

/// The alert of a valid link, or the page to answer with.
async fn linked_alert(state: &AppState, key: &str) -> Result<vigil_core::Alert, Response> {
    let not_found = || (StatusCode::NOT_FOUND, ack_html("<h1>Not found</h1>")).into_response();
    let id = key
        .strip_prefix("ALR-")
        .and_then(|n| n.parse::<i64>().ok())
        .ok_or_else(not_found)?;
    match state.store.get_alert(id).await {
        Ok(alert) => Ok(alert),
        Err(vigil_store::StoreError::NotFound(_)) => Err(not_found()),
        Err(e) => Err(error_page("Cannot show the alert", crate::store_error(e))),
    }
}

/// The alert's title, severity, service and status, as HTML (the title comes from logs and
/// tools: escaped).
fn alert_summary(alert: &vigil_core::Alert) -> String {
    format!(
        "<p><strong>{}</strong></p><p>Severity: {} · Service: {} · Status: {}</p>",
        escape(&alert.alert.title),
        alert.alert.severity,
        escape(&alert.alert.service),
        alert.status
    )
}

/// What became of an alert that is no longer triggered, as plain text (`merged into incident
/// INC-1 by ana; follow it there: vigil incident show INC-1`), from its log; `None` while it
/// waits for acknowledgement.
fn outcome(alert: &vigil_core::Alert) -> Option<String> {
    use vigil_core::AlertStatus;
    if alert.status == AlertStatus::Triggered {
        return None;
    }
    let last = |actions: &[&str]| {
        alert
            .log
            .iter()
            .rev()
            .find(|e| actions.contains(&e.action.as_str()))
    };
    let by = |e: Option<&vigil_core::AlertLogEntry>| {
        e.map(|e| format!(" by {} at {}", e.actor, e.at.format("%Y-%m-%dT%H:%M:%SZ")))
            .unwrap_or_default()
    };
    if let Some(incident) = &alert.incident {
        let entry = last(&["declared", "merged"]);
        let how = match entry.map(|e| e.action.as_str()) {
            Some("declared") => "declared as incident",
            Some("merged") => "merged into incident",
            _ => "part of incident",
        };
        return Some(format!(
            "was {how} {incident}{}; follow it there: vigil incident show {incident}",
            by(entry)
        ));
    }
    Some(match alert.status {
        AlertStatus::Dismissed => {
            let entry = last(&["dismissed"]);
            let why = entry.map(|e| format!(" ({})", e.text)).unwrap_or_default();
            format!("was dismissed{}{why}", by(entry))
        }
        status => format!("was {status}{}", by(last(&[status.as_str()]))),
    })
}

/// `POST /ack/{key}?t=…&by=…&until=…`: acknowledges the alert the link was signed for, as
/// the person it was sent to. `action=resolve` needs a link signed for resolving, which pages
/// never carry: it is refused (403) with what to do instead.
pub async fn ack_submit(
    State(state): State<AppState>,
    ApiPath(key): ApiPath<String>,
    query: Result<axum::extract::Query<AckLink>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(axum::extract::Query(q)) = query else {
        return invalid_link();
    };
    let (action, purpose, done) = match q.action.as_deref() {
        None | Some("ack") => (
            vigil_core::AlertAction::Acknowledge,
            "ack",
            "acknowledged</h1><p>The escalation has stopped. It is yours now.</p>",
        ),
        Some("resolve") => (vigil_core::AlertAction::Resolve, "resolve", "resolved</h1>"),
        Some(_) => {
            return (
                StatusCode::BAD_REQUEST,
                ack_html("<h1>Unknown action</h1><p>A link's action is ack.</p>"),
            )
                .into_response();
        }
    };
    if let Some(refused) = check_link(&state, &key, purpose, &q) {
        return refused;
    }
    let Some(id) = key.strip_prefix("ALR-").and_then(|n| n.parse::<i64>().ok()) else {
        return (StatusCode::NOT_FOUND, ack_html("<h1>Not found</h1>")).into_response();
    };
    // The log and the audit trail say who: the person the link was signed for, and how.
    let actor = vigil_core::actors::ack_link(&q.by);
    match state.store.act_on_alert(&actor, id, action).await {
        Ok(a) => ack_html(&format!("<h1>{} {done}", escape(&a.key))).into_response(),
        Err(vigil_store::StoreError::Domain(e)) => {
            // What became of it, so the person knows where the work went on.
            let outcome = match state.store.get_alert(id).await {
                Ok(alert) => outcome(&alert)
                    .map(|o| format!("<p>{} {}</p>", escape(&key), escape(&o)))
                    .unwrap_or_default(),
                Err(_) => String::new(),
            };
            (
                StatusCode::CONFLICT,
                ack_html(&format!(
                    "<h1>Nothing changed</h1><p>{}</p>{outcome}",
                    escape(&e.to_string())
                )),
            )
                .into_response()
        }
        Err(e) => error_page("Nothing changed", crate::store_error(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_sender_has_an_allowance_and_the_link_one_for_all() {
        let limiter = ReportLimiter::default();
        let start = Instant::now();
        let ip = |n: u8| Some(std::net::IpAddr::from([192, 0, 2, n]));
        for _ in 0..10 {
            assert_eq!(limiter.allow(ip(1), start), Ok(()));
        }
        assert_eq!(limiter.allow(ip(1), start), Err(Refusal::Sender));
        // Another sender is not held back by the first.
        assert_eq!(limiter.allow(ip(2), start), Ok(()));
        // The allowance refills as time passes: one report a sixth of an hour later.
        let later = start + WINDOW / 10;
        assert_eq!(limiter.allow(ip(1), later), Ok(()));
        assert_eq!(limiter.allow(ip(1), later), Err(Refusal::Sender));
        // The link's own allowance, all senders together (and those of unknown address).
        let limiter = ReportLimiter::default();
        for n in 0..300u32 {
            let sender = Some(std::net::IpAddr::from(n.to_be_bytes()));
            assert_eq!(limiter.allow(sender, start), Ok(()));
        }
        assert_eq!(limiter.allow(ip(9), start), Err(Refusal::Link));
        assert_eq!(limiter.allow(None, start), Err(Refusal::Link));
    }

    #[test]
    fn a_refused_report_gives_its_allowance_back() {
        let limiter = ReportLimiter::default();
        let now = Instant::now();
        let ip = Some(std::net::IpAddr::from([192, 0, 2, 1]));
        for _ in 0..30 {
            assert_eq!(limiter.allow(ip, now), Ok(()));
            limiter.refund(ip, now);
        }
        for _ in 0..10 {
            assert_eq!(limiter.allow(ip, now), Ok(()));
        }
        assert_eq!(limiter.allow(ip, now), Err(Refusal::Sender));
    }

    /// The form's body limit fits every field at its longest in characters, each character
    /// at its longest once URL-encoded.
    #[test]
    fn the_largest_report_the_form_allows_fits_its_body_limit() {
        let widest = '\u{10348}'; // four bytes in UTF-8
        let field =
            |n: usize| form_urlencoded_len(&std::iter::repeat_n(widest, n).collect::<String>());
        let body = "description=".len()
            + field(MAX_DESCRIPTION)
            + "&service=&urgency=SEV3&name=&contact=".len()
            + 3 * field(MAX_LINE);
        assert!(body <= MAX_FORM, "{body} > {MAX_FORM}");
        assert_eq!(thousands(MAX_DESCRIPTION), "20,000");
        assert_eq!(thousands(200), "200");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    fn form_urlencoded_len(s: &str) -> usize {
        serde_urlencoded::to_string([("", s)]).unwrap().len() - 1
    }

    #[test]
    fn each_page_is_named_after_its_heading() {
        let Html(p) = page("<h1>Too many reports</h1><p>x</p>");
        assert!(p.contains("<title>Too many reports</title>"), "{p}");
        let Html(p) = ack_html("<h1>Acknowledge ALR-3?</h1>");
        assert!(p.contains("<title>Acknowledge ALR-3?</title>"), "{p}");
        let Html(p) = ack_html("<h1>ALR-3 acknowledged</h1><p>The escalation has stopped.</p>");
        assert!(p.contains("<title>ALR-3 acknowledged</title>"), "{p}");
        let Html(p) = page("<p>no heading</p>");
        assert!(
            p.contains("<title>Report suspicious activity</title>"),
            "{p}"
        );
    }

    #[test]
    fn a_report_key_must_stay_as_it_is_in_a_link() {
        assert_eq!(check_report_key("0123456789abcdef-._~XYZ"), Ok(()));
        for key in [
            "abc#def?12345",
            "abc/defghij",
            "abc%20defgh",
            "abc defghij",
            "clé-secrète",
        ] {
            let e = check_report_key(key).unwrap_err();
            assert!(
                e.contains("use only letters, digits, '-', '.', '_' and '~'"),
                "{key}: {e}"
            );
        }
        assert!(
            check_report_key("short")
                .unwrap_err()
                .contains("at least 8")
        );
        // Encoded anyway in the form's action, should a key come in another way.
        assert_eq!(path_segment("abc#def?12 é"), "abc%23def%3F12%20%C3%A9");
    }

    #[test]
    fn wrong_keys_are_counted_per_address_and_ipv6_per_64() {
        let limiter = ReportLimiter::default();
        let now = Instant::now();
        let v4 = Some(std::net::IpAddr::from([192, 0, 2, 1]));
        for _ in 0..10 {
            assert!(!limiter.guessing(v4, now));
            limiter.wrong_key(v4, now);
        }
        assert!(limiter.guessing(v4, now));
        assert!(!limiter.guessing(Some([192, 0, 2, 2].into()), now));
        assert!(!limiter.guessing(None, now));
        // The allowance refills: one more try a tenth of an hour later.
        assert!(!limiter.guessing(v4, now + WINDOW / 10));
        // An IPv6 host holds its /64 whole: hopping within it does not help.
        let v6 = |last: u16| Some(std::net::IpAddr::from([0x2001, 0xdb8, 0, 1, 0, 0, 0, last]));
        for n in 0..10 {
            limiter.wrong_key(v6(n), now);
        }
        assert!(limiter.guessing(v6(999), now));
        let other = Some(std::net::IpAddr::from([0x2001, 0xdb8, 0, 2, 0, 0, 0, 1]));
        assert!(!limiter.guessing(other, now));
    }
}
