//! The monthly security incident review that senior management holds (the seed's "monthly
//! security incident review meetings"): computed on request from the incidents and alerts
//! (`vigil_core::review`), never stored, so it always reflects the records as they stand.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Datelike, TimeZone, Utc};
use vigil_api::error::ErrorBody;
use vigil_api::review::{MonthlyReview, ReviewPeriod, ReviewQuery};
use vigil_core::review::monthly_review;
use vigil_events::time::LocalZone;

use crate::auth::Principal;
use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::state::AppState;
use crate::store_error;

/// The monthly review: incidents opened, confirmed, closed and open at the month's end; time
/// to detect, acknowledge, contain and recover (median, 90th percentile, longest); data
/// breaches assessed; SEV1/SEV2 incidents still open; post-mortems written (with their
/// contributing factors by kind) and due; alerts raised and what became of them, with the rules
/// that raised the most; findings raised, closed, open and overdue per owning team; and the
/// month before's headline figures. Each fact counts in the month it happened in.
#[utoipa::path(
    get, path = "/review/monthly", operation_id = "get_monthly_review", tag = "review",
    params(ReviewQuery),
    responses((status = 200, body = MonthlyReview), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody))
)]
pub async fn monthly(
    State(state): State<AppState>,
    _who: Principal,
    ApiQuery(q): ApiQuery<ReviewQuery>,
) -> Result<Json<MonthlyReview>, ApiError> {
    let zone = match q.timezone.as_deref() {
        Some(name) => LocalZone::parse(name)
            .map_err(|e| ApiError::invalid_field("timezone", e.to_string()))?,
        None => LocalZone::UTC,
    };
    let tenant = q.tenant.as_deref().map(str::trim).filter(|t| !t.is_empty());
    let now = Utc::now();
    let (year, month) = match q.month.as_deref() {
        Some(m) => parse_month(m)?,
        None => month_before(now, &zone),
    };
    let period = month_period(year, month, &zone);
    if period.from > now {
        return Err(ApiError::invalid_field(
            "month",
            format!(
                "{} has not begun yet: review this month or an earlier one",
                period.label
            ),
        ));
    }
    let (py, pm) = previous_month(year, month);
    let previous = month_period(py, pm, &zone);
    let facts = state
        .store
        .review_facts(previous.from, period.to, tenant)
        .await
        .map_err(store_error)?;
    Ok(Json(monthly_review(
        period,
        &previous,
        &zone.to_string(),
        tenant,
        &facts,
        now,
    )))
}

/// `YYYY-MM`, within the years the store keeps times for.
fn parse_month(text: &str) -> Result<(i32, u32), ApiError> {
    let refuse = || {
        ApiError::invalid_field(
            "month",
            format!(
                "{text:?} is not a month: write it as YYYY-MM, e.g. 2026-11 (2000-01 to 2099-12)"
            ),
        )
    };
    let (y, m) = text.trim().split_once('-').ok_or_else(refuse)?;
    if y.len() != 4 || m.len() != 2 {
        return Err(refuse());
    }
    let year: i32 = y.parse().map_err(|_| refuse())?;
    let month: u32 = m.parse().map_err(|_| refuse())?;
    if !(2000..=2099).contains(&year) || !(1..=12).contains(&month) {
        return Err(refuse());
    }
    Ok((year, month))
}

/// The month before the one `now` falls in, in `zone`.
fn month_before(now: DateTime<Utc>, zone: &LocalZone) -> (i32, u32) {
    let local =
        now + chrono::Duration::seconds(i64::from(zone.offset_secs_at(now.timestamp_millis())));
    previous_month(local.year(), local.month())
}

fn previous_month(year: i32, month: u32) -> (i32, u32) {
    match month {
        1 => (year - 1, 12),
        m => (year, m - 1),
    }
}

/// The first instant of a month in `zone`, as UTC.
fn month_start(year: i32, month: u32, zone: &LocalZone) -> DateTime<Utc> {
    let wall = Utc
        .with_ymd_and_hms(year, month, 1, 0, 0, 0)
        .single()
        .expect("the first of a month at midnight is a valid UTC time");
    wall - chrono::Duration::seconds(i64::from(zone.offset_secs(year, month, 1, 0, 0, 0)))
}

fn month_period(year: i32, month: u32, zone: &LocalZone) -> ReviewPeriod {
    let (ny, nm) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    ReviewPeriod {
        label: format!("{year:04}-{month:02}"),
        from: month_start(year, month, zone),
        to: month_start(ny, nm, zone),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_month_begins_and_ends_at_midnight_in_its_zone() {
        let berlin = LocalZone::parse("Europe/Berlin").unwrap();
        // October 2026 starts in summer time (+02:00) and ends in winter time (+01:00).
        let p = month_period(2026, 10, &berlin);
        assert_eq!(p.label, "2026-10");
        assert_eq!(p.from.to_rfc3339(), "2026-09-30T22:00:00+00:00");
        assert_eq!(p.to.to_rfc3339(), "2026-10-31T23:00:00+00:00");
        let december = month_period(2026, 12, &LocalZone::UTC);
        assert_eq!(december.to.to_rfc3339(), "2027-01-01T00:00:00+00:00");
    }

    #[test]
    fn the_default_month_is_the_one_before_now_in_the_zone() {
        let now = Utc.with_ymd_and_hms(2026, 12, 31, 23, 30, 0).unwrap();
        assert_eq!(month_before(now, &LocalZone::UTC), (2026, 11));
        // Already January in Berlin.
        let berlin = LocalZone::parse("Europe/Berlin").unwrap();
        assert_eq!(month_before(now, &berlin), (2026, 12));
        let january = Utc.with_ymd_and_hms(2027, 1, 5, 0, 0, 0).unwrap();
        assert_eq!(month_before(january, &LocalZone::UTC), (2026, 12));
    }

    #[test]
    fn months_that_are_not_one_are_refused_naming_the_field() {
        for bad in [
            "2026-13", "2026-1", "26-11", "1999-12", "2100-01", "2026/11", "", "november",
        ] {
            let e = parse_month(bad).unwrap_err();
            assert!(format!("{e:?}").contains("month"), "{bad}: {e:?}");
        }
        assert_eq!(parse_month(" 2026-11 ").unwrap(), (2026, 11));
    }
}
