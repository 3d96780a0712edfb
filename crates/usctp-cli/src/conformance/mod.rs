//! `usctp conformance`: the ETSI TS 102 369 test purposes played
//! black-box over UDP (RFC 6951) against any SCTP implementation.
//!
//! The implementation under test (the IUT) runs an echo service: every
//! message back on its stream, with its PPID and unordered flag. The tester
//! plays the peer's side of each purpose with packets it builds itself
//! (`wire`), and judges the IUT by what comes back on the wire against the
//! requirement of RFC 9260 the purpose checks. Purposes are named by their
//! ids as the nplab suite names them (docs/etsi-test-purposes.md).

mod ack;
mod client;
mod data;
mod setup;
mod teardown;
mod wire;

use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use serde::Serialize;
use usctp::capture::Recorder;
use usctp::proto::random::Random;

pub use wire::Timing;
use wire::Wire;

/// The verdict on one purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// The IUT did what the requirement says.
    Pass,
    /// It did not; the reason says what it did instead.
    Fail,
    /// The purpose was not played (what it needs is missing).
    Skip,
    /// The tester could not tell (a local error, say).
    Inconclusive,
}

impl Verdict {
    fn word(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail => "FAIL",
            Self::Skip => "skip",
            Self::Inconclusive => "inconclusive",
        }
    }
}

/// A verdict with its one-line reason.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The verdict.
    pub verdict: Verdict,
    /// Why, in one line.
    pub why: String,
}

impl Outcome {
    /// The IUT failed the purpose.
    pub fn fail(why: impl Into<String>) -> Self {
        Self {
            verdict: Verdict::Fail,
            why: why.into(),
        }
    }

    fn new(verdict: Verdict, why: impl Into<String>) -> Self {
        Self {
            verdict,
            why: why.into(),
        }
    }
}

/// A purpose played against the IUT: `Ok` with what it saw when the IUT
/// passed, `Err` with the verdict otherwise.
pub type Play = fn(&mut Wire) -> Result<String, Outcome>;

/// What a purpose needs to be played.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// The IUT listening: played by default.
    Server(Play),
    /// The IUT listening, and a second local address for the tester.
    MultiHomed(Play),
    /// Waits for the IUT to give up after all its retransmissions, or for
    /// its cookie to go stale: played with `--long`.
    Long(Play),
    /// The IUT acting on its own: starting an association (the client
    /// role) or closing one; played with `--client-cmd`.
    Client(Play),
    /// The same, waiting for the IUT to give up: with `--client-cmd` and
    /// `--long`.
    ClientLong(Play),
    /// Cannot be judged on the wire: the reason.
    Off(&'static str),
}

/// One ETSI TS 102 369 test purpose.
#[derive(Debug, Clone, Copy)]
pub struct Purpose {
    /// Its id, as the nplab suite names it (`sctp-as-v-1-1-2`).
    pub id: &'static str,
    /// What the IUT must do, in a few words.
    pub checks: &'static str,
    /// The RFC 9260 section behind it.
    pub requirement: &'static str,
    /// How it is played.
    pub kind: Kind,
}

/// The purposes' tables are built with this.
const fn purpose(
    id: &'static str,
    checks: &'static str,
    requirement: &'static str,
    kind: Kind,
) -> Purpose {
    Purpose {
        id,
        checks,
        requirement,
        kind,
    }
}

impl Purpose {
    /// Its group (`as`, `imh`, …).
    pub fn group(&self) -> &'static str {
        self.id.split('-').nth(1).unwrap_or("")
    }
}

/// Every purpose, in the order of docs/etsi-test-purposes.md.
pub fn purposes() -> Vec<Purpose> {
    let mut all = Vec::new();
    all.extend_from_slice(setup::AS);
    all.extend_from_slice(teardown::AT);
    all.extend_from_slice(setup::IMH);
    all.extend_from_slice(teardown::DM);
    all.extend_from_slice(teardown::FH);
    all.extend_from_slice(data::E);
    all.extend_from_slice(data::BDC);
    all.extend_from_slice(data::D);
    all.extend_from_slice(ack::A);
    all.extend_from_slice(ack::M);
    all.extend_from_slice(teardown::RT);
    all
}

/// What `usctp conformance` was asked.
#[derive(Debug, Clone)]
pub struct Options {
    /// The IUT's UDP address.
    pub target: SocketAddr,
    /// The IUT's SCTP port (its echo service).
    pub port: u16,
    /// Groups, ids or id prefixes to play (all when empty).
    pub only: Vec<String>,
    /// List the purposes instead of playing them.
    pub list: bool,
    /// The seed of the tester's tags, TSNs and ports.
    pub seed: u64,
    /// Play the long purposes too.
    pub long: bool,
    /// A second local address for the multi-homed purposes.
    pub alternate: Option<IpAddr>,
    /// How long the tester waits.
    pub timing: Timing,
    /// Print one JSON document instead of the table.
    pub json: bool,
    /// Record the whole run.
    pub pcap: Option<PathBuf>,
    /// The command that starts the IUT as a client of the tester.
    pub client_cmd: Option<String>,
}

#[derive(Debug, Serialize)]
struct Report<'a> {
    id: &'a str,
    group: &'a str,
    verdict: Verdict,
    why: &'a str,
    checks: &'a str,
    requirement: &'a str,
    seconds: f64,
}

#[derive(Debug, Serialize)]
struct Summary<'a> {
    target: String,
    sctp_port: u16,
    seed: u64,
    passed: usize,
    failed: usize,
    skipped: usize,
    inconclusive: usize,
    purposes: Vec<Report<'a>>,
}

/// Plays the purposes asked for and reports them; returns whether none
/// failed.
pub fn run(options: &Options) -> anyhow::Result<bool> {
    let chosen = choose(&purposes(), &options.only)?;
    if options.list {
        for p in &chosen {
            say!(
                "{:<18} {:<10} {}  [{}]",
                p.id,
                kind_word(p.kind),
                p.checks,
                p.requirement
            );
        }
        return Ok(true);
    }
    let capture = match &options.pcap {
        Some(path) => Some(Arc::new(
            Recorder::create(path).with_context(|| format!("creating {}", path.display()))?,
        )),
        None => None,
    };
    let local = local_address(options.target)?;
    let alternate = options
        .alternate
        .or_else(|| default_alternate(options.target.ip()));
    if !options.json {
        say!(
            "usctp conformance: {} SCTP port {}, seed {} ({} purposes)",
            options.target,
            options.port,
            options.seed,
            chosen.len()
        );
    }
    let mut reports = Vec::new();
    let mut outcomes = Vec::new();
    for purpose in &chosen {
        let started = wire::now();
        let outcome = play(purpose, options, local, alternate, capture.clone());
        let seconds = started.elapsed().as_secs_f64();
        if !options.json {
            say!(
                "{:<18} {:<5} {}  [{}]",
                purpose.id,
                outcome.verdict.word(),
                outcome.why,
                purpose.requirement
            );
        }
        outcomes.push((outcome, seconds));
    }
    for (purpose, (outcome, seconds)) in chosen.iter().zip(&outcomes) {
        reports.push(Report {
            id: purpose.id,
            group: purpose.group(),
            verdict: outcome.verdict,
            why: &outcome.why,
            checks: purpose.checks,
            requirement: purpose.requirement,
            seconds: (seconds * 1000.0).round() / 1000.0,
        });
    }
    let count = |v| reports.iter().filter(|r| r.verdict == v).count();
    let summary = Summary {
        target: options.target.to_string(),
        sctp_port: options.port,
        seed: options.seed,
        passed: count(Verdict::Pass),
        failed: count(Verdict::Fail),
        skipped: count(Verdict::Skip),
        inconclusive: count(Verdict::Inconclusive),
        purposes: reports,
    };
    if options.json {
        let mut out = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut out, &summary)?;
        let _ = writeln!(out);
    } else {
        say!(
            "{} passed, {} failed, {} skipped, {} inconclusive",
            summary.passed,
            summary.failed,
            summary.skipped,
            summary.inconclusive
        );
    }
    // Every wire has joined its threads: this is the last reference, and
    // dropping it writes out what is queued.
    drop(capture);
    Ok(summary.failed == 0)
}

fn kind_word(kind: Kind) -> &'static str {
    match kind {
        Kind::Server(_) => "server",
        Kind::MultiHomed(_) => "multi-homed",
        Kind::Long(_) => "long",
        Kind::Client(_) => "client",
        Kind::ClientLong(_) => "client-long",
        Kind::Off(_) => "off-wire",
    }
}

/// The purposes `only` names: groups (`AS`), ids, or id prefixes.
fn choose(all: &[Purpose], only: &[String]) -> anyhow::Result<Vec<Purpose>> {
    if only.is_empty() {
        return Ok(all.to_vec());
    }
    let mut chosen = Vec::new();
    for name in only.iter().flat_map(|s| s.split(',')) {
        let name = name.trim().to_ascii_lowercase();
        let before = chosen.len();
        for p in all {
            let hit = p.group() == name || p.id == name || p.id.starts_with(&name);
            if hit && !chosen.iter().any(|c: &Purpose| c.id == p.id) {
                chosen.push(*p);
            }
        }
        anyhow::ensure!(
            chosen.len() > before
                || all
                    .iter()
                    .any(|p| p.id.starts_with(&name) || p.group() == name),
            "no test purpose or group is named {name:?} (see --list)"
        );
    }
    // In the record's order, whatever the order asked.
    chosen.sort_by_key(|c| all.iter().position(|p| p.id == c.id));
    Ok(chosen)
}

fn play(
    purpose: &Purpose,
    options: &Options,
    local: IpAddr,
    alternate: Option<IpAddr>,
    capture: Option<Arc<Recorder>>,
) -> Outcome {
    let (play, alternates): (Play, Vec<IpAddr>) = match purpose.kind {
        Kind::Server(play) => (play, Vec::new()),
        Kind::Long(play) if options.long => (play, Vec::new()),
        Kind::Long(_) => {
            return Outcome::new(
                Verdict::Skip,
                "waits for the IUT to give up: run with --long",
            );
        }
        Kind::MultiHomed(play) => match alternate {
            Some(ip) => (play, vec![ip]),
            None => {
                return Outcome::new(
                    Verdict::Skip,
                    "needs a second local address for the tester: --alternate IP",
                );
            }
        },
        Kind::Client(play) if options.client_cmd.is_some() => (play, Vec::new()),
        Kind::ClientLong(play) if options.client_cmd.is_some() && options.long => {
            (play, Vec::new())
        }
        Kind::Client(_) | Kind::ClientLong(_) if options.client_cmd.is_none() => {
            return Outcome::new(
                Verdict::Skip,
                "needs the IUT to start or close an association itself: give --client-cmd",
            );
        }
        Kind::ClientLong(_) | Kind::Client(_) => {
            return Outcome::new(
                Verdict::Skip,
                "waits for the IUT to give up: run with --long",
            );
        }
        Kind::Off(reason) => return Outcome::new(Verdict::Skip, reason),
    };
    // The run's seed and the purpose's id: a purpose gets the same tags,
    // TSNs and port under a seed whichever others are played with it.
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&options.seed.to_le_bytes());
    let id = &purpose.id.as_bytes()[..purpose.id.len().min(24)];
    seed[8..8 + id.len()].copy_from_slice(id);
    let mut wire = match Wire::new(
        local,
        &alternates,
        options.target,
        options.port,
        options.timing,
        Random::from_seed(seed),
        capture,
    ) {
        Ok(wire) => wire,
        Err(e) => {
            return Outcome::new(Verdict::Inconclusive, format!("the tester's sockets: {e}"));
        }
    };
    wire.client_cmd.clone_from(&options.client_cmd);
    match play(&mut wire) {
        Ok(why) => Outcome::new(Verdict::Pass, why),
        Err(outcome) => outcome,
    }
}

/// The local address the system routes to the IUT from.
fn local_address(target: SocketAddr) -> anyhow::Result<IpAddr> {
    let any: SocketAddr = if target.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let probe = UdpSocket::bind(any)?;
    probe
        .connect(target)
        .with_context(|| format!("no route to {target}"))?;
    Ok(probe.local_addr()?.ip())
}

/// On IPv4 loopback every 127/8 address is local: the tester takes a
/// second one next to the IUT's.
fn default_alternate(iut: IpAddr) -> Option<IpAddr> {
    match iut {
        IpAddr::V4(v4) if v4.is_loopback() => {
            let [a, b, c, d] = v4.octets();
            let d = if d == 250 { 251 } else { 250 };
            Some(IpAddr::V4(Ipv4Addr::new(a, b, c, d)))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tester names every purpose of docs/etsi-test-purposes.md, once,
    /// in its order, and no other.
    #[test]
    fn the_tester_has_every_purpose_of_the_record() {
        let record = include_str!("../../../../docs/etsi-test-purposes.md");
        let ids: Vec<&str> = record
            .lines()
            .filter_map(|l| l.strip_prefix("| sctp-"))
            .map(|l| l.split('|').next().unwrap_or("").trim())
            .collect();
        let ours: Vec<String> = purposes()
            .iter()
            .map(|p| p.id.trim_start_matches("sctp-").to_string())
            .collect();
        assert_eq!(ids.len(), 121);
        assert_eq!(ours, ids);
        for p in purposes() {
            assert!(
                p.requirement.starts_with('§'),
                "{}: {}",
                p.id,
                p.requirement
            );
            assert!(!p.checks.is_empty(), "{}", p.id);
        }
    }

    #[test]
    fn purposes_are_chosen_by_group_id_or_prefix_in_record_order() {
        let all = purposes();
        let by_group = choose(&all, &["IMH".into()]).unwrap();
        assert_eq!(by_group.len(), 10);
        assert!(by_group.iter().all(|p| p.group() == "imh"));
        let mixed = choose(&all, &["sctp-m-i-10-2,sctp-as-v-1-1-2".into()]).unwrap();
        let ids: Vec<_> = mixed.iter().map(|p| p.id).collect();
        assert_eq!(ids, ["sctp-as-v-1-1-2", "sctp-m-i-10-2"]);
        assert_eq!(choose(&all, &["sctp-fh-o".into()]).unwrap().len(), 5);
        let e = choose(&all, &["sctp-zz".into()]).unwrap_err();
        assert!(e.to_string().contains("sctp-zz"), "{e}");
    }
}
