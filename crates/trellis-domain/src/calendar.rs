//! Working-day arithmetic for service-level timers (first contact due, offer reminders).

use chrono::{DateTime, Datelike, Duration, Utc, Weekday};

/// `from` moved forward by `days` working days (Monday to Friday; bank holidays are not modelled).
pub fn add_working_days(from: DateTime<Utc>, days: u32) -> DateTime<Utc> {
    let mut at = from;
    let mut left = days;
    while left > 0 {
        at += Duration::days(1);
        if !matches!(at.weekday(), Weekday::Sat | Weekday::Sun) {
            left -= 1;
        }
    }
    at
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn working_days_skip_the_weekend() {
        let friday = Utc.with_ymd_and_hms(2026, 11, 27, 10, 0, 0).unwrap();
        assert_eq!(add_working_days(friday, 1), Utc.with_ymd_and_hms(2026, 11, 30, 10, 0, 0).unwrap());
        assert_eq!(add_working_days(friday, 5), Utc.with_ymd_and_hms(2026, 12, 4, 10, 0, 0).unwrap());
        assert_eq!(add_working_days(friday, 0), friday);
    }
}
