//! The ETSI TS 102 369 record: which test purposes of
//! docs/etsi-test-purposes.md a conformance file tests, and which it lists
//! as not yet applicable.

/// Checks the ETSI record for `groups` against the tests in `source`:
/// NOT_YET names each purpose once, with a reason, none that is tested;
/// every purpose of these groups in docs/etsi-test-purposes.md is tested
/// (a `fn sctp_…(` in `source`) or listed, never both; there are
/// `expected` of them.
#[track_caller]
pub fn assert_record(source: &str, not_yet: &[(&str, &str)], groups: &[&str], expected: usize) {
    let mut listed = std::collections::HashSet::new();
    for (id, reason) in not_yet {
        assert!(listed.insert(*id), "{id} is listed twice");
        assert!(!reason.trim().is_empty(), "{id} has no reason");
        let function = format!("fn {}(", id.replace('-', "_"));
        assert!(
            !source.contains(&function),
            "{id} is both tested and listed as not yet applicable"
        );
    }
    let record = include_str!("../../../../docs/etsi-test-purposes.md");
    let mut seen = 0;
    for line in record.lines() {
        let Some(cell) = line.strip_prefix("| ") else {
            continue;
        };
        let id = cell.split('|').next().unwrap().trim();
        if !id.starts_with("sctp-") || !groups.contains(&id.split('-').nth(1).unwrap()) {
            continue;
        }
        seen += 1;
        let function = format!("fn {}(", id.replace('-', "_"));
        assert!(
            source.contains(&function) != listed.contains(id),
            "{id} must be either tested or listed, not both or neither"
        );
    }
    assert_eq!(seen, expected, "purposes of {groups:?} in the record");
    for (id, _) in not_yet {
        assert!(
            record.contains(&format!("| {id} |")),
            "{id} is not a test purpose of the record"
        );
    }
}
