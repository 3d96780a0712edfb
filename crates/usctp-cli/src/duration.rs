//! Durations on the command line: `--rto-min 100ms`, `--hb-interval 2s`;
//! a plain number keeps the unit the option always had (milliseconds for
//! protocol timers, seconds for `--idle-exit`).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// A duration whose plain numbers are milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Millis(pub Duration);

/// A duration whose plain numbers are seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seconds(pub Duration);

/// `text` as a duration: a plain number of `unit`s, or a number with its
/// unit (`250ms`, `2s`, `1m 30s`, as humantime reads them).
fn parse(text: &str, unit: Duration, unit_name: &str) -> Result<Duration, String> {
    let text = text.trim();
    if let Ok(n) = text.parse::<u32>() {
        return Ok(unit * n);
    }
    humantime::parse_duration(text)
        .map_err(|e| format!("{e}: give a number of {unit_name}, or a unit (250ms, 2s, 1m)"))
}

impl FromStr for Millis {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        parse(text, Duration::from_millis(1), "milliseconds").map(Self)
    }
}

impl FromStr for Seconds {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        parse(text, Duration::from_secs(1), "seconds").map(Self)
    }
}

/// With its unit, so that what is printed reads back the same
/// (`usctp run` passes the options on to the daemon it starts).
impl fmt::Display for Millis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_numbers_keep_their_unit_and_units_are_read() {
        let ms = |s: &str| s.parse::<Millis>().map(|d| d.0);
        assert_eq!(ms("100"), Ok(Duration::from_millis(100)));
        assert_eq!(ms("100ms"), Ok(Duration::from_millis(100)));
        assert_eq!(ms("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(ms("1m 30s"), Ok(Duration::from_secs(90)));
        assert_eq!(ms("1500us"), Ok(Duration::from_micros(1500)));
        assert_eq!(
            "30".parse::<Seconds>().map(|d| d.0),
            Ok(Duration::from_secs(30))
        );
        let e = ms("soon").unwrap_err();
        assert!(e.contains("give a number of milliseconds"), "{e}");
        assert!(ms("-5").is_err());
    }

    #[test]
    fn what_is_printed_reads_back_the_same() {
        for d in [
            Duration::from_millis(1000),
            Duration::from_millis(1500),
            Duration::from_micros(2500),
            Duration::from_secs(3600),
        ] {
            let printed = Millis(d).to_string();
            assert_eq!(printed.parse::<Millis>(), Ok(Millis(d)), "{printed}");
            let printed = Seconds(d).to_string();
            assert_eq!(printed.parse::<Seconds>(), Ok(Seconds(d)), "{printed}");
        }
        assert_eq!(Millis(Duration::from_millis(1000)).to_string(), "1s");
    }
}
