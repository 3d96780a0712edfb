//! Every input a fuzz target once failed on, replayed through the same
//! harness the target uses (`fuzz/harness/`).

use arbitrary::{Arbitrary, Unstructured};

#[path = "../../../fuzz/harness/pair.rs"]
mod pair;

fn inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = format!(
        "{}/../../fuzz/regressions/{target}",
        env!("CARGO_MANIFEST_DIR")
    );
    if !std::path::Path::new(&dir).exists() {
        return Vec::new(); // the target has found nothing yet
    }
    let mut found: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .map(|entry| {
            let path = entry.expect("directory entry").path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&path).expect("readable input"))
        })
        .collect();
    found.sort();
    found
}

#[test]
fn pair_regressions_replay_clean() {
    let found = inputs("pair");
    assert!(!found.is_empty(), "no pair regressions found");
    for (name, bytes) in found {
        eprintln!("replaying pair/{name}");
        let ops = Vec::<pair::Op>::arbitrary_take_rest(Unstructured::new(&bytes)).expect("decodes");
        pair::run(ops);
    }
}

/// The `pair_established` target's findings, and the `pair` target's too,
/// replayed from the snapshot of the pair with its association up.
#[test]
fn pair_inputs_replay_clean_from_the_established_snapshot() {
    let mut found = inputs("pair");
    found.extend(inputs("pair_established"));
    for (name, bytes) in found {
        eprintln!("replaying {name} from the established pair");
        let ops = Vec::<pair::Op>::arbitrary_take_rest(Unstructured::new(&bytes)).expect("decodes");
        pair::run_established(ops);
    }
}
