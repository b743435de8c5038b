//! Calendar dates of Unix times, without a date crate.

/// (year, month 1–12, day) in UTC of a Unix time in milliseconds (Howard Hinnant's
/// `civil_from_days`: no date crate needed).
pub fn civil(ms: i64) -> (i64, i64, i64) {
    let z = ms.div_euclid(86_400_000) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    #[test]
    fn days_of_unix_times() {
        assert_eq!(super::civil(0), (1970, 1, 1));
        assert_eq!(super::civil(1_710_374_400_000), (2024, 3, 14));
        assert_eq!(super::civil(-1), (1969, 12, 31));
    }
}
