//! Keeps `docs/rfc9260-musts.md` — every MUST of RFC 9260 §§3–9 with the test that checks it or
//! the written reason it is not met — and the ETSI TS 102 369 list in `docs/conformance.md` in
//! step with the test suite.
//!
//! Each table row is `| id | § | requirement | evidence |`. The id is `M<section>-<n>` (for
//! example `M6.2-3`), unique, in document order. The evidence is either one or more test names in
//! backticks, each of which must exist as a `fn` under some crate's `tests/` or `src/`, or text
//! starting with `deviation:` or `not applicable:` followed by the reason. The summary line
//! `Totals: N requirements, T tested, D deviations, A not applicable.` must match the rows.
//! `MUSTS_TABLE=path cargo test --test rfc9260_musts` checks another file in the same form.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

const TABLE: &str = "docs/rfc9260-musts.md";
/// Where the tests named in the records live, below the workspace root.
const CRATES: [&str; 3] = ["crates/usctp-proto", "crates/usctp", "crates/usctp-cli"];

#[derive(Debug)]
enum Evidence {
    Tests(Vec<String>),
    Deviation,
    NotApplicable,
}

#[derive(Debug)]
struct Row {
    id: String,
    section: String,
    requirement: String,
    evidence: Evidence,
}

fn rows(text: &str) -> Vec<Row> {
    let mut rows = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if !line.starts_with("| M") {
            continue;
        }
        let cells: Vec<&str> = line.trim_matches('|').split(" | ").map(str::trim).collect();
        assert_eq!(cells.len(), 4, "a row needs four cells: {line}");
        let evidence = cells[3];
        let evidence = if let Some(reason) = evidence.strip_prefix("deviation:") {
            assert!(
                reason.split_whitespace().count() >= 4,
                "{}: a deviation needs its reason",
                cells[0]
            );
            Evidence::Deviation
        } else if let Some(reason) = evidence.strip_prefix("not applicable:") {
            assert!(
                reason.split_whitespace().count() >= 4,
                "{}: 'not applicable' needs its reason",
                cells[0]
            );
            Evidence::NotApplicable
        } else {
            let names: Vec<String> = evidence
                .split('`')
                .skip(1)
                .step_by(2)
                .map(|name| name.rsplit("::").next().unwrap_or(name).to_string())
                .collect();
            assert!(
                !names.is_empty(),
                "{}: evidence must name a test, or say deviation: / not applicable:",
                cells[0]
            );
            Evidence::Tests(names)
        };
        rows.push(Row {
            id: cells[0].to_string(),
            section: cells[1].to_string(),
            requirement: cells[2].to_string(),
            evidence,
        });
    }
    rows
}

/// Every `fn name` defined in the Rust files under `dir`.
fn functions(dir: &Path, into: &mut BTreeSet<String>) {
    for entry in fs::read_dir(dir).expect("readable directory") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            functions(&path, into);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = fs::read_to_string(&path).expect("readable source");
            for piece in text.split("fn ").skip(1) {
                let name: String = piece
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    into.insert(name);
                }
            }
        }
    }
}

/// `M6.2-3` → (`6.2`, 3).
fn parse_id(id: &str) -> (String, u32) {
    let rest = id.strip_prefix('M').expect("ids start with M");
    let (section, n) = rest.split_once('-').expect("ids look like M6.2-3");
    (
        section.to_string(),
        n.parse().expect("a number after the dash"),
    )
}

fn section_key(section: &str) -> Vec<u32> {
    section
        .split('.')
        .map(|p| p.parse().expect("numeric section"))
        .collect()
}

#[test]
fn every_must_of_sections_3_to_9_has_a_test_or_a_reason() {
    let root = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
    // MUSTS_TABLE checks a part of the table while it is being written.
    let part = std::env::var("MUSTS_TABLE").ok();
    let file = part.clone().unwrap_or_else(|| TABLE.to_string());
    let text = fs::read_to_string(root.join(&file)).expect("the MUST table exists");
    let rows = rows(&text);
    assert!(
        part.is_some() || rows.len() >= 100,
        "only {} rows",
        rows.len()
    );

    let mut defined = BTreeSet::new();
    for krate in CRATES {
        functions(&root.join(krate).join("tests"), &mut defined);
        functions(&root.join(krate).join("src"), &mut defined);
    }

    let mut ids = BTreeSet::new();
    let mut previous: Option<(Vec<u32>, u32)> = None;
    let (mut tested, mut deviations, mut not_applicable) = (0, 0, 0);
    for row in &rows {
        assert!(ids.insert(row.id.clone()), "{} appears twice", row.id);
        let (section, n) = parse_id(&row.id);
        assert_eq!(
            row.section,
            format!("§{section}"),
            "{}: the § column must match the id",
            row.id
        );
        let key = section_key(&section);
        assert!((3..=9).contains(&key[0]), "{}: outside §§3–9", row.id);
        if let Some(prev) = &previous {
            assert!((key.clone(), n) > *prev, "{} is out of order", row.id);
        }
        previous = Some((key, n));
        assert!(
            row.requirement.split_whitespace().count() >= 4,
            "{}: say the requirement",
            row.id
        );
        match &row.evidence {
            Evidence::Tests(names) => {
                for name in names {
                    assert!(defined.contains(name), "{}: no test named `{name}`", row.id);
                }
                tested += 1;
            }
            Evidence::Deviation => deviations += 1,
            Evidence::NotApplicable => not_applicable += 1,
        }
    }

    let expected = format!(
        "Totals: {} requirements, {tested} tested, {deviations} deviations, {not_applicable} not applicable.",
        rows.len()
    );
    assert!(
        text.contains(&expected),
        "the summary line must read: {expected}"
    );
}

#[test]
fn every_etsi_test_purpose_is_listed_with_its_test_and_result() {
    // docs/conformance.md lists each ETSI TS 102 369 purpose of the record
    // (docs/etsi-test-purposes.md) once, in its order, with the test named
    // after it, or "not applicable:" and a reason.
    let root = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
    let purposes: Vec<String> = fs::read_to_string(root.join("docs/etsi-test-purposes.md"))
        .expect("the ETSI record exists")
        .lines()
        .filter_map(|l| l.strip_prefix("| sctp-"))
        .map(|rest| format!("sctp-{}", rest.split('|').next().unwrap_or("").trim()))
        .collect();
    assert_eq!(purposes.len(), 121);
    let mut defined = BTreeSet::new();
    for krate in CRATES {
        functions(&root.join(krate).join("tests"), &mut defined);
    }
    let table = fs::read_to_string(root.join("docs/conformance.md")).expect("conformance.md");
    let mut listed = Vec::new();
    for line in table.lines().filter(|l| l.starts_with("| sctp-")) {
        let cells: Vec<&str> = line.trim_matches('|').split(" | ").map(str::trim).collect();
        assert_eq!(cells.len(), 3, "{line}");
        let id = cells[0];
        match cells[2] {
            "pass" => {
                let test = id.replace('-', "_");
                assert!(
                    cells[1].contains(&format!("`{test}`")) && defined.contains(&test),
                    "{id}: its test `{test}` must be named and exist"
                );
            }
            result => assert!(
                result
                    .strip_prefix("not applicable:")
                    .is_some_and(|r| r.split_whitespace().count() >= 4),
                "{id}: a result is pass, or not applicable with a reason"
            ),
        }
        listed.push(id.to_string());
    }
    assert_eq!(listed, purposes);
}
