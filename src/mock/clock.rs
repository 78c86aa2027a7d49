//! Times as WeChat Pay writes them: RFC 3339 in China Standard Time (`+08:00`), for the sandbox.
//!
//! A few lines of calendar arithmetic (H. Hinnant's days-from-civil algorithms) rather than a date crate:
//! the sandbox needs only Unix seconds ↔ RFC 3339, and the date crates' current releases need a newer Rust
//! than this crate's `rust-version`.

const BEIJING_OFFSET: i64 = 8 * 3600;

/// The Beijing calendar day of a Unix time, as days since the epoch.
pub(crate) fn beijing_day(secs: i64) -> i64 {
    (secs + BEIJING_OFFSET).div_euclid(86_400)
}

/// `secs` (Unix seconds) as `YYYY-MM-DDTHH:MM:SS+08:00`.
pub(crate) fn rfc3339(secs: i64) -> String {
    crate::protocol::formatter::rfc3339(secs, BEIJING_OFFSET)
}

/// Unix seconds of an RFC 3339 date-time (`YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`).
pub(crate) fn parse_rfc3339(s: &str) -> Option<i64> {
    let digits = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(range)?;
        part.bytes().all(|b| b.is_ascii_digit()).then(|| part.parse().ok())?
    };
    let b = s.as_bytes();
    let shape =
        b.len() >= 20 && b[4] == b'-' && b[7] == b'-' && matches!(b[10], b'T' | b't') && b[13] == b':' && b[16] == b':';
    if !shape {
        return None;
    }
    let (year, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    let (hour, minute, second) = (digits(11..13)?, digits(14..16)?, digits(17..19)?);
    let mut rest = &s[19..];
    if let Some(fraction) = rest.strip_prefix('.') {
        let len = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if len == 0 {
            return None;
        }
        rest = &fraction[len..];
    }
    let offset = match rest.as_bytes() {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let (h, m) = (rest[1..3].parse::<i64>().ok()?, rest[4..6].parse::<i64>().ok()?);
            if !rest[1..3].bytes().chain(rest[4..6].bytes()).all(|b| b.is_ascii_digit()) || h > 23 || m > 59 {
                return None;
            }
            (h * 3600 + m * 60) * if *sign == b'-' { -1 } else { 1 }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let valid = (1..=12).contains(&month)
        && crate::protocol::formatter::civil_from_days(days) == (year, month, day)
        && hour < 24
        && minute < 60
        && second < 61;
    valid.then(|| days * 86_400 + hour * 3600 + minute * 60 + second - offset)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year - era * 400;
    let doy = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_in_beijing_time() {
        assert_eq!(rfc3339(0), "1970-01-01T08:00:00+08:00");
        assert_eq!(rfc3339(1_432_099_775), "2015-05-20T13:29:35+08:00");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T08:00:00+08:00");
        assert_eq!(rfc3339(-1), "1970-01-01T07:59:59+08:00");
        assert_eq!(parse_rfc3339("2015-05-20T13:29:35+08:00"), Some(1_432_099_775));
        assert_eq!(parse_rfc3339("2015-05-20T05:29:35Z"), Some(1_432_099_775));
        assert_eq!(parse_rfc3339("2015-05-20T05:29:35.123Z"), Some(1_432_099_775));
        assert_eq!(parse_rfc3339("2015-05-19T23:29:35-06:00"), Some(1_432_099_775));
        for bad in [
            "2015-05-20",
            "2015-05-20 13:29:35+08:00",
            "2023-02-29T00:00:00+08:00",
            "2015-13-01T00:00:00Z",
            "2015-05-20T24:00:00Z",
            "2015-05-20T13:29:35",
            "2015-05-20T13:29:35+8:00",
            "+015-05-20T13:29:35Z",
            "2015-05-20T13:29:35+08:00x",
            "2015-05-20T13:29:35.Z",
            "2015-05-20T13:29:35+0é:00",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
        for secs in [-86_401, 0, 951_868_799, 1_700_000_000, 4_102_444_799] {
            assert_eq!(parse_rfc3339(&rfc3339(secs)), Some(secs));
        }
    }
}
