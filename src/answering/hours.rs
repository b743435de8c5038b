//! Working hours of a bot: when a person is there to take a handoff. Stored per bot as JSON —
//! seven entries, Monday first, each `[open, close]` in minutes of the day (close up to 1440)
//! or `null` for a closed day — in an IANA time zone, so daylight saving time is the zone's.
//! A closing time before the opening time runs past midnight: Friday's `[1320, 360]` (22:00 to
//! 06:00) is open from Friday 22:00 to Saturday 06:00. Empty: always open.
use super::language::Lang;
use chrono::{Datelike, TimeZone, Timelike};
use chrono_tz::Tz;

/// One day's opening, in minutes of the local day: `open < close <= 1440`, or `close < open`
/// for hours that run past midnight into the next day (see [`valid_span`]).
pub type Span = (u16, u16);

/// Whether `(open, close)` is a day's opening: the same day (`open < close <= 1440`), or past
/// midnight (`close < open < 1440`). Equal times are neither.
pub fn valid_span((open, close): Span) -> bool {
    (open < close && close <= 1440) || (close < open && open < 1440)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hours {
    /// Monday first.
    pub days: [Option<Span>; 7],
    pub tz: Tz,
}

/// When the team is back, in the business's local time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Back {
    /// 0 today, 1 tomorrow, …
    pub in_days: u32,
    /// 0 = Monday.
    pub weekday: usize,
    pub minute: u16,
}

impl Hours {
    /// The stored form: `None` when always open. An unreadable value counts as always open (a
    /// customer is never turned away by a bad setting; the settings page refuses bad input).
    pub fn from_settings(json: &str, timezone: &str) -> Option<Hours> {
        if json.trim().is_empty() {
            return None;
        }
        let days: Vec<Option<Span>> = serde_json::from_str(json).ok()?;
        let days: [Option<Span>; 7] = days.try_into().ok()?;
        let tz: Tz = timezone.parse().ok()?;
        days.iter().flatten().all(|&span| valid_span(span)).then_some(Hours { days, tz })
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.days).expect("plain numbers")
    }

    /// Whether someone is there at `at_ms` (Unix milliseconds).
    pub fn is_open(&self, at_ms: i64) -> bool {
        let local = self.tz.timestamp_millis_opt(at_ms).single().unwrap_or_else(|| self.tz.timestamp_millis_opt(0).unwrap());
        let day = local.weekday().num_days_from_monday() as usize;
        let minute = (local.hour() * 60 + local.minute()) as u16;
        let today = self.days[day].is_some_and(|(o, c)| if o < c { o <= minute && minute < c } else { o <= minute });
        // Yesterday's hours that run past midnight.
        let yesterday = self.days[(day + 6) % 7].is_some_and(|(o, c)| c < o && minute < c);
        today || yesterday
    }

    /// The next opening after `at_ms` (None if never open).
    pub fn next_open(&self, at_ms: i64) -> Option<Back> {
        let local = self.tz.timestamp_millis_opt(at_ms).single()?;
        let today = local.weekday().num_days_from_monday() as usize;
        let minute = (local.hour() * 60 + local.minute()) as u16;
        (0..8u32).find_map(|d| {
            let weekday = (today + d as usize) % 7;
            let (open, _) = self.days[weekday]?;
            (d > 0 || minute < open).then_some(Back { in_days: d, weekday, minute: open })
        })
    }

    /// "on Monday at 09:00 (Europe/Berlin time)", in the customer's language.
    pub fn describe(&self, back: Back, lang: Lang) -> String {
        let w = lang.words();
        let time = format!("{:02}:{:02}", back.minute / 60, back.minute % 60);
        let day = match back.in_days {
            0 => w.today.to_owned(),
            1 => w.tomorrow.to_owned(),
            _ => w.on_weekday.replace("{d}", w.weekdays[back.weekday]),
        };
        w.back_at.replace("{day}", &day).replace("{time}", &time).replace("{tz}", self.tz.name())
    }
}

/// Parses "HH:MM" (24-hour; "24:00" allowed as a closing time) into minutes of the day.
pub fn parse_time(s: &str) -> Option<u16> {
    let (h, m) = s.trim().split_once(':')?;
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    (m < 60 && (h < 24 || (h == 24 && m == 0)) && h <= 24).then_some(h * 60 + m)
}

pub fn format_time(minute: u16) -> String {
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

/// Whether `name` is a time zone we know (IANA, e.g. "Europe/Berlin").
pub fn valid_zone(name: &str) -> bool {
    name.parse::<Tz>().is_ok()
}

/// Every IANA time zone's name, sorted.
pub fn zone_names() -> &'static [&'static str] {
    static NAMES: std::sync::LazyLock<Vec<&'static str>> = std::sync::LazyLock::new(|| {
        let mut v: Vec<&'static str> = chrono_tz::TZ_VARIANTS.iter().map(|z| z.name()).collect();
        v.sort_unstable();
        v
    });
    &NAMES
}

#[cfg(test)]
mod tests {
    use super::*;

    fn berlin_weekdays() -> Hours {
        let nine_to_six = Some((9 * 60, 18 * 60));
        Hours { days: [nine_to_six, nine_to_six, nine_to_six, nine_to_six, nine_to_six, None, None], tz: "Europe/Berlin".parse().unwrap() }
    }

    fn ms(s: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis()
    }

    #[test]
    fn open_and_closed_follow_the_zone_and_its_daylight_saving_time() {
        let h = berlin_weekdays();
        // Winter: Berlin is UTC+1. Tuesday 2026-12-01.
        assert!(h.is_open(ms("2026-12-01T08:00:00Z")), "09:00 in Berlin");
        assert!(!h.is_open(ms("2026-12-01T07:59:00Z")), "08:59 in Berlin");
        assert!(!h.is_open(ms("2026-12-01T17:00:00Z")), "18:00 in Berlin: closed");
        // Summer: UTC+2. Tuesday 2026-07-07, 07:30 UTC is 09:30 in Berlin.
        assert!(h.is_open(ms("2026-07-07T07:30:00Z")));
        assert!(!h.is_open(ms("2026-07-07T16:30:00Z")), "18:30 in Berlin");
        // Saturday.
        assert!(!h.is_open(ms("2026-12-05T12:00:00Z")));
    }

    #[test]
    fn the_next_opening_is_today_tomorrow_or_a_named_day() {
        let h = berlin_weekdays();
        // Tuesday 06:00 Berlin: today at 09:00.
        assert_eq!(h.next_open(ms("2026-12-01T05:00:00Z")), Some(Back { in_days: 0, weekday: 1, minute: 540 }));
        // Tuesday 20:00 Berlin: tomorrow.
        assert_eq!(h.next_open(ms("2026-12-01T19:00:00Z")), Some(Back { in_days: 1, weekday: 2, minute: 540 }));
        // Friday 19:00 Berlin: Monday.
        let back = h.next_open(ms("2026-12-04T18:00:00Z")).unwrap();
        assert_eq!(back, Back { in_days: 3, weekday: 0, minute: 540 });
        assert_eq!(h.describe(back, Lang::En), "on Monday at 09:00 (Europe/Berlin time)");
        assert_eq!(h.describe(back, Lang::De), "am Montag um 09:00 Uhr (Zeitzone Europe/Berlin)");
        assert_eq!(h.describe(back, Lang::Fr), "lundi à 09:00 (heure de Europe/Berlin)");
        assert_eq!(h.describe(back, Lang::It), "lunedì alle 09:00 (ora di Europe/Berlin)");
        assert_eq!(h.describe(back, Lang::Pt), "na segunda-feira às 09:00 (hora de Europe/Berlin)");
        let tomorrow = Back { in_days: 1, weekday: 2, minute: 540 };
        assert_eq!(h.describe(tomorrow, Lang::De), "morgen um 09:00 Uhr (Zeitzone Europe/Berlin)");
        assert_eq!(h.describe(tomorrow, Lang::Pt), "amanhã às 09:00 (hora de Europe/Berlin)");
        let never = Hours { days: [None; 7], tz: Tz::UTC };
        assert_eq!(never.next_open(0), None);
    }

    #[test]
    fn stored_hours_are_read_back_and_bad_ones_mean_always_open() {
        let h = berlin_weekdays();
        assert_eq!(Hours::from_settings(&h.to_json(), "Europe/Berlin"), Some(h));
        assert_eq!(Hours::from_settings("", "UTC"), None);
        assert_eq!(Hours::from_settings("[[600,600],null,null,null,null,null,null]", "UTC"), None, "opening and closing at once");
        assert_eq!(Hours::from_settings("[[1440,60],null,null,null,null,null,null]", "UTC"), None, "opening at 24:00");
        assert!(Hours::from_settings("[[1320,360],null,null,null,null,null,null]", "UTC").is_some(), "past midnight");
        assert_eq!(Hours::from_settings("[null,null]", "UTC"), None);
        assert_eq!(Hours::from_settings("[null,null,null,null,null,null,null]", "Mars/Olympus"), None);
    }

    #[test]
    fn hours_past_midnight_are_open_until_the_next_morning() {
        // A night shift on Friday and Saturday, 22:00 to 06:00, in Berlin (UTC+1 in December).
        let night = Some((22 * 60, 6 * 60));
        let h = Hours { days: [None, None, None, None, night, night, None], tz: "Europe/Berlin".parse().unwrap() };
        assert!(!h.is_open(ms("2026-12-04T20:59:00Z")), "Friday 21:59");
        assert!(h.is_open(ms("2026-12-04T21:00:00Z")), "Friday 22:00");
        assert!(h.is_open(ms("2026-12-05T00:30:00Z")), "Saturday 01:30: Friday's night");
        assert!(!h.is_open(ms("2026-12-05T05:00:00Z")), "Saturday 06:00: closed");
        assert!(!h.is_open(ms("2026-12-05T12:00:00Z")), "Saturday noon");
        assert!(h.is_open(ms("2026-12-06T03:00:00Z")), "Sunday 04:00: Saturday's night");
        assert!(!h.is_open(ms("2026-12-07T01:00:00Z")), "Monday 02:00: Sunday has no night");
        // Saturday noon: back today at 22:00; Sunday 07:00 Berlin: on Friday.
        assert_eq!(h.next_open(ms("2026-12-05T11:00:00Z")), Some(Back { in_days: 0, weekday: 5, minute: 1320 }));
        assert_eq!(h.next_open(ms("2026-12-06T06:00:00Z")), Some(Back { in_days: 5, weekday: 4, minute: 1320 }));
        // Until midnight exactly ("22:00 to 00:00"): Friday's evening only.
        let evening = Hours { days: [None, None, None, None, Some((22 * 60, 0)), None, None], tz: Tz::UTC };
        assert!(evening.is_open(ms("2026-12-04T23:59:00Z")) && !evening.is_open(ms("2026-12-05T00:00:00Z")));
    }

    #[test]
    fn times_are_read_as_a_24_hour_clock() {
        assert_eq!(parse_time("09:30"), Some(570));
        assert_eq!(parse_time("24:00"), Some(1440));
        assert_eq!(parse_time("24:01"), None);
        assert_eq!(parse_time("9"), None);
        assert_eq!(parse_time("12:60"), None);
        assert!(valid_zone("America/New_York") && !valid_zone("Nowhere/Else"));
    }
}
